/**
 * Per-frame results as trackers and prompts return them: every object's low-res logits and object score,
 * with the video-resolution masks made on first read.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NO_OBJ_SCORE } from '../model/sam-heads.js';
import { upsampledLogits, upsampledMaskBytes } from './transforms.js';
import { nonOverlappingMasks } from './non-overlap.js';
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
  const { width, height } = state.frames;
  const h4 = lowResSize;
  const outs = state.objects.map(pick);
  const lowRes = outs.map((o) => (o ? o.logits.slice() : new Float32Array(h4 * h4).fill(NO_OBJ_SCORE)));
  let masks: Uint8Array[] | undefined;
  let exclusive: Uint8Array[] | undefined;
  const atVideoSize = <T>(upsample: Upsample<T>): T => atVideoResolution(lowRes, h4, height, width, upsample);
  return {
    frame,
    name: state.frames.name(frame),
    objIds: state.objIds,
    // Made on first read (from the low-res logits kept here): a consumer of final results only, like the CLI,
    // never pays for SAM2Long's provisional masks.
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
