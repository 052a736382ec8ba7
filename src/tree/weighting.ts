/**
 * Memory weighting policy: how much each memory frame and each object pointer counts in the
 * memory-attention cross-attention keys.
 *
 * Signature (`WeightPolicy`): `(scores, [low, high]) → weights`. `scores` is one list in memory order
 * (the conditioning entry first); the result has one weight per entry. The caller multiplies the key
 * inputs (memory + memory_pos, before k_proj) of that frame's tokens or that pointer's tokens by it;
 * values are never weighted.
 *
 * SAM2Long's rule (`memoryWeights`): rank the scores ascending and give the ranks evenly spaced weights
 * from low to high, so the lowest score gets `low` and the highest `high` (0.95 and 1.05, hard-coded in
 * SAM2Long's memory attention). One entry gets `low`, as torch.linspace(low, high, 1) does.
 * Ties: equal scores are ranked by position (a stable sort: the earlier entry gets the lower weight).
 * The reference uses torch.argsort, whose order for ties is unspecified, so a tie may be weighted the
 * other way round there. No score list of the golden runs has a tie, so they do not pin this down; a
 * tie needs two memory frames (or pointers) of one path with bit-identical object scores.
 * Weights are float64 values of the evenly spaced points; torch builds them in float32, which agrees after
 * rounding to f32 within one ulp.
 *
 * `keyWeights` applies a policy to a path's selection: the frame list is [10 (conditioning frame), object
 * score of each memory frame…] and the pointer list [10 (conditioning pointer), object score of each
 * pointer frame…]. When the conditioning frame is the only memory frame, nothing is weighted, not even
 * the pointers: it returns null.
 */
import { InputError } from '../errors.js';
import type { MemorySelection } from './memory-selection.js';

export type WeightRange = readonly [low: number, high: number];

export type WeightPolicy = (scores: readonly number[], range: WeightRange) => number[];

/** SAM2Long's key weight range (memory_attention.py, scaling_low/scaling_high). */
export const SAM2LONG_WEIGHT_RANGE: WeightRange = [0.95, 1.05];

/** The score the conditioning frame and its pointer get in the ranking (a bf16 10.0 in the reference). */
export const CONDITIONING_SCORE = 10;

/** Rank-based weights: the k-th smallest score gets low + (high − low)·k/(n − 1). */
export function memoryWeights(scores: readonly number[], [low, high]: WeightRange): number[] {
  if (scores.some(Number.isNaN)) throw new InputError(`memory weighting got a NaN score: [${scores.join(', ')}]`);
  const n = scores.length;
  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : 0));
  const weights = new Array<number>(n);
  order.forEach((entry, rank) => {
    weights[entry] = n === 1 ? low : low + ((high - low) * rank) / (n - 1);
  });
  return weights;
}

export interface KeyWeights {
  /** One weight per memory frame, conditioning frame first, in memory order. */
  readonly frames: number[];
  /** One weight per object pointer, conditioning pointer first, in pointer order. */
  readonly pointers: number[];
}

/** The key weights of one path's selection, or null when its keys are not weighted at all. */
export function keyWeights(selection: MemorySelection, range: WeightRange = SAM2LONG_WEIGHT_RANGE, weigh: WeightPolicy = memoryWeights): KeyWeights | null {
  if (selection.memoryFrames.length === 0) return null;
  const frameScores = [CONDITIONING_SCORE, ...selection.memoryFrames.map((m) => m.objectScore)];
  const pointerScores = [CONDITIONING_SCORE, ...selection.pointerFrames.map((m) => m.objectScore)];
  return { frames: weigh(frameScores, range), pointers: weigh(pointerScores, range) };
}
