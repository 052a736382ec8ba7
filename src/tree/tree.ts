/**
 * The SAM2Long memory tree as plain data: which slot each path uses on every tracked frame, and the scalars
 * the policies read (IoU, object score, cumulative score). The tensors of a slot (memory features, object
 * pointer, mask) live elsewhere, stacked on a path dimension per frame and addressed by the same
 * (frame, slot) pairs.
 *
 * Representation. Every stored frame f ≥ s+1 keeps the slots created on it; a slot records the slot of
 * frame f−1 it extends (`parent`). A path is a chain of slots, so path p's history is found by walking
 * back from its head. The official predictor keeps one `frame → slot` dict per path and deep-copies it on
 * every frame; both describe the same thing, because a slot is created once and every path through it
 * shares its history. The chain form costs O(P) per frame instead of O(P·frames).
 *
 * Frame s (the prompt frame) is not stored: it is the conditioning memory of every path. Frame s+1 is
 * tracked once (one slot, parent −1) and every path starts from it with score 0.
 *
 * Every function here is pure: it returns a new tree and never changes the one it is given.
 */
import { InputError } from '../errors.js';
import { requireFinite, requireIndex } from './checks.js';

/** One slot of one stored frame. */
export interface SlotRecord {
  /** The slot of the previous stored frame this slot extends; −1 on frame s+1. */
  readonly parent: number;
  /** Predicted IoU of the mask kept in this slot (the f32 value, as a JS number). */
  readonly iou: number;
  /** Object-score logit of the decode that produced this slot (the parent path's decode). */
  readonly objectScore: number;
  /** Cumulative path score up to and including this frame (float64, as the reference keeps it). */
  readonly score: number;
}

export interface MemoryTree {
  /** s: the conditioning (prompt) frame. */
  readonly startFrame: number;
  /** P: the number of paths kept after every frame. */
  readonly numPaths: number;
  /** frames[k]: the slots of frame s+1+k. */
  readonly frames: readonly (readonly SlotRecord[])[];
  /** heads[p]: the slot that path p uses on the last stored frame. */
  readonly heads: readonly number[];
}

/** What the tree needs to know about a kept candidate to store it as a new slot. */
export interface SlotSource {
  /** The old path it extends. */
  readonly parent: number;
  readonly iou: number;
  readonly objectScore: number;
  readonly score: number;
}

export interface FirstTrackedFrame {
  /** s, the conditioning frame. */
  startFrame: number;
  /** P. */
  numPaths: number;
  /** Frame s+1's stored IoU: the best of its multimask IoU predictions. */
  iou: number;
  /** Frame s+1's object-score logit. */
  objectScore: number;
}



/** The tree after the single-path frame s+1: every path uses its only slot, with score 0. */
export function createTree(first: FirstTrackedFrame): MemoryTree {
  const { startFrame, numPaths, iou, objectScore } = first;
  if (!Number.isInteger(startFrame) || startFrame < 0) throw new InputError(`startFrame must be a non-negative integer, found ${startFrame}`);
  if (!Number.isInteger(numPaths) || numPaths < 1) throw new InputError(`numPaths must be a positive integer, found ${numPaths}`);
  requireFinite('frame s+1 IoU', iou);
  requireFinite('frame s+1 object score', objectScore);
  return {
    startFrame,
    numPaths,
    frames: [[{ parent: -1, iou, objectScore, score: 0 }]],
    heads: new Array<number>(numPaths).fill(0),
  };
}

/** The last frame stored in the tree. */
export function lastFrame(tree: MemoryTree): number {
  return tree.startFrame + tree.frames.length;
}

/** The slot record of `slot` on `frame` (s+1 ≤ frame ≤ lastFrame). */
export function slotRecord(tree: MemoryTree, frame: number, slot: number): SlotRecord {
  if (!Number.isInteger(frame) || frame <= tree.startFrame || frame > lastFrame(tree)) {
    throw new InputError(`frame ${frame} is not stored: the tree holds frames ${tree.startFrame + 1}..${lastFrame(tree)}`);
  }
  const slots = tree.frames[frame - tree.startFrame - 1];
  requireIndex(`slot on frame ${frame}`, slot, slots.length);
  return slots[slot];
}

/** The cumulative score of every path, in path order. */
export function pathScores(tree: MemoryTree): number[] {
  const last = tree.frames[tree.frames.length - 1];
  return tree.heads.map((slot) => last[slot].score);
}

/**
 * Path p's slots from the last stored frame backwards, lazily: [k, slot] means frame s+1+k. Callers that
 * need only recent history stop early, so a long video does not cost a full walk per path and frame.
 */
export function* pathBackwards(tree: MemoryTree, path: number): Generator<[k: number, slot: number]> {
  requireIndex('path', path, tree.numPaths);
  let slot = tree.heads[path];
  for (let k = tree.frames.length - 1; k >= 0; k--) {
    yield [k, slot];
    slot = tree.frames[k][slot].parent;
  }
}

/** Path p's slot on every stored frame: element k is its slot on frame s+1+k. */
export function pathSlots(tree: MemoryTree, path: number): number[] {
  const slots = new Array<number>(tree.frames.length);
  for (const [k, slot] of pathBackwards(tree, path)) slots[k] = slot;
  return slots;
}

/**
 * Stores the kept candidates of the next frame as its slots: kept[k] becomes slot k, extending the slot
 * its parent path used, and path k now ends there.
 */
export function applySelection(tree: MemoryTree, kept: readonly SlotSource[]): MemoryTree {
  if (kept.length !== tree.numPaths) throw new InputError(`a selection must keep ${tree.numPaths} candidates, found ${kept.length}`);
  const slots = kept.map((c, k): SlotRecord => {
    requireIndex(`kept[${k}].parent`, c.parent, tree.numPaths);
    requireFinite(`kept[${k}].score`, c.score);
    requireFinite(`kept[${k}].iou`, c.iou);
    requireFinite(`kept[${k}].objectScore`, c.objectScore);
    return { parent: tree.heads[c.parent], iou: c.iou, objectScore: c.objectScore, score: c.score };
  });
  return { ...tree, frames: [...tree.frames, slots], heads: kept.map((_, k) => k) };
}

/**
 * The best final path: the highest cumulative score, the lowest path index on ties. With the SAM2Long
 * pruning this is always path 0, since the top candidate is always kept first.
 */
export function bestPath(tree: MemoryTree): number {
  const scores = pathScores(tree);
  return scores.reduce((best, s, p) => (s > scores[best] ? p : best), 0);
}

/** The hindsight output: the best final path's slot on every stored frame (element k: frame s+1+k). */
export function traceBack(tree: MemoryTree): number[] {
  return pathSlots(tree, bestPath(tree));
}

/**
 * The last frame up to which every path has the same slot history: frames s..settledFrames(tree) can be
 * output (and their other slots freed) before the video ends, since no later choice can change them.
 * Paths that share a slot share all of its history, so this is the latest frame where all heads' chains meet.
 */
export function settledFrames(tree: MemoryTree): number {
  let slots = [...tree.heads];
  for (let k = tree.frames.length - 1; k >= 0; k--) {
    if (slots.every((slot) => slot === slots[0])) return tree.startFrame + 1 + k;
    const frame = tree.frames[k];
    slots = slots.map((slot) => frame[slot].parent);
  }
  return tree.startFrame;
}

/** Path `path`'s slot on `frame`, walking back only as far as that frame. */
export function slotOnFrame(tree: MemoryTree, path: number, frame: number): number {
  for (const [k, slot] of pathBackwards(tree, path)) if (tree.startFrame + 1 + k === frame) return slot;
  throw new InputError(`frame ${frame} is not stored in the tree`);
}
