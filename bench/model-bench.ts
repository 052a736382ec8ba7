/**
 * Per-module and per-frame timings of one model on the current backend, with a full memory bank:
 * image encoder, memory attention, mask decoder, memory encoder (batch 1), one greedy frame (encoder +
 * tracking step + memory encoding) and one SAM2Long tree frame at P paths (encoder + one batched step of
 * P rows + encoding of the P kept candidates), as the video predictor and the tree tracker call them.
 *
 * Every module unit runs `warmup` times, then once under tf.profile (its kernels give the hot spots, its
 * peak the tensor memory), then `reps` timed times. A frame runs once under tf.profile only when `warmup`
 * is not 0 (at 1024 px one frame takes a minute); the modules before it have run the same kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { derivedSizes, type Sam2ModelConfig } from '../src/config.js';
import type { MemoryAttentionInputs } from '../src/model/memory-attention.js';
import type { ItemMemory } from '../src/model/memory-prompt.js';
import { sinePositionEncoding } from '../src/model/position-encoding.js';
import { disposeFeatures, type FrameFeatures, type Sam2Model } from '../src/model/sam2.js';
import { modelFlops, total, type ModelFlops } from './flops.js';
import { elapsed, median, memorySnapshot, profileRun, stamp, type HotSpots, type MemorySnapshot, type Stamp } from './measure.js';
import { countRun, type Counts } from './counters.js';
import { benchModel, disposeMemories, fullBank, randomFullMemories, type BenchModelName } from './synthetic.js';
import { toNHWC } from '../src/ops/layout.js';
import { gatherRows } from '../src/ops/take-rows.js';
import { encodeBatchSize } from '../src/predictor/frame-batches.js';

export type UnitName = keyof ModelFlops;

export interface UnitResult {
  unit: UnitName;
  label: string;
  /** Median wall time of the timed runs. */
  ms: number;
  runsMs: number[];
  /** Median CPU time of this process over the same runs (see measure.ts `Stamp`). */
  cpuMs: number;
  /** Sub-part medians, wall and CPU (frames: encoder and step). */
  partsMs?: Record<string, number>;
  partsCpuMs?: Record<string, number>;
  /** FLOPs of the official algorithm (GFLOP) and achieved GFLOP/s on them, per wall and per CPU second. */
  gflop: number;
  gflopPerS: number;
  gflopPerCpuS: number;
  /** FLOPs our implementation multiplies (GFLOP). */
  executedGflop: number;
  /** PyTorch's time for the unit, when the run was given a reference (`--pytorch FILE`). */
  pytorchMs?: number;
  /**
   * Kernels, GPU programs and host reads of one plain run (no profiling, no bench reads); a step's are its
   * frame's minus the image encoder's.
   */
  counts?: Counts;
  /** From the profiled run (frames: only with warm-up). */
  hotspots?: HotSpots;
  memoryAfter: MemorySnapshot;
}

export interface ModelBenchOptions {
  model: BenchModelName;
  imageSize: number;
  paths: number;
  reps: number;
  warmup: number;
  /** Only these units (default: all). */
  units?: UnitName[];
  log?: (line: string) => void;
}

export interface ModelBenchResult {
  model: BenchModelName;
  imageSize: number;
  backend: string;
  paths: number;
  parameters: number;
  buildMs: number;
  /** Memory frames, pointers and memory tokens of each row at a full bank. */
  bank: { frames: number; pointers: number; tokens: number; pointerTokens: number };
  units: UnitResult[];
  memoryAfterBuild: MemorySnapshot;
  memoryEnd: MemorySnapshot;
}

/**
 * One run of a unit: its output tensors (read and disposed by the harness) and, when `laps` (the default),
 * sub-part times (each read forces the part to finish).
 */
type RunUnit = (laps?: boolean) => { outputs: tf.Tensor[]; parts?: Record<string, Stamp> };

function tensorsOf(o: object): tf.Tensor[] {
  return Object.values(o).flatMap((v) => (v instanceof tf.Tensor ? [v] : Array.isArray(v) ? v.filter((x) => x instanceof tf.Tensor) : []));
}

/** Marks the end of a sub-part: reading one value forces every kernel before it to have finished. */
function lap(marks: Stamp[], done: tf.Tensor): Stamp {
  done.dataSync();
  marks.push(stamp());
  return elapsed(marks[marks.length - 2], marks[marks.length - 1]);
}

/** The benchmarked units of one model, over fixed random inputs: an image, its features, full memory banks. */
class Units {
  private readonly features: FrameFeatures;
  /** One full bank (greedy), and `paths` weighted ones (tree). */
  private readonly single: ItemMemory[];
  private readonly tree: ItemMemory[];
  /** Memory attention's inputs for the single full bank, built once (the unit times the attention alone). */
  private readonly attentionInputs: MemoryAttentionInputs;
  private readonly image: tf.Tensor4D;
  /** `encodeBatch` frames, where the backend encodes frames in batches (GPU backends), else null. */
  private readonly images: tf.Tensor4D | null;
  private readonly mask: tf.Tensor4D;

  constructor(private readonly model: Sam2Model, paths: number, readonly encodeBatch: number) {
    const cfg = model.config;
    const s = cfg.image_size;
    const { embedSize: h, memDim, hiddenDim: c } = derivedSizes(cfg);
    this.image = tf.randomNormal([1, s, s, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    this.images = encodeBatch > 1 ? tf.randomNormal([encodeBatch, s, s, 3], 0, 1, 'float32', 9) as tf.Tensor4D : null;
    this.features = model.encodeImage(this.image);
    this.mask = tf.randomNormal([1, s, s, 1], 0, 4, 'float32', 8) as tf.Tensor4D;
    this.single = randomFullMemories(cfg, 1, false);
    this.tree = randomFullMemories(cfg, paths, true);
    const maskmemPosEnc = tf.tidy(() => tf.reshape(sinePositionEncoding(cfg.memory_encoder.position_encoding, h, h), [h * h, memDim]) as tf.Tensor2D);
    const framePositions = model.memoryPrompt.framePositions(maskmemPosEnc);
    const batch = model.memoryPrompt.build(this.single, framePositions, cfg.max_obj_ptrs_in_encoder);
    tf.dispose([maskmemPosEnc, ...framePositions]);
    const flat = (t: tf.Tensor4D) => tf.reshape(t, [1, h * h, c]) as tf.Tensor3D;
    this.attentionInputs = {
      curr: flat(this.features.visionFeats), currPos: flat(this.features.visionPos), memory: batch.memory, memoryPos: batch.memoryPos,
      numObjPtrTokens: batch.numObjPtrTokens, keyWeights: batch.keyWeights, keyValid: batch.keyValid,
    };
  }

  get cfg(): Sam2ModelConfig {
    return this.model.config;
  }

  dispose(): void {
    disposeFeatures(this.features);
    tf.dispose([this.image, this.mask, ...(this.images ? [this.images] : []), ...tensorsOf(this.attentionInputs)]);
    disposeMemories(this.single);
    disposeMemories(this.tree);
  }

  run(unit: UnitName): RunUnit {
    const m = this.model;
    const maxPtrs = this.cfg.max_obj_ptrs_in_encoder;
    switch (unit) {
      case 'imageEncoder':
        return () => ({ outputs: tensorsOf(m.encodeImage(this.image)) });
      case 'imageEncoderBatch': {
        const images = this.images;
        if (!images) throw new Error('no batched encoding on this backend');
        return () => ({ outputs: m.encodeImages(images).flatMap(tensorsOf) });
      }
      case 'memoryAttention':
        return () => ({ outputs: [m.memoryAttention.call(this.attentionInputs)] });
      case 'maskDecoder':
        return () => ({
          outputs: tensorsOf(m.heads.call({ backboneFeatures: this.features.visionFeats, highResFeatures: this.features.highRes, multimaskOutput: true })),
        });
      case 'memoryEncoder':
        return () => {
          const score = tf.ones([1, 1]) as tf.Tensor2D;
          return { outputs: [m.encodeMemory(this.features, this.mask, score, false), score] };
        };
      case 'greedyFrame':
        return (laps = true) => this.frame(this.single, false, maxPtrs, laps);
      case 'treeFrame':
        return (laps = true) => this.frame(this.tree, true, maxPtrs, laps);
      default:
        throw new Error(`unit '${unit}' is measured as a part of a frame`);
    }
  }

  /**
   * A whole frame as the video predictors run it: encode, one batched tracking step over `memories` with low-res
   * masks only, encode the new memory of each row from its low-res mask (encodeMemory upsamples it). The tree
   * picks one candidate mask per row (a different one each), as the tree tracker does.
   */
  private frame(memories: ItemMemory[], tree: boolean, maxPtrs: number, laps: boolean): { outputs: tf.Tensor[]; parts?: Record<string, Stamp> } {
    const m = this.model;
    const marks = [stamp()];
    const features = m.encodeImage(this.image);
    const encoder = laps ? lap(marks, features.visionFeats) : undefined;
    const heads = m.trackStep(features, memories, maxPtrs, { multimask: true, allPointers: tree, highRes: false });
    const maskmem = tf.tidy(() => {
      if (!tree) return m.encodeMemory(features, toNHWC(heads.lowResMasks), heads.objectScoreLogits, false);
      const [b, k, h4, w4] = heads.lowResMultimasks.shape;
      const picks = Array.from({ length: b }, (_, r) => r * k + (r % k));
      const chosen = gatherRows(tf.reshape(heads.lowResMultimasks, [b * k, h4 * w4]) as tf.Tensor2D, picks);
      return m.encodeMemory(features, tf.reshape(chosen, [b, h4, w4, 1]) as tf.Tensor4D, heads.objectScoreLogits, false);
    });
    const outputs = [maskmem, ...tensorsOf(heads), ...tensorsOf(features)];
    return encoder ? { outputs, parts: { encoder, step: lap(marks, maskmem) } } : { outputs };
  }
}

const LABELS: Record<UnitName, (paths: number, encodeBatch: number) => string> = {
  imageEncoder: () => 'image encoder',
  imageEncoderBatch: (_, k) => `image encoder, ${k} frames in one batch`,
  memoryAttention: () => 'memory attention (full bank)',
  maskDecoder: () => 'mask decoder',
  memoryEncoder: () => 'memory encoder',
  greedyStep: () => '  step (attention+decoder+memory enc.)',
  greedyFrame: () => 'greedy frame',
  treeStep: (p) => `  step ×${p} rows`,
  treeFrame: (p) => `tree frame P=${p}`,
};

export const MODULE_UNITS: UnitName[] = ['imageEncoder', 'memoryAttention', 'maskDecoder', 'memoryEncoder'];
/** The batched encoder runs only where the backend encodes frames in batches. */
const MEASURED: UnitName[] = ['imageEncoder', 'imageEncoderBatch', 'memoryAttention', 'maskDecoder', 'memoryEncoder', 'greedyFrame', 'treeFrame'];
/** Frame units report their step as a unit of its own. */
const STEP_OF: Partial<Record<UnitName, UnitName>> = { greedyFrame: 'greedyStep', treeFrame: 'treeStep' };

function subtract(a: Counts, b: Counts): Counts {
  return {
    kernels: a.kernels - b.kernels, programs: a.programs === null || b.programs === null ? null : a.programs - b.programs,
    reads: a.reads - b.reads, readBytes: a.readBytes - b.readBytes,
  };
}

export async function benchModelUnits(opts: ModelBenchOptions): Promise<ModelBenchResult> {
  const log = opts.log ?? (() => undefined);
  const started = performance.now();
  const model = await benchModel(opts.model, opts.imageSize);
  const buildMs = performance.now() - started;
  const memoryAfterBuild = memorySnapshot();
  const cfg = model.config;
  const bank = fullBank(cfg);
  const encodeBatch = encodeBatchSize(model);
  const reference = modelFlops(cfg, bank.tokens, bank.pointerTokens, opts.paths, 'reference', encodeBatch);
  const executed = modelFlops(cfg, bank.tokens, bank.pointerTokens, opts.paths, 'executed', encodeBatch);
  const units = new Units(model, opts.paths, encodeBatch);
  const results: UnitResult[] = [];
  const result = (unit: UnitName, runs: Stamp[], extra: Partial<UnitResult>): UnitResult => {
    const ms = median(runs.map((r) => r.wall));
    const cpuMs = median(runs.map((r) => r.cpu));
    const gflop = total(reference[unit]) / 1e9;
    return {
      unit, label: LABELS[unit](opts.paths, encodeBatch), ms, runsMs: runs.map((r) => r.wall), cpuMs, gflop, gflopPerS: gflop / (ms / 1000),
      gflopPerCpuS: gflop / (cpuMs / 1000), executedGflop: total(executed[unit]) / 1e9,
      memoryAfter: memorySnapshot(), ...extra,
    };
  };
  try {
    const measured = MEASURED.filter((u) => (u !== 'imageEncoderBatch' || encodeBatch > 1) && (!opts.units || opts.units.includes(u)));
    for (const unit of measured) {
      const run = units.run(unit);
      const isFrame = unit in STEP_OF;
      for (let i = 0; i < (isFrame ? 0 : opts.warmup); i++) tf.dispose(run().outputs);
      const hotspots = !isFrame || opts.warmup > 0 ? await profileRun(() => run().outputs) : undefined;
      // Counted on a plain run: profiling changes nothing it counts, but the frames' laps would add reads.
      const { value: counted, counts } = await countRun(() => run(false));
      counted.outputs[0].dataSync();
      tf.dispose(counted.outputs);
      const runs: Stamp[] = [];
      const parts: Record<string, Stamp>[] = [];
      for (let i = 0; i < opts.reps; i++) {
        const start = stamp();
        const r = run();
        r.outputs[0].dataSync();
        runs.push(elapsed(start));
        if (r.parts) parts.push(r.parts);
        tf.dispose(r.outputs);
      }
      const partMedians = (of: (s: Stamp) => number) => (parts.length
        ? Object.fromEntries(Object.keys(parts[0]).map((k) => [k, median(parts.map((p) => of(p[k])))])) : undefined);
      const r = result(unit, runs, { partsMs: partMedians((x) => x.wall), partsCpuMs: partMedians((x) => x.cpu), hotspots, counts });
      results.push(r);
      const perFrame = unit === 'imageEncoderBatch' ? ` (${(r.ms / encodeBatch).toFixed(1)} ms a frame)` : '';
      log(`  ${r.label.trim()}: ${r.ms.toFixed(0)} ms${perFrame} (${r.runsMs.map((x) => x.toFixed(0)).join(', ')}), cpu ${r.cpuMs.toFixed(0)} ms; `
        + `${counts.kernels} kernels${counts.programs === null ? '' : `, ${counts.programs} GPU programs`}, ${counts.reads} host reads`);
      const step = STEP_OF[unit];
      const encoder = results.find((x) => x.unit === 'imageEncoder')?.counts;
      if (step && parts.length) results.push(result(step, parts.map((p) => p.step), encoder ? { counts: subtract(counts, encoder) } : {}));
    }
  } finally {
    units.dispose();
  }
  const memoryEnd = memorySnapshot();
  model.dispose();
  return {
    model: opts.model, imageSize: opts.imageSize, backend: tf.getBackend(), paths: opts.paths, parameters: model.numParameters, buildMs,
    bank, units: results, memoryAfterBuild, memoryEnd,
  };
}
