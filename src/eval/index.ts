/** `sam2long eval`: J&F of predicted masks against GT masks, as the official SA-V evaluator computes it. */
export {
  type RegionScore,
  type BoundaryScore,
  BOUNDARY_THRESHOLD,
  regionIoU,
  boundaryF,
  boundaryMap,
  boundaryRadius,
  diskOffsets,
  dilate,
} from './metrics.js';
export { numpySum, numpyMean } from './mean.js';
export { type FrameScore, type LabelScore, SequenceEvaluator, distinctValues } from './sequence-evaluator.js';
export {
  type Layout,
  type EvaluateOptions,
  type ObjectScore,
  type VideoScore,
  type EvaluationResult,
  evaluateTrees,
} from './benchmark.js';
export { formatOneDecimal, formatResultTable } from './report.js';
export type { LabelMap, FolderEntry, MaskTree } from './mask-tree.js';
