/**
 * Per-frame results as trackers and prompts return them: every object's low-res logits and object score,
 * with the video-resolution masks made on first read.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NO_OBJ_SCORE } from '../model/sam-heads.js';
import { upsampledMaskBytes } from './transforms.js';
import type { MaskOutput, ObjectState, VideoState } from './video-state.js';

export interface FrameResult {
  frame: number;
  /** File stem of the frame, for output names. */
  name: string;
  objIds: number[];
  /** Binary masks at video resolution, one per object (row-major H×W, 1 = object); made on first read. */
  readonly masks: Uint8Array[];
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
  const videoMasks = () => {
    const stacked = tf.tensor4d(concatFloat(lowRes), [lowRes.length, h4, h4, 1]);
    try {
      return upsampledMaskBytes(stacked, height, width);
    } finally {
      stacked.dispose();
    }
  };
  return {
    frame,
    name: state.frames.name(frame),
    objIds: state.objIds,
    // Made on first read (from the low-res logits kept here): a consumer of final results only, like the CLI,
    // never pays for SAM2Long's provisional masks.
    get masks() {
      masks ??= videoMasks();
      return masks;
    },
    lowResLogits: lowRes,
    objectScores: outs.map((o) => o?.objectScore ?? NO_OBJ_SCORE),
    final,
  };
}

function concatFloat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
