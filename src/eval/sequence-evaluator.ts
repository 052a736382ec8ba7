/**
 * Scores the frames of one evaluated sequence (one SA-V object folder, or one DAVIS-like video) the way the
 * official `Evaluator` does: it remembers every label seen so far in the GT and in the prediction, and scores
 * each frame for exactly those labels. A frame before a label's first appearance is not scored at all (it
 * does not count as a perfect match); after that, a frame where both masks are empty scores J = F = 1.
 */
import type { LabelMap } from './mask-tree.js';
import { InputError } from '../errors.js';
import { boundaryF, regionIoU, type BoundaryScore, type RegionScore } from './metrics.js';
import { numpyMean } from './mean.js';

export type FrameScore = { readonly frame: string } & RegionScore & BoundaryScore;

export interface LabelScore {
  readonly label: number;
  /** Labels seen in the GT are reported; labels seen only in the prediction are scored but left out. */
  readonly reported: boolean;
  /** 100 · mean of the per-frame J. */
  readonly J: number;
  /** 100 · mean of the per-frame F. */
  readonly F: number;
  /** The scored frames, in order. */
  readonly frames: readonly FrameScore[];
}

/** The distinct values of a label map, ascending. */
export function distinctValues(data: Uint8Array | Uint16Array): number[] {
  const seen = new Uint8Array(data instanceof Uint16Array ? 65536 : 256);
  for (let i = 0; i < data.length; i++) seen[data[i]] = 1;
  const values: number[] = [];
  for (let v = 0; v < seen.length; v++) if (seen[v] !== 0) values.push(v);
  return values;
}

function maskOf(data: Uint8Array | Uint16Array, label: number): Uint8Array { // [H*W] of 0/1
  const mask = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) if (data[i] === label) mask[i] = 1;
  return mask;
}

export class SequenceEvaluator {
  private readonly seenInGt = new Set<number>();
  private readonly seenInPred = new Set<number>();
  private readonly scores = new Map<number, FrameScore[]>();

  /** Scores one frame; `gt` and `pred` are same-size label maps (0 = background). */
  feed(frame: string, gt: LabelMap, pred: LabelMap): void {
    if (gt.width !== pred.width || gt.height !== pred.height) {
      throw new InputError(`frame ${frame}: GT is ${gt.width}x${gt.height}, prediction ${pred.width}x${pred.height}`);
    }
    for (const label of distinctValues(gt.data)) if (label !== 0) this.seenInGt.add(label);
    for (const label of distinctValues(pred.data)) if (label !== 0) this.seenInPred.add(label);
    const labels = [...new Set([...this.seenInGt, ...this.seenInPred])].sort((a, b) => a - b);
    for (const label of labels) {
      const g = maskOf(gt.data, label);
      const p = maskOf(pred.data, label);
      const score: FrameScore = { frame, ...regionIoU(g, p), ...boundaryF(g, p, gt.width, gt.height) };
      const list = this.scores.get(label);
      if (list) list.push(score);
      else this.scores.set(label, [score]);
    }
  }

  /** Every scored label, ascending; the reported ones are those ever seen in the GT. */
  conclude(): LabelScore[] {
    return [...this.scores.keys()].sort((a, b) => a - b).map((label) => {
      const frames = this.scores.get(label) as FrameScore[];
      return {
        label,
        reported: this.seenInGt.has(label),
        J: numpyMean(frames.map((f) => f.J)) * 100,
        F: numpyMean(frames.map((f) => f.F)) * 100,
        frames,
      };
    });
  }
}
