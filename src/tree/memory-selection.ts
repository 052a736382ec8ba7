/**
 * Memory selection policy: which past frames one path attends to when it tracks frame t.
 *
 * Signature (`MemorySelectionPolicy`): `(tree, path, t, opts) → MemorySelection`. Given the tree after
 * frame t−1 and one of its paths, it returns that path's spatial memories and object pointers as
 * (frame, slot) pairs with their temporal positions; the caller gathers the tensors of those slots.
 * The conditioning frame s is not a tree frame: it is always the first spatial memory (t_pos 0) and the
 * first pointer (position |t − s|), and the selection only reports that position.
 *
 * SAM2Long's rule (`selectMemory`):
 * 1. Scan frames t−1, t−2, …, s+1 along the path. A frame is usable when its slot's IoU > iouThreshold
 *    and its object score > 0 (both strict). Stop after maxObjPtrs − 1 usable frames. Then add t−1 at
 *    the end if it is not already there: the previous frame is always used. Call this list V (oldest first).
 * 2. Spatial memories: the last numMaskmem − 1 entries of V, positioned by rank, not by time distance:
 *    the newest gets t_pos numMaskmem − 1, the one before numMaskmem − 2, and so on.
 * 3. Object pointers: V[−1], V[−2], … at positions 1, 2, … while the position is below len(V) and below
 *    maxObjPtrs, so the oldest entry of V never contributes a pointer.
 */
import { InputError } from '../errors.js';
import { objectPointerLimit, type Sam2ModelConfig } from '../config.js';
import { type MemoryTree, lastFrame, pathBackwards } from './tree.js';

/** SAM2Long's default IoU threshold for a usable memory frame (`iou_thre`). */
export const SAM2LONG_IOU_THRESHOLD = 0.1;

export interface MemorySelectionOptions {
  /** num_maskmem: the conditioning frame plus up to numMaskmem − 1 spatial memories. */
  readonly numMaskmem: number;
  /** min(num_frames, max_obj_ptrs_in_encoder): the pointer count limit, conditioning pointer included. */
  readonly maxObjPtrs: number;
  /** A frame is usable only when its slot's IoU is strictly above this. */
  readonly iouThreshold: number;
}

/** One selected past frame of a path. */
export interface MemoryEntry {
  readonly frame: number;
  /** The path's slot on that frame: the index into that frame's stacked tensors. */
  readonly slot: number;
  /** Spatial memories: t_pos (maskmem_tpos_enc[numMaskmem − t_pos − 1]); pointers: the position fed to the pointer's sine PE. */
  readonly tpos: number;
  /** The slot's object-score logit (what the key weighting ranks). */
  readonly objectScore: number;
}

export interface MemorySelection {
  /** The conditioning frame s: spatial memory at t_pos 0 and the first pointer, at position |t − s|. */
  readonly conditioning: { readonly frame: number; readonly pointerTpos: number };
  /** Non-conditioning spatial memories, oldest first (t_pos ascending). */
  readonly memoryFrames: readonly MemoryEntry[];
  /** Non-conditioning object pointers, nearest first (position 1, 2, …). */
  readonly pointerFrames: readonly MemoryEntry[];
}

export type MemorySelectionPolicy = (tree: MemoryTree, path: number, t: number, opts: MemorySelectionOptions) => MemorySelection;

/** The options from the model config and the video length (the pointer limit is capped by num_frames). */
export function memorySelectionOptions(
  model: Pick<Sam2ModelConfig, 'num_maskmem' | 'max_obj_ptrs_in_encoder'>,
  numFrames: number,
  iouThreshold = SAM2LONG_IOU_THRESHOLD,
): MemorySelectionOptions {
  return { numMaskmem: model.num_maskmem, maxObjPtrs: objectPointerLimit(model, numFrames), iouThreshold };
}

interface PathFrame {
  frame: number;
  slot: number;
  objectScore: number;
}

/** Step 1: the path's usable frames V, oldest first, always ending with t−1. */
function usableFrames(tree: MemoryTree, path: number, opts: MemorySelectionOptions): PathFrame[] {
  const entryAt = (k: number, slot: number): PathFrame => ({ frame: tree.startFrame + 1 + k, slot, objectScore: tree.frames[k][slot].objectScore });
  const usable: PathFrame[] = [];
  let previous: PathFrame | undefined;
  for (const [k, slot] of pathBackwards(tree, path)) {
    previous ??= entryAt(k, slot);
    const record = tree.frames[k][slot];
    if (record.iou > opts.iouThreshold && record.objectScore > 0) usable.push(entryAt(k, slot));
    if (usable.length >= opts.maxObjPtrs - 1) break;
  }
  usable.reverse();
  if (previous && (usable.length === 0 || usable[usable.length - 1].frame !== previous.frame)) usable.push(previous);
  return usable;
}

function checkOptions(opts: MemorySelectionOptions): void {
  if (!Number.isInteger(opts.numMaskmem) || opts.numMaskmem < 1) throw new InputError(`numMaskmem must be a positive integer, found ${opts.numMaskmem}`);
  if (!Number.isInteger(opts.maxObjPtrs) || opts.maxObjPtrs < 1) throw new InputError(`maxObjPtrs must be a positive integer, found ${opts.maxObjPtrs}`);
  if (Number.isNaN(opts.iouThreshold)) throw new InputError('iouThreshold is NaN');
}

/** SAM2Long's object-aware memory selection for path `path` on frame t (t must be the frame after the tree's last). */
export function selectMemory(tree: MemoryTree, path: number, t: number, opts: MemorySelectionOptions): MemorySelection {
  checkOptions(opts);
  if (t !== lastFrame(tree) + 1) throw new InputError(`memory is selected for the frame after the tree's last (${lastFrame(tree) + 1}), found frame ${t}`);
  const usable = usableFrames(tree, path, opts);
  const spatial = usable.slice(Math.max(0, usable.length - (opts.numMaskmem - 1)));
  const memoryFrames = spatial.map((f, i) => ({ ...f, tpos: opts.numMaskmem - spatial.length + i }));
  const pointerCount = Math.min(usable.length - 1, opts.maxObjPtrs - 1);
  const pointerFrames = Array.from({ length: pointerCount }, (_, i) => ({ ...usable[usable.length - 1 - i], tpos: i + 1 }));
  return { conditioning: { frame: tree.startFrame, pointerTpos: Math.abs(t - tree.startFrame) }, memoryFrames, pointerFrames };
}
