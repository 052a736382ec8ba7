/**
 * The SAM2Long memory tree: plain data and pure policies, no tensors. The tensors of each (frame, slot)
 * live with the caller; these functions say which slots to read, how to weight them, and which
 * candidates survive. Each policy is one function type, so a variant can replace it.
 */
export {
  type SlotRecord,
  type MemoryTree,
  type SlotSource,
  type FirstTrackedFrame,
  createTree,
  lastFrame,
  slotRecord,
  pathScores,
  pathSlots,
  pathBackwards,
  applySelection,
  bestPath,
  traceBack,
  settledFrames,
  slotOnFrame,
} from './tree.js';
export {
  type MemorySelectionOptions,
  type MemoryEntry,
  type MemorySelection,
  type MemorySelectionPolicy,
  SAM2LONG_IOU_THRESHOLD,
  memorySelectionOptions,
  selectMemory,
} from './memory-selection.js';
export {
  type WeightRange,
  type WeightPolicy,
  type KeyWeights,
  SAM2LONG_WEIGHT_RANGE,
  CONDITIONING_SCORE,
  memoryWeights,
  keyWeights,
} from './weighting.js';
export { type Candidate, type CandidateScoring, IOU_LOG_EPS, scoreCandidates } from './scoring.js';
export { type PruneResult, type PathPruning, SAM2LONG_UNCERTAINTY, pythonRound, prunePaths } from './pruning.js';
export { type TreeOptions, type TreeStepInfo, TREE_DEFAULTS, resolveTreeOptions } from './options.js';
