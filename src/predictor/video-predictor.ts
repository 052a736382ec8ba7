/**
 * The video predictor: frames in, prompts on any frame, propagation through the video. It keeps the prompts
 * and the state, and hands propagation to a tracker: greedy SAM 2 (official SAM2VideoPredictor semantics) or,
 * with `tree`, the SAM2Long memory tree. Several objects are one batch dimension of every model call.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { objectPointerLimit, type Sam2ModelConfig } from '../config.js';
import { InputError } from '../errors.js';
import type { Sam2Model } from '../model/sam2.js';
import { pointPrompt } from '../model/prompt-encoder.js';
import type { LowResHeadsOutput } from '../model/sam-heads.js';
import { encodeBatchSize, FrameBatches } from './frame-batches.js';
import { SourceFrames } from './frame-provider.js';
import type { FrameInput, FrameSource } from '../io/frame-source.js';
import { VideoState, disposeOutput, type FramePipeline, type FrameProvider, type ObjectState, type PipelinePlan, type StoredOutput, type PointsInput } from './video-state.js';
import { upsampleLogits, scalePoints } from './transforms.js';
import { resolveTreeOptions, type TreeOptions } from '../tree/options.js';
import { frameResult, readFrameResults, type FrameResult, type MaskPick } from './frame-results.js';
import { readTogether } from '../ops/host-read.js';
import { GreedyTracker, greedyMemories, storedLowRes } from './greedy-tracker.js';
import { TreeTracker } from './tree-tracker.js';
import type { Tracker } from './tracker.js';
import { resizeBilinearAntialias } from '../ops/resize.js';

export type { FrameResult };

export type FramesInput = string | readonly FrameInput[] | AsyncIterable<FrameInput> | FrameSource | FrameProvider;

function isFrameProvider(f: FramesInput): f is FrameProvider {
  return typeof (f as FrameProvider).input === 'function' && typeof (f as FrameProvider).has === 'function';
}

function isFrameSource(f: FramesInput): f is FrameSource {
  return typeof (f as FrameSource).frame === 'function' && typeof (f as FrameSource).name === 'function';
}

export interface VideoPredictorOptions {
  /** SAM2Long memory tree; false or omitted = plain SAM 2 greedy tracking. */
  tree?: Partial<TreeOptions> | false;
  /** Fill background holes up to this area (pixels of the low-res mask); 0 = off (default). */
  fillHoleArea?: number;
  /**
   * Encode the next frame in a worker thread while the current one is tracked (Node, two cores). 'auto'
   * (default): on for the cpu backend and single-threaded wasm at image_size ≥ 512, where encoding a frame
   * costs more than starting a worker; off in a browser, and for multi-threaded wasm, whose threads already
   * use every core. true: always (a WorkerError if no worker can start).
   */
  pipeline?: boolean | 'auto';
  /**
   * Frames encoded per image-encoder run during propagation (the frame tracked next and the ones after it,
   * kept until tracked). 'auto' (default): on GPU backends as many as the binding limit allows, up to 8
   * (see predictor/frame-batches.ts); 1 on wasm and cpu. A number forces it on any backend. Unused while
   * the encoder worker (`pipeline`) runs.
   */
  encodeBatch?: number | 'auto';
}

/** Below this image size a frame encodes faster than a worker starts. */
const AUTO_PIPELINE_MIN_IMAGE_SIZE = 512;

/** Whether the current backend computes on one core, leaving the others idle for a pipeline worker. */
function singleThreaded(): boolean {
  const backend = tf.getBackend();
  return backend === 'cpu' || (backend === 'wasm' && getThreadsCount() <= 1);
}

export interface PointsPrompt {
  frame: number;
  objId: number;
  /** Video-pixel (x, y) coordinates. */
  points: [number, number][];
  /** 1 positive, 0 negative. */
  labels: number[];
  clearOld?: boolean;
}

export interface BoxPrompt {
  frame: number;
  objId: number;
  /** [x0, y0, x1, y1] in video pixels. */
  box: [number, number, number, number];
  points?: [number, number][];
  labels?: number[];
}

export interface MaskPrompt {
  frame: number;
  objId: number;
  /** Binary mask at video resolution (row-major, non-zero = object). */
  mask: Uint8Array | boolean[];
}

export interface PropagateOptions {
  startFrame?: number;
  reverse?: boolean;
  maxFrames?: number;
}

export class VideoPredictor {
  readonly treeOptions: TreeOptions | null;

  constructor(readonly model: Sam2Model, readonly options: VideoPredictorOptions = {}) {
    this.treeOptions = options.tree ? resolveTreeOptions(options.tree) : null;
  }

  /** Loads a `.safetensors` (+ its `.json`) or an official `.pt` checkpoint (Node). */
  static async fromCheckpoint(file: string, options: VideoPredictorOptions & { config?: string } = {}): Promise<VideoPredictor> {
    const { loadSam2 } = await import('../node/load.js');
    return new VideoPredictor(await loadSam2(file, { config: options.config }), options);
  }

  get config(): Sam2ModelConfig {
    return this.model.config;
  }

  /**
   * A new inference state over `frames`: a directory of JPEG/PNG frames (sorted numerically), an array of
   * images (paths, encoded bytes, RGB(A) pixels, [H, W, 3] tensors), an async iterable of them (streamed:
   * each frame is decoded when tracking reaches it), a FrameSource or a ready FrameProvider.
   */
  async initState(frames: FramesInput): Promise<VideoState> {
    if (isFrameProvider(frames)) return new VideoState(frames);
    const source = isFrameSource(frames) ? frames : (await import('../node/frames.js')).frameSource(frames);
    return new VideoState(await SourceFrames.open(source, this.config.image_size));
  }

  resetState(state: VideoState): void {
    state.reset();
  }

  async addPoints(state: VideoState, p: PointsPrompt): Promise<FrameResult> {
    checkPoints(state, p.points, p.labels, [0, 1]);
    return this.addPointInputs(state, p.frame, p.objId, p.points, p.labels, p.clearOld ?? true);
  }

  async addBox(state: VideoState, p: BoxPrompt): Promise<FrameResult> {
    const [x0, y0, x1, y1] = p.box;
    if (!(x1 > x0 && y1 > y0)) throw new InputError(`box [${p.box.join(', ')}] must have x1 > x0 and y1 > y0`);
    const extra = p.points ?? [];
    const extraLabels = p.labels ?? [];
    checkPoints(state, [[x0, y0], [x1, y1], ...extra], [2, 3, ...extraLabels], [0, 1, 2, 3]);
    return this.addPointInputs(state, p.frame, p.objId, [[x0, y0], [x1, y1], ...extra], [2, 3, ...extraLabels], true);
  }

  async addMask(state: VideoState, p: MaskPrompt): Promise<FrameResult> {
    state.checkFrame(p.frame);
    const { width, height } = state.frames;
    if (p.mask.length !== width * height) {
      throw new InputError(`mask has ${p.mask.length} pixels, expected ${height}×${width} = ${width * height} (the video size)`);
    }
    const obj = state.object(p.objId, true);
    const s = this.config.image_size;
    const maskS = tf.tidy(() => {
      const m = tf.tensor(Uint8Array.from(p.mask as ArrayLike<number>, (v) => (v ? 1 : 0)), [1, height, width, 1], 'float32');
      if (height === s && width === s) return tf.reshape(m, [s, s]) as tf.Tensor2D;
      const resized = resizeBilinearAntialias(m as tf.Tensor4D, s, s);
      return tf.reshape(tf.cast(tf.greaterEqual(resized, 0.5), 'float32'), [s, s]) as tf.Tensor2D;
    });
    obj.points.delete(p.frame);
    const features = await state.features(p.frame, (img) => this.model.encodeImage(img));
    const out = tf.tidy(() => this.model.maskAsOutput(features, tf.reshape(maskS, [1, s, s, 1]) as tf.Tensor4D));
    maskS.dispose();
    await this.storeTemp(obj, p.frame, out);
    return this.promptResult(state, p.frame);
  }

  private async addPointInputs(state: VideoState, frame: number, objId: number, points: [number, number][], labels: number[], clearOld: boolean): Promise<FrameResult> {
    state.checkFrame(frame);
    const obj = state.object(objId, true);
    const scaled = scalePoints(points, state.frames, this.config.image_size);
    const old = clearOld ? undefined : obj.points.get(frame);
    const input: PointsInput = { coords: [...(old?.coords ?? []), ...scaled], labels: [...(old?.labels ?? []), ...labels] };
    obj.points.set(frame, input);

    const isInit = !obj.tracked.has(frame);
    const prev = obj.temp.get(frame) ?? obj.cond.get(frame) ?? obj.nonCond.get(frame);
    const features = await state.features(frame, (img) => this.model.encodeImage(img));
    const multimask = this.model.useMultimask(isInit, input.labels.length);
    const out = tf.tidy(() => {
      const prompt = pointPrompt(input.coords.flat(), input.labels);
      const maskInputs = prev ? (tf.reshape(tf.clipByValue(prev.predMasks, -32, 32), [1, ...prev.predMasks.shape, 1]) as tf.Tensor4D) : undefined;
      if (isInit) return this.model.promptStep(features, 1, { points: prompt, maskInputs }, { multimask, highRes: false });
      const memory = greedyMemories(this.model, state, [obj], frame, obj.tracked.get(frame) ?? false);
      return this.model.trackStep(features, memory, objectPointerLimit(this.config, state.numFrames), { multimask, highRes: false }, { points: prompt, maskInputs });
    });
    await this.storeTemp(obj, frame, out);
    return this.promptResult(state, frame);
  }

  /** Every object's current output on a prompted frame, read in one asynchronous read. */
  private async promptResult(state: VideoState, frame: number): Promise<FrameResult> {
    const rows = state.objects.map((o) => {
      const out = o.temp.get(frame) ?? o.cond.get(frame) ?? o.nonCond.get(frame);
      return out && { logits: out.predMasks, objectScore: out.objectScore };
    });
    const [result] = await readFrameResults(state, this.model.sizes.lowResSize, [{ frame, rows, final: true }]);
    return result;
  }

  /** Keeps a prompted frame's output until propagation encodes its memory; a later prompt on the frame replaces it. */
  private async storeTemp(obj: ObjectState, frame: number, out: LowResHeadsOutput): Promise<void> {
    const [, , h4, w4] = out.lowResMasks.shape;
    let stored: StoredOutput;
    try {
      const lowRes = await storedLowRes(out.lowResMasks, this.options.fillHoleArea ?? 0);
      const [score] = await readTogether([out.objectScoreLogits]);
      stored = {
        maskmem: null,
        predMasks: tf.tidy(() => tf.reshape(lowRes, [h4, w4]) as tf.Tensor2D),
        objPtr: tf.reshape(out.objPtr, [-1]) as tf.Tensor1D,
        objectScore: score[0],
      };
      lowRes.dispose();
    } finally {
      disposeHeads(out);
    }
    disposeOutput(obj.temp.get(frame));
    obj.temp.set(frame, stored);
  }

  /** Encodes memories of prompted frames and moves them into the bank (propagate_in_video_preflight). */
  private async preflight(state: VideoState): Promise<void> {
    if (!state.objects.length) throw new InputError('no prompts: add points, a box or a mask on some frame before propagating');
    for (const obj of state.objects) {
      if (!obj.temp.size && !obj.cond.size) throw new InputError(`object ${obj.id} has no prompt on any frame`);
      for (const [frame, out] of [...obj.temp].sort((a, b) => a[0] - b[0])) {
        const isCond = !obj.tracked.has(frame);
        if (!out.maskmem) {
          const features = await state.features(frame, (img) => this.model.encodeImage(img));
          out.maskmem = tf.tidy(() => {
            const s = this.config.image_size;
            const hi = upsampleLogits(tf.reshape(out.predMasks, [1, ...out.predMasks.shape, 1]) as tf.Tensor4D, s, s);
            const mem = this.model.encodeMemory(features, hi, tf.tensor2d([[out.objectScore]]), true);
            return tf.squeeze(mem, [0]) as tf.Tensor2D;
          });
        }
        const bank = isCond ? obj.cond : obj.nonCond;
        if (bank.get(frame) !== out) disposeOutput(bank.get(frame));
        bank.set(frame, out);
        if (isCond && obj.nonCond.has(frame)) {
          disposeOutput(obj.nonCond.get(frame));
          obj.nonCond.delete(frame);
        }
      }
      obj.temp.clear();
    }
  }

  /** Frames tracked from `startFrame` (default: the first prompted frame), one result per frame. */
  async *propagate(state: VideoState, opts: PropagateOptions = {}): AsyncGenerator<FrameResult> {
    await this.preflight(state);
    const reverse = opts.reverse ?? false;
    const start = opts.startFrame ?? Math.min(...state.objects.flatMap((o) => [...o.cond.keys()]));
    state.checkFrame(start, 'startFrame');
    const maxFrames = opts.maxFrames ?? state.numFrames;
    const order = this.framesThatExist(state, processingOrder(start, maxFrames, state.numFrames, reverse));
    if (this.treeOptions && reverse) throw new InputError('the SAM2Long tree tracks forward only (reverse is not supported)');
    const plan = { step: reverse ? -1 : 1, last: lastFrame(start, maxFrames, state.numFrames, reverse), streamReadAheadFrom: this.config.max_obj_ptrs_in_encoder } as const;
    state.usePipeline(await this.startPipeline(state, plan));
    const tracker: Tracker = this.treeOptions
      ? new TreeTracker(this.model, state, this.treeOptions)
      : new GreedyTracker(this.model, state, { reverse, fillHoleArea: this.options.fillHoleArea ?? 0 });
    try {
      yield* tracker.run(order);
    } finally {
      state.usePipeline(null);
    }
  }

  /**
   * What encodes frames ahead of tracking: the worker when the `pipeline` option wants one here, else
   * batches of frames on this thread when `encodeBatch` comes to more than one frame, else nothing.
   */
  private async startPipeline(state: VideoState, plan: PipelinePlan): Promise<FramePipeline | null> {
    const want = this.options.pipeline ?? 'auto';
    const inNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
    const worthIt = singleThreaded() && this.config.image_size >= AUTO_PIPELINE_MIN_IMAGE_SIZE;
    if (want === false || (want === 'auto' && !(inNode && worthIt))) {
      const batch = encodeBatchSize(this.model, this.options.encodeBatch);
      return batch > 1 ? new FrameBatches(this.model, state.frames, plan, batch) : null;
    }
    if (!inNode) throw new InputError('pipeline: true needs Node worker threads; leave it unset in a browser');
    const { EncoderPool } = await import('../node/encoder-pool.js');
    return EncoderPool.start(this.model, state.frames, plan, { required: want === true });
  }

  /** `order`, stopped at the end of the video (which a stream only reveals when it is reached). */
  private async *framesThatExist(state: VideoState, order: Iterable<number>): AsyncGenerator<number> {
    for (const frame of order) {
      if (!(await state.frames.has(frame))) return;
      yield frame;
    }
  }

  /** Masks of every object on `frame` at video resolution (an object without output there is empty). */
  frameResult(state: VideoState, frame: number, pick: MaskPick, final: boolean): FrameResult {
    return frameResult(state, frame, this.model.sizes.lowResSize, pick, final);
  }
}

export function disposeHeads(out: LowResHeadsOutput): void {
  tf.dispose(Object.values(out).filter((v) => v instanceof tf.Tensor) as tf.Tensor[]);
}

/** The last frame propagate visits from `start` (numFrames may be Infinity for a stream). */
export function lastFrame(start: number, maxFrames: number, numFrames: number, reverse: boolean): number {
  return reverse ? Math.max(start - maxFrames, 0) : Math.min(start + maxFrames, numFrames - 1);
}

/** The frames propagate visits, as the official predictor orders them (numFrames may be Infinity for a stream). */
export function* processingOrder(start: number, maxFrames: number, numFrames: number, reverse: boolean): Generator<number> {
  const end = lastFrame(start, maxFrames, numFrames, reverse);
  if (reverse) {
    if (start > 0) for (let f = start; f >= end; f--) yield f;
    return;
  }
  for (let f = start; f <= end; f++) yield f;
}

function checkPoints(state: VideoState, points: [number, number][], labels: number[], allowed: number[]): void {
  const { width, height } = state.frames;
  if (!points.length) throw new InputError('empty prompt: give at least one point or a box');
  if (points.length !== labels.length) throw new InputError(`${points.length} points but ${labels.length} labels`);
  points.forEach(([x, y], i) => {
    if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0 || x > width || y > height) {
      throw new InputError(`point ${i} (${x}, ${y}) is outside the ${width}×${height} frame`);
    }
  });
  labels.forEach((l, i) => {
    if (!allowed.includes(l)) throw new InputError(`label ${l} of point ${i} is not one of ${allowed.join(', ')}`);
  });
}
