/**
 * SAM2Long's public settings: the number of paths, the thresholds of its policies, and the policies
 * themselves (a research variant replaces one). Plain data: the tracker that runs the tree reads them.
 */
import { InputError } from '../errors.js';
import type { MemorySelection, MemorySelectionPolicy } from './memory-selection.js';
import { SAM2LONG_IOU_THRESHOLD, selectMemory } from './memory-selection.js';
import { type PathPruning, type PruneResult, SAM2LONG_UNCERTAINTY, prunePaths } from './pruning.js';
import { type CandidateScoring, scoreCandidates } from './scoring.js';
import type { MemoryTree } from './tree.js';
import { type WeightPolicy, type WeightRange, SAM2LONG_WEIGHT_RANGE, memoryWeights } from './weighting.js';

export interface TreeOptions {
  /** P: paths kept per object (SAM2Long default 3). */
  pathways: number;
  /** A memory frame is usable when its IoU is above this (and the object is present). */
  iouThreshold: number;
  /** All |object score| ≤ this → the uncertain branch (keep distinct candidates). */
  uncertainty: number;
  /** Key re-weighting range [low, high] by object-score rank. */
  memoryWeights: WeightRange;
  /** Research hooks: replace a policy of the tree. */
  scoring: CandidateScoring;
  pruning: PathPruning;
  memorySelection: MemorySelectionPolicy;
  weighting: WeightPolicy;
  /** Sees every tree step's decisions (for logging, visualisation and tests). */
  onStep?: (step: TreeStepInfo) => void;
  /** Sees the low-res mask logits ([h4 × w4] each, in slot order) of the slots each tracked frame stores (per-path views). */
  onSlots?: (frame: number, objId: number, logits: readonly Float32Array[]) => void;
}

/** What one tree step decided for one object. */
export interface TreeStepInfo {
  frame: number;
  objId: number;
  /** The memory each old path read. */
  selections: MemorySelection[];
  /** Per old path: the decoder's IoU predictions and object score. */
  ious: number[][];
  objectScores: number[];
  prune: PruneResult;
  /** The tree after this frame. */
  tree: MemoryTree;
}

export const TREE_DEFAULTS: TreeOptions = {
  pathways: 3,
  iouThreshold: SAM2LONG_IOU_THRESHOLD,
  uncertainty: SAM2LONG_UNCERTAINTY,
  memoryWeights: SAM2LONG_WEIGHT_RANGE,
  scoring: scoreCandidates,
  pruning: prunePaths,
  memorySelection: selectMemory,
  weighting: memoryWeights,
};

export function resolveTreeOptions(o: Partial<TreeOptions>): TreeOptions {
  const r = { ...TREE_DEFAULTS, ...o };
  if (!Number.isInteger(r.pathways) || r.pathways < 1) throw new InputError(`tree.pathways must be a positive integer, found ${r.pathways}`);
  if (!(r.memoryWeights[0] <= r.memoryWeights[1])) throw new InputError(`tree.memoryWeights [${r.memoryWeights.join(', ')}] must be [low, high]`);
  return r;
}
