/**
 * The shape every tracker has — greedy SAM 2 (`greedy-tracker.ts`) and the SAM2Long tree (`tree-tracker.ts`):
 * built from (model, state, options), it tracks the frames it is given and yields per-frame results.
 * The predictor owns prompts and state and picks the tracker; a tracker never calls back into it.
 *
 * Objects are the rows of `state.objects`, and a result covers every one of them: a tracker that has no
 * output for an object on a frame (e.g. an object whose first prompt comes later) gives it an empty mask.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ItemMemory } from '../model/memory-prompt.js';
import type { FrameFeatures, Sam2Model } from '../model/sam2.js';
import type { FrameResult } from './frame-results.js';
import { toNHWC } from '../ops/layout.js';
import { rowIndices, takeRows } from '../ops/take-rows.js';

export interface Tracker {
  /** Tracks the frames of `order` (consecutive, in tracking order) and yields their results as they are known. */
  run(order: AsyncIterable<number>): AsyncGenerator<FrameResult>;
}

/** One tracking step's rows, each with the new memory encoded from its own mask. */
export interface TrackedRows {
  /** B × [HW, memDim] (bf16-rounded) */
  maskmem: tf.Tensor2D[];
  /** B × [C] */
  objPtr: tf.Tensor1D[];
  /** The decoder's chosen low-res masks, stacked. [B, 1, h4, w4] */
  lowRes: tf.Tensor4D;
  /** The decoder's IoU predictions. [B, M] */
  ious: tf.Tensor2D;
  /** Object-score logits. [B] */
  objectScores: tf.Tensor1D;
}

/**
 * One batched tracking step for `memories` (one row each) on a frame, then the memory encoder on every row's
 * own low-res mask, then the rows split apart: a frame every row decodes and remembers by itself. Nothing is
 * read back: the caller reads what it needs, with whatever else the frame reads.
 */
export function trackRows(model: Sam2Model, features: FrameFeatures, memories: ItemMemory[], maxObjPtrs: number, multimask: boolean): TrackedRows {
  const out = tf.tidy(() => {
    const heads = model.trackStep(features, memories, maxObjPtrs, { multimask, highRes: false });
    const maskmem = model.encodeMemory(features, toNHWC(heads.lowResMasks), heads.objectScoreLogits, false);
    return { maskmem, lowRes: heads.lowResMasks, ious: heads.ious, objPtr: heads.objPtr, scores: tf.reshape(heads.objectScoreLogits, [-1]) as tf.Tensor1D };
  });
  const rows = rowIndices(memories.length);
  const perRow = tf.tidy(() => ({
    maskmem: takeRows(out.maskmem, rows) as tf.Tensor2D[],
    objPtr: takeRows(out.objPtr, rows) as tf.Tensor1D[],
  }));
  tf.dispose([out.maskmem, out.objPtr]);
  return { ...perRow, lowRes: out.lowRes, ious: out.ious, objectScores: out.scores };
}
