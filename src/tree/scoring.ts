/**
 * Candidate scoring policy: turns the decodes of every old path on frame t into scored candidates.
 *
 * Signature (`CandidateScoring`): `(accScores, ious, objScores) → Candidate[]`, where accScores[p] is old
 * path p's cumulative score, ious[p][j] the predicted IoU of its mask j, objScores[p] its object-score
 * logit on frame t. The result lists one candidate per (p, j), best first; the pruning keeps P of them.
 *
 * SAM2Long's rule (`scoreCandidates`): score = accScores[p] + ln(ious[p][j] + 1e-5), in float64 (the
 * reference computes it with numpy on Python floats). signedIou = iou when the path's object score is
 * > 0, else −iou; it is what the uncertain-case de-duplication compares. Candidates are sorted by score,
 * descending, with a stable sort, so equal scores keep the (p, j) order.
 */
import { InputError } from '../errors.js';
import { requireFinite } from './checks.js';

/** Added to the IoU before the log, so a zero IoU gives a finite score. */
export const IOU_LOG_EPS = 1e-5;

export interface Candidate {
  /** The old path this candidate extends. */
  readonly parent: number;
  /** Which of the parent's multimask outputs it keeps. */
  readonly j: number;
  /** Cumulative score of the path it would make (float64). */
  readonly score: number;
  readonly iou: number;
  /** iou if the parent's decode found the object (objectScore > 0), else −iou. */
  readonly signedIou: number;
  /** The parent's object-score logit on this frame (the new slot stores it). */
  readonly objectScore: number;
}

export type CandidateScoring = (accScores: readonly number[], ious: readonly (readonly number[])[], objScores: readonly number[]) => Candidate[];


/** SAM2Long's candidates, best first. */
export function scoreCandidates(accScores: readonly number[], ious: readonly (readonly number[])[], objScores: readonly number[]): Candidate[] {
  if (ious.length !== accScores.length || objScores.length !== accScores.length) {
    throw new InputError(`scoring needs one row per path: ${accScores.length} scores, ${ious.length} IoU rows, ${objScores.length} object scores`);
  }
  const candidates = accScores.flatMap((acc, parent) => {
    requireFinite(`path ${parent} score`, acc);
    requireFinite(`path ${parent} object score`, objScores[parent]);
    const objectScore = objScores[parent];
    return ious[parent].map((iou, j): Candidate => {
      // Without a sigmoid IoU head a prediction can be ≤ −eps, where the log (and the reference's score) is NaN.
      if (!(iou + IOU_LOG_EPS > 0 && Number.isFinite(iou))) throw new InputError(`path ${parent} mask ${j}: the IoU ${iou} has no log score`);
      return { parent, j, score: acc + Math.log(iou + IOU_LOG_EPS), iou, signedIou: objectScore > 0 ? iou : -iou, objectScore };
    });
  });
  return candidates.sort((a, b) => (a.score > b.score ? -1 : a.score < b.score ? 1 : 0));
}
