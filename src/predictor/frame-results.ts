/**
 * Per-frame results as trackers and prompts return them: every object's low-res logits and object score,
 * with the video-resolution masks made on first read.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NO_OBJ_SCORE } from '../model/sam-heads.js';
import { packedMaskBits, unpackMaskBits, upsampledLogits, upsampledMaskBytes } from './transforms.js';
import { nonOverlappingMasks } from './non-overlap.js';
import { onHostBackend, readTogether } from '../ops/host-read.js';
import type { MaskOutput, ObjectState, VideoState } from './video-state.js';

export interface FrameResult {
  frame: number;
  /** File stem of the frame, for output names. */
  name: string;
  objIds: number[];
  /** Binary masks at video resolution, one per object (row-major H×W, 1 = object); made on first read. */
  readonly masks: Uint8Array[];
  /**
   * The same masks with the official dataset scripts' non-overlap rule (see non-overlap.ts): at each pixel
   * only the object with the highest logit may be on. What label PNGs show; made on first read.
   */
  readonly exclusiveMasks: Uint8Array[];
  /** Low-resolution mask logits, one per object ([h4 × w4]). */
  lowResLogits: Float32Array[];
  objectScores: number[];
  /** False for SAM2Long's online (provisional) masks that hindsight may still change. */
  final: boolean;
}

/** Picks an object's mask on the frame; undefined = no output there (an empty mask). */
export type MaskPick = (o: ObjectState, index: number) => MaskOutput | undefined;

/** Masks of every object on `frame` at video resolution (an object without output there is empty). */
export function frameResult(state: VideoState, frame: number, lowResSize: number, pick: MaskPick, final: boolean): FrameResult {
  return resultOf(state, frame, lowResSize, state.objects.map(pick), final, null);
}

/** Video-resolution masks made on the device and read with the rest of a frame's outputs. */
interface ReadMasks {
  masks: Uint8Array[];
  exclusiveMasks: Uint8Array[];
}

/** `outs` as a result; its masks are `read` when given, else made on first read from the low-res logits. */
function resultOf(state: VideoState, frame: number, h4: number, outs: readonly (MaskOutput | undefined)[], final: boolean, read: ReadMasks | null): FrameResult {
  const { width, height } = state.frames;
  const lowRes = outs.map((o) => (o ? o.logits.slice() : new Float32Array(h4 * h4).fill(NO_OBJ_SCORE)));
  let masks = read?.masks;
  let exclusive = read?.exclusiveMasks;
  const atVideoSize = <T>(upsample: Upsample<T>): T => atVideoResolution(lowRes, h4, height, width, upsample);
  return {
    frame,
    name: state.frames.name(frame),
    objIds: state.objIds,
    // Made on first read (from the low-res logits kept here) on the host backends: a consumer of final results
    // only, like the CLI, never pays for SAM2Long's provisional masks.
    get masks() {
      masks ??= atVideoSize(upsampledMaskBytes);
      return masks;
    },
    get exclusiveMasks() {
      exclusive ??= nonOverlappingMasks(atVideoSize(upsampledLogits));
      return exclusive;
    },
    lowResLogits: lowRes,
    objectScores: outs.map((o) => o?.objectScore ?? NO_OBJ_SCORE),
    final,
  };
}

/** One object's output on a frame, on the device or on the host. */
export interface ResultRow {
  /** Low-res logits. [h4, w4] (any shape of h4·w4 values) */
  logits: tf.Tensor | Float32Array;
  /** Object-score logit. [] or [1] */
  objectScore: tf.Tensor | number;
}

/** A frame's result before it is read: one row per object of the state (undefined: no output there). */
export interface PendingResult {
  frame: number;
  rows: readonly (ResultRow | undefined)[];
  final: boolean;
}

/**
 * The results of `pending`, from ONE asynchronous host read of whatever they hold on the device. On GPU
 * backends the video-resolution masks (and their non-overlapping versions) are made on the device and read
 * as bits in the same read, so reading a result's masks later never blocks on the device; on the host
 * backends they are made on first read, as `frameResult` makes them. The device work is enqueued before
 * this returns its promise, so the tensors given may be disposed as soon as it has been called.
 */
export async function readFrameResults(state: VideoState, lowResSize: number, pending: readonly PendingResult[]): Promise<FrameResult[]> {
  const { width, height } = state.frames;
  const h4 = lowResSize;
  const parts: tf.Tensor[] = [];
  // A value on the device is read as parts[index]; a host value is kept as it is.
  const fromDevice = (t: tf.Tensor) => {
    const index = parts.push(t) - 1;
    return () => values[index];
  };
  let values: Float32Array[] = [];
  const reads = pending.map((p) => p.rows.map((r) => r && {
    logits: r.logits instanceof tf.Tensor ? fromDevice(r.logits) : () => r.logits as Float32Array,
    objectScore: r.objectScore instanceof tf.Tensor ? fromDevice(r.objectScore) : () => [r.objectScore as number],
  }));
  const owned = onHostBackend() ? [] : pending.map((p) => packedMaskBits(stackedLogits(p.rows, h4), height, width, true));
  const maskReads = owned.map((bits) => bits.map(fromDevice));
  try {
    values = await readTogether(parts);
  } finally {
    tf.dispose(owned.flat());
  }
  const pixels = height * width;
  return pending.map((p, i) => {
    const outs = reads[i].map((r) => r && { logits: r.logits(), objectScore: r.objectScore()[0] });
    const bits = maskReads[i]?.map((read) => read());
    const read = bits && { masks: unpackMaskBits(bits[0], p.rows.length, pixels), exclusiveMasks: unpackMaskBits(bits[1] ?? bits[0], p.rows.length, pixels) };
    return resultOf(state, p.frame, h4, outs, p.final, read ?? null);
  });
}

type Upsample<T> = (stacked: tf.Tensor4D, height: number, width: number) => T;

/**
 * Objects' low-res logits ([h4 × h4] each) stacked and brought to video resolution by `upsample`
 * (`upsampledLogits`, `upsampledMaskBytes`), as every result's masks are made.
 */
export function atVideoResolution<T>(lowRes: readonly Float32Array[], h4: number, height: number, width: number, upsample: Upsample<T>): T {
  const stacked = tf.tensor4d(concatFloat(lowRes), [lowRes.length, h4, h4, 1]);
  try {
    return upsample(stacked, height, width);
  } finally {
    stacked.dispose();
  }
}

function concatFloat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** The rows' low-res logits stacked on the device, an object without output filled with NO_OBJ_SCORE. */
// rows n × ([h4, w4] | Float32Array(h4·h4) | undefined) → [n, h4, h4, 1]
function stackedLogits(rows: readonly (ResultRow | undefined)[], h4: number): tf.Tensor4D {
  return tf.tidy(() => tf.stack(rows.map((r) => {
    if (!r) return tf.fill([h4, h4, 1], NO_OBJ_SCORE);
    return r.logits instanceof tf.Tensor ? tf.reshape(r.logits, [h4, h4, 1]) : tf.tensor3d(r.logits, [h4, h4, 1]);
  })) as tf.Tensor4D);
}
