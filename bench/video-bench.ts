/**
 * Per-frame cost of tracking a video with the real predictor: greedy SAM 2 and the SAM2Long tree at several
 * P, one object prompted with a point on frame 0. A frame's time is the interval between the predictor
 * asking for its input and asking for the next frame's (the last frame: until propagation ends, hindsight
 * trace-back included). "Steady" is the median over frames once the memory bank is full.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Sam2Model } from '../src/model/sam2.js';
import type { FrameProvider } from '../src/predictor/video-state.js';
import type { TreeStepInfo } from '../src/tree/options.js';
import { VideoPredictor } from '../src/predictor/video-predictor.js';
import { encodeBatchSize } from '../src/predictor/frame-batches.js';
import { GoldenFrames } from '../test/helpers/video.js';
import { countRun, perUnit, type Counts } from './counters.js';
import { elapsed, median, memorySnapshot, stamp, type MemorySnapshot, type Stamp } from './measure.js';
import { GOLDEN, SyntheticVideo, benchModel, type BenchModelName } from './synthetic.js';

/** 'greedy' or the number of tree paths P. */
export type VideoMode = 'greedy' | number;

export interface VideoRunResult {
  mode: string;
  frames: number;
  /** Runs of this mode, interleaved with the other modes' runs; per-frame times are medians over them. */
  reps: number;
  /** Mean wall time over every tracked frame (the prompt frame excluded). */
  msPerFrame: number;
  /**
   * Wall time per frame once the memory bank is full (frames ≥ steadyFrom): on host backends the median over
   * those frames, the last excluded; on GPU backends their total over their number, the last included (see
   * `steadyRule`).
   */
  steadyMsPerFrame: number;
  /** The same two in this process's CPU time (see measure.ts `Stamp`). */
  cpuMsPerFrame: number;
  steadyCpuMsPerFrame: number;
  frameMs: number[];
  frameCpuMs: number[];
  /** Rows the tracking steps decoded per frame (P, or fewer when identical paths are decoded once). */
  decodedRowsPerFrame: number;
  /** Rows the memory encoder ran on per frame. */
  encodedRowsPerFrame: number;
  /** Tree only: recent memory frames a path read (besides the conditioning frame) on steady frames, on average. */
  memoryFramesPerPath: number | null;
  /** Tensors alive after the run minus before it (0 = nothing leaked). */
  tensorsLeaked: number;
  /** Kernels, GPU programs and host reads per tracked frame (the first run's; they are deterministic). */
  countsPerFrame: Counts;
  memoryAfter: MemorySnapshot;
}

/**
 * How "steady" is summarised. 'median': the median frame, robust to a slow spell of a shared machine; right
 * where each frame's work runs while that frame is timed (wasm, cpu, tensorflow). 'span mean': the steady
 * frames' total over their number; needed on GPU backends, where frames are encoded k at a time ahead of
 * tracking and a frame's output is read while the next one computes, so the work lands on a few frames (a
 * median there measured 2 ms against a 7.9 s mean).
 */
export type SteadyRule = 'median' | 'span mean';

export interface VideoBenchResult {
  model: BenchModelName;
  video: string;
  imageSize: number;
  backend: string;
  steadyFrom: number;
  steadyRule: SteadyRule;
  runs: VideoRunResult[];
  /** P=3 ms/frame over greedy's over every tracked frame (when both ran). */
  p3OverGreedyAllFrames: number | null;
  /** P=3 steady ms/frame over greedy's, wall and CPU time. */
  p3OverGreedy: number | null;
  p3OverGreedyCpu: number | null;
}

export interface VideoBenchOptions {
  model: BenchModelName;
  /** Image size of the tiny model (the mini model is 256). */
  imageSize: number;
  /** Synthetic video length; for the mini model (golden video1) the first frames only, 0 = all. */
  frames: number;
  modes: VideoMode[];
  /**
   * Runs of each mode, interleaved (greedy, P=1, …, greedy, P=1, …): a slow spell of a shared machine then
   * touches every mode alike. Each frame's time is the median over the runs.
   */
  reps?: number;
  log?: (line: string) => void;
}

/** The positive point of video1's golden point prompt (on frame 0). */
function goldenPromptPoint(): [number, number] {
  const p = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'video1/prompt_point.json'), 'utf8')) as { frame: number; points: [number, number][] };
  if (p.frame !== 0) throw new Error('video1 prompt_point.json: the benchmark prompts frame 0');
  return p.points[0];
}

/** Records when each frame's input is first asked for. */
class TimedFrames implements FrameProvider {
  readonly requested = new Map<number, Stamp>();
  constructor(private readonly inner: FrameProvider) {}
  get numFrames() { return this.inner.numFrames; }
  get width() { return this.inner.width; }
  get height() { return this.inner.height; }
  input(i: number): Promise<tf.Tensor4D> {
    if (!this.requested.has(i)) this.requested.set(i, stamp());
    return this.inner.input(i);
  }
  has(i: number): Promise<boolean> { return this.inner.has(i); }
  name(i: number): string { return this.inner.name(i); }
}

/** Counts the batch rows of every trackStep / encodeMemory call while `fn` runs. */
async function countRows<T>(model: Sam2Model, fn: () => Promise<T>): Promise<{ value: T; decoded: number; encoded: number }> {
  const { trackStep, encodeMemory } = model;
  let decoded = 0;
  let encoded = 0;
  model.trackStep = (features, memories, ...rest) => {
    decoded += memories.length;
    return trackStep.call(model, features, memories, ...rest);
  };
  model.encodeMemory = (features, masks, ...rest) => {
    encoded += masks.shape[0];
    return encodeMemory.call(model, features, masks, ...rest);
  };
  try {
    return { value: await fn(), decoded, encoded };
  } finally {
    model.trackStep = trackStep;
    model.encodeMemory = encodeMemory;
  }
}

async function runVideo(model: Sam2Model, video: FrameProvider, prompt: [number, number], mode: VideoMode, steadyFrom: number): Promise<VideoRun> {
  const tensorsBefore = tf.memory().numTensors;
  const frames = new TimedFrames(video);
  const memoryFrames: number[] = [];
  const onStep = (step: TreeStepInfo) => {
    if (step.frame >= steadyFrom) memoryFrames.push(...step.selections.map((sel) => sel.memoryFrames.length));
  };
  const predictor = new VideoPredictor(model, { tree: mode === 'greedy' ? false : { pathways: mode, onStep } });
  const state = await predictor.initState(frames);
  await predictor.addPoints(state, { frame: 0, objId: 1, points: [prompt], labels: [1] });
  const { value: { value: end, decoded, encoded }, counts } = await countRun(() => countRows(model, async () => {
    // As an application that keeps the final masks does (the CLI writes those): SAM2Long's provisional ones go unread.
    for await (const r of predictor.propagate(state)) if (r.final) void r.masks;
    return stamp();
  }));
  state.dispose();
  const n = video.numFrames;
  const frameTimes = Array.from({ length: n - 1 }, (_, k) => elapsed(frames.requested.get(k + 1)!, k + 2 < n ? frames.requested.get(k + 2)! : end));
  return {
    mode: mode === 'greedy' ? 'greedy' : `P=${mode}`,
    frameWall: frameTimes.map((t) => t.wall),
    frameCpu: frameTimes.map((t) => t.cpu),
    decoded, encoded, memoryFrames,
    tensorsLeaked: tf.memory().numTensors - tensorsBefore,
    countsPerFrame: perUnit(counts, video.numFrames - 1),
  };
}

/** What one run of one mode measured. */
interface VideoRun {
  mode: string;
  /** Per tracked frame (frame 1 on). */
  frameWall: number[];
  frameCpu: number[];
  decoded: number;
  encoded: number;
  memoryFrames: number[];
  tensorsLeaked: number;
  countsPerFrame: Counts;
}

/** Runs of one mode combined: per-frame medians, then the summary of those. */
function summariseRuns(runs: VideoRun[], numFrames: number, steadyFrom: number, rule: SteadyRule): VideoRunResult {
  const tracked = numFrames - 1;
  const perFrame = (of: (r: VideoRun) => number[]) => Array.from({ length: tracked }, (_, k) => median(runs.map((r) => of(r)[k])));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const summary = (all: number[]) => {
    const fromFull = all.slice(Math.max(0, steadyFrom - 1));
    const steady = rule === 'median'
      ? median(fromFull.length > 1 ? fromFull.slice(0, -1) : all)
      : mean(fromFull.length ? fromFull : all);
    return { mean: mean(all), steady, all: all.map(Math.round) };
  };
  const wall = summary(perFrame((r) => r.frameWall));
  const cpu = summary(perFrame((r) => r.frameCpu));
  const memoryFrames = runs[0].memoryFrames;
  return {
    mode: runs[0].mode,
    frames: numFrames,
    reps: runs.length,
    msPerFrame: wall.mean,
    steadyMsPerFrame: wall.steady,
    cpuMsPerFrame: cpu.mean,
    steadyCpuMsPerFrame: cpu.steady,
    frameMs: wall.all,
    frameCpuMs: cpu.all,
    decodedRowsPerFrame: runs[0].decoded / tracked,
    // The prompt frame's memory is encoded once at the start of propagation.
    encodedRowsPerFrame: (runs[0].encoded - 1) / tracked,
    memoryFramesPerPath: memoryFrames.length ? memoryFrames.reduce((a, b) => a + b, 0) / memoryFrames.length : null,
    tensorsLeaked: Math.max(...runs.map((r) => r.tensorsLeaked)),
    countsPerFrame: runs[0].countsPerFrame,
    memoryAfter: memorySnapshot(),
  };
}

async function warmUp(model: Sam2Model, video: FrameProvider, prompt: [number, number]): Promise<void> {
  const predictor = new VideoPredictor(model);
  const state = await predictor.initState(video);
  await predictor.addPoints(state, { frame: 0, objId: 1, points: [prompt], labels: [1] });
  for await (const r of predictor.propagate(state, { maxFrames: 2 })) void r;
  state.dispose();
}

export async function benchVideo(opts: VideoBenchOptions): Promise<VideoBenchResult> {
  const log = opts.log ?? (() => undefined);
  const model = await benchModel(opts.model, opts.imageSize);
  const mini = opts.model === 'mini';
  const synthetic = new SyntheticVideo(opts.frames, opts.imageSize);
  const video: FrameProvider = mini ? new GoldenFrames('video1', opts.frames > 0 ? opts.frames : undefined) : synthetic;
  const disc = synthetic.disc(0);
  const prompt = mini ? goldenPromptPoint() : [disc.x, disc.y] as [number, number];
  // The bank is full once num_maskmem − 1 frames have been tracked after the prompt frame.
  const steadyFrom = model.config.num_maskmem;
  // Batched encoding goes with the GPU backends' pipelined reads (predictor/frame-batches.ts).
  const steadyRule: SteadyRule = encodeBatchSize(model) > 1 ? 'span mean' : 'median';
  const runs: VideoRunResult[] = [];
  try {
    // A short warm-up: first calls grow the wasm heap and fill the model's caches.
    await warmUp(model, video, prompt);
    const byMode = opts.modes.map((): VideoRun[] => []);
    for (let rep = 0; rep < (opts.reps ?? 1); rep++) {
      for (const [i, mode] of opts.modes.entries()) byMode[i].push(await runVideo(model, video, prompt, mode, steadyFrom));
    }
    for (const modeRuns of byMode) {
      const r = summariseRuns(modeRuns, video.numFrames, steadyFrom, steadyRule);
      runs.push(r);
      log(`  ${r.mode}: ${r.msPerFrame.toFixed(0)} ms/frame, steady ${r.steadyMsPerFrame.toFixed(0)} ms/frame (cpu ${r.steadyCpuMsPerFrame.toFixed(0)}), ${r.decodedRowsPerFrame.toFixed(2)} rows decoded/frame, `
        + `${r.countsPerFrame.kernels.toFixed(0)} kernels/frame, ${r.countsPerFrame.reads.toFixed(1)} host reads/frame, ${r.reps} run(s)`);
    }
  } finally {
    model.dispose();
  }
  const greedy = runs.find((r) => r.mode === 'greedy');
  const p3 = runs.find((r) => r.mode === 'P=3');
  return {
    model: opts.model,
    video: mini ? `golden video1, ${video.numFrames} frames (prompt_point.json)` : `synthetic moving disc, ${opts.frames} frames`,
    imageSize: model.config.image_size,
    backend: tf.getBackend(),
    steadyFrom,
    steadyRule,
    runs,
    p3OverGreedyAllFrames: greedy && p3 ? p3.msPerFrame / greedy.msPerFrame : null,
    p3OverGreedy: greedy && p3 ? p3.steadyMsPerFrame / greedy.steadyMsPerFrame : null,
    p3OverGreedyCpu: greedy && p3 ? p3.steadyCpuMsPerFrame / greedy.steadyCpuMsPerFrame : null,
  };
}
