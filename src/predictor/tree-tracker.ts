/**
 * SAM2Long propagation: the one place where the memory tree (src/tree, plain data) meets the model.
 * Every object has its own tree, grown from the frame it is prompted on (objects may start on different
 * frames, as SAM2Long's per-object dataset script runs them); all objects × paths are one batch row each, so
 * a frame costs one memory-attention + decoder call and one memory-encoder call (plus one step for objects
 * on the frame after their prompt), and the image encoder runs once.
 *
 * Tensors of a tracked frame are stacked on the path (slot) dimension. They are kept only while some path
 * can still read them; masks of frames whose history every path shares are emitted as final and freed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { objectPointerLimit } from '../config.js';
import { InputError } from '../errors.js';
import type { ItemMemory } from '../model/memory-prompt.js';
import type { FrameFeatures, Sam2Model } from '../model/sam2.js';
import {
  type MemorySelection, type MemoryTree, type TreeOptions,
  applySelection, createTree, keyWeights, memorySelectionOptions, pathScores,
  settledFrames, traceBack, bestPath, slotOnFrame, slotRecord,
} from '../tree/index.js';
import { readFrameResults, type FrameResult, type PendingResult, type ResultRow } from './frame-results.js';
import { onHostBackend, readTogether } from '../ops/host-read.js';
import { trackRows, type Tracker } from './tracker.js';
import type { ObjectState, StoredOutput, VideoState } from './video-state.js';
import { gatherRows, takeRows } from '../ops/take-rows.js';

/**
 * The tensors of one tracked frame for one object, one per slot (1 on frame s+1, P after): paths read them
 * as they are, with no per-step gather.
 */
interface SlotTensors {
  /** n × [HW, memDim] */
  maskmem: tf.Tensor2D[];
  /** n × [C] */
  objPtr: tf.Tensor1D[];
}

/** Rows `rows` of stacked per-slot outputs, one tensor per slot (a row may serve several slots). */
// maskmem [R, HW, memDim], objPtr [R, C] → SlotTensors of rows.length slots
function slotTensors(maskmem: tf.Tensor3D, objPtr: tf.Tensor2D, rows: readonly number[]): SlotTensors {
  return {
    maskmem: tf.tidy(() => takeRows(maskmem, rows)) as tf.Tensor2D[],
    objPtr: tf.tidy(() => takeRows(objPtr, rows)) as tf.Tensor1D[],
  };
}

function disposeSlots(st: SlotTensors): void {
  tf.dispose([...st.maskmem, ...st.objPtr]);
}

/** An object and its prompt frame `start`, before its tree exists (frame start + 1 grows it). */
interface ObjectStart {
  obj: ObjectState;
  cond: StoredOutput;
  start: number;
}

interface ObjectTree extends ObjectStart {
  tree: MemoryTree;
  tensors: Map<number, SlotTensors>;
  /** Low-res logits of every slot of frames not yet final. */
  masks: Map<number, Float32Array[]>;
  /** Per stored frame: for each slot, the first slot holding the same candidate (identical paths share data). */
  sameAs: Map<number, number[]>;
}

export class TreeTracker implements Tracker {
  /** Every object (in state order) with its prompt frame; its tree from the frame after that one. */
  private starts: ObjectStart[] = [];
  private trees: (ObjectTree | undefined)[] = [];
  /** Frames up to this one have been yielded as final. */
  private finalUpTo = -1;
  private lastFrame = -1;

  constructor(private readonly model: Sam2Model, private readonly state: VideoState, private readonly opts: TreeOptions) {}

  /** Tracks the frames of `order` (forward, consecutive, starting at the prompt frame). */
  async *run(order: AsyncIterable<number>): AsyncGenerator<FrameResult> {
    let started = false;
    const depth = onHostBackend() ? 0 : 1;
    const reading: Promise<FrameResult[]>[] = [];
    try {
      for await (const frame of order) {
        if (!started) {
          started = true;
          this.starts = this.objectStarts(frame);
          this.trees = this.starts.map(() => undefined);
          this.finalUpTo = frame - 1;
        }
        this.lastFrame = frame;
        const growing = this.trees.filter((t): t is ObjectTree => t !== undefined);
        const first = this.starts.filter((s) => s.start === frame - 1);
        if (growing.length || first.length) {
          const features = await this.state.features(frame, (img) => this.model.encodeImage(img));
          if (growing.length) await this.treeStep(features, frame, growing);
          if (first.length) await this.firstStep(features, frame, first);
        }
        for (const t of this.trees) t?.obj.tracked.set(frame, false);
        reading.push(this.read(this.emit(frame)));
        // On a GPU, a frame's results are read while the next frame computes (as greedy tracking does).
        while (reading.length > depth) yield* await (reading.shift() as Promise<FrameResult[]>);
      }
      if (started) reading.push(this.read(this.finish()));
      while (reading.length) yield* await (reading.shift() as Promise<FrameResult[]>);
    } finally {
      await Promise.allSettled(reading);
      this.dispose();
      this.state.dropFeatures();
    }
  }

  /** `pending` read in one asynchronous read (a failure is reported where the promise is awaited). */
  private read(pending: PendingResult[]): Promise<FrameResult[]> {
    const results = readFrameResults(this.state, this.model.sizes.lowResSize, pending);
    results.catch(() => undefined);
    return results;
  }

  /** Each object's single prompt frame, at or after the first tracked frame `first`. */
  private objectStarts(first: number): ObjectStart[] {
    return this.state.objects.map((obj) => {
      const [start, ...more] = [...obj.cond.keys()];
      if (start === undefined || more.length || start < first) {
        throw new InputError(`tree mode needs each object prompted on one frame, at or after the start frame ${first} (object ${obj.id}: ` +
          `frames ${[...obj.cond.keys()].join(', ') || 'none'})`);
      }
      return { obj, cond: obj.cond.get(start) as StoredOutput, start };
    });
  }

  private maxObjPtrs(): number {
    return objectPointerLimit(this.model.config, this.state.numFrames);
  }

  /** The frame after an object's prompt: one SAM 2 step per object on its conditioning memory; every path starts from it. */
  private async firstStep(features: FrameFeatures, frame: number, starts: ObjectStart[]): Promise<void> {
    const memories: ItemMemory[] = starts.map((t) => ({
      frames: [{ features: t.cond.maskmem as tf.Tensor2D, tpos: 0 }],
      pointers: [{ pointer: t.cond.objPtr, tdiff: Math.abs(frame - t.start) }],
    }));
    const out = trackRows(this.model, features, memories, this.maxObjPtrs(), this.model.useMultimask(false, 0));
    const bestIous = tf.tidy(() => tf.max(out.ious, 1));
    let ious: Float32Array, scores: Float32Array, lowRes: Float32Array;
    try {
      [ious, scores, lowRes] = await readTogether([bestIous, out.objectScores, out.lowRes]);
    } finally {
      tf.dispose([bestIous, out.ious, out.lowRes, out.objectScores]);
    }
    const area = lowRes.length / starts.length;
    starts.forEach((t, i) => {
      const tree = createTree({ startFrame: t.start, numPaths: this.opts.pathways, iou: ious[i], objectScore: scores[i] });
      const masks = [lowRes.slice(i * area, (i + 1) * area)];
      this.opts.onSlots?.(frame, t.obj.id, masks);
      this.trees[this.starts.indexOf(t)] = {
        ...t, tree,
        tensors: new Map([[frame, { maskmem: [out.maskmem[i]], objPtr: [out.objPtr[i]] }]]),
        masks: new Map([[frame, masks]]),
        sameAs: new Map([[frame, [0]]]),
      };
    });
  }

  /** One path's memory as model inputs, with SAM2Long's key weights. */
  private pathMemory(t: ObjectTree, sel: MemorySelection): ItemMemory {
    const w = keyWeights(sel, this.opts.memoryWeights, this.opts.weighting);
    const slotFeatures = (frame: number, slot: number) => (t.tensors.get(frame) as SlotTensors).maskmem[slot];
    const slotPointer = (frame: number, slot: number) => (t.tensors.get(frame) as SlotTensors).objPtr[slot];
    return {
      frames: [
        { features: t.cond.maskmem as tf.Tensor2D, tpos: 0, keyWeight: w?.frames[0] },
        ...sel.memoryFrames.map((m, i) => ({ features: slotFeatures(m.frame, m.slot), tpos: m.tpos, keyWeight: w?.frames[i + 1] })),
      ],
      pointers: [
        { pointer: t.cond.objPtr, tdiff: sel.conditioning.pointerTpos, keyWeight: w?.pointers[0] },
        ...sel.pointerFrames.map((m, i) => ({ pointer: slotPointer(m.frame, m.slot), tdiff: m.tpos, keyWeight: w?.pointers[i + 1] })),
      ],
    };
  }

  /** Frames ≥ start + 2 of `trees`: decode P paths per object in one batch, score and prune, encode the kept candidates. */
  private async treeStep(features: FrameFeatures, frame: number, trees: ObjectTree[]): Promise<void> {
    const P = this.opts.pathways;
    const selOpts = memorySelectionOptions(this.model.config, this.state.numFrames, this.opts.iouThreshold);
    const selections = trees.map((t) => Array.from({ length: P }, (_, p) => this.opts.memorySelection(t.tree, p, frame, selOpts)));
    // Paths that read the same memory decode identically (they still share a history): decode each once.
    const { unique, rowOf } = distinctRows(selections.flatMap((sels, o) => sels.map((sel) => `${o}:${this.memoryKey(trees[o], sel)}`)));
    const decoded = tf.tidy(() => {
      const memories = unique.map((r) => this.pathMemory(trees[Math.floor(r / P)], selections[Math.floor(r / P)][r % P]));
      // Low-res candidates only: the kept ones are upsampled by encodeMemory, a few rows at a time.
      const heads = this.model.trackStep(features, memories, this.maxObjPtrs(), { multimask: true, allPointers: true, highRes: false });
      return {
        lowRes: heads.lowResMultimasks, ious: heads.ious,
        scores: tf.reshape(heads.objectScoreLogits, [-1]), pointers: heads.objPtrAll as tf.Tensor3D,
      };
    });
    const m = decoded.ious.shape[1];
    // The decision inputs, in one read: what the tree must know before the frame's memory can be encoded. The
    // candidates' low-res masks come with them (the kept ones are the paths' masks), so that no second read
    // has to wait for the memory encoder.
    let ious: Float32Array, scores: Float32Array, candidates: Float32Array;
    try {
      [ious, scores, candidates] = await readTogether([decoded.ious, decoded.scores, decoded.lowRes]);
    } catch (err) {
      tf.dispose(decoded);
      throw err;
    }
    // Decide per object which (parent, j) candidates survive; paths are object-major.
    const picks: number[] = [];
    const keptScores: number[] = [];
    for (const [o, t] of trees.entries()) {
      const rows = Array.from({ length: P }, (_, p) => rowOf[o * P + p]);
      const rowIous = rows.map((r) => Array.from(ious.subarray(r * m, (r + 1) * m)));
      const rowScores = rows.map((r) => scores[r]);
      const prune = this.opts.pruning(this.opts.scoring(pathScores(t.tree), rowIous, rowScores), rowScores, P, this.opts.uncertainty);
      const { kept } = prune;
      t.tree = applySelection(t.tree, kept);
      this.opts.onStep?.({ frame, objId: t.obj.id, selections: selections[o], ious: rowIous, objectScores: rowScores, prune, tree: t.tree });
      for (const c of kept) {
        picks.push(rowOf[o * P + c.parent] * m + c.j);
        keptScores.push(c.objectScore);
      }
    }
    // Kept candidates that are the same decoded mask (identical paths) are encoded once.
    const distinctPicks = distinctRows(picks.map(String));
    // The distinct kept candidates: slot k of object o reads row distinctPicks.rowOf[o·P + k].
    const pickIdx = distinctPicks.unique.map((i) => picks[i]);
    const kept = tf.tidy(() => {
      const [b, , h4, w4] = decoded.lowRes.shape;
      const n = distinctPicks.unique.length;
      const lowRes = gatherRows(tf.reshape(decoded.lowRes, [b * m, h4 * w4]) as tf.Tensor2D, pickIdx);
      const scores = tf.tensor2d(distinctPicks.unique.map((i) => keptScores[i]), [n, 1]);
      return {
        maskmem: this.model.encodeMemory(features, tf.reshape(lowRes, [n, h4, w4, 1]), scores, false),
        objPtr: gatherRows(tf.reshape(decoded.pointers, [b * m, -1]) as tf.Tensor2D, pickIdx),
      };
    });
    const area = decoded.lowRes.shape[2] * decoded.lowRes.shape[3];
    tf.dispose(decoded);
    trees.forEach((t, o) => {
      const own = distinctPicks.rowOf.slice(o * P, (o + 1) * P);
      t.tensors.set(frame, slotTensors(kept.maskmem, kept.objPtr, own));
      t.masks.set(frame, own.map((row) => candidates.slice(pickIdx[row] * area, (pickIdx[row] + 1) * area)));
      this.opts.onSlots?.(frame, t.obj.id, t.masks.get(frame) as Float32Array[]);
      t.sameAs.set(frame, own.map((u) => own.indexOf(u)));
      this.forgetUnreachable(t, frame + 1, selOpts);
    });
    tf.dispose(kept);
  }

  /** What a path's memory reads, with each slot replaced by the first slot holding the same data. */
  private memoryKey(t: ObjectTree, sel: MemorySelection): string {
    const canonical = (e: { frame: number; slot: number; tpos: number; objectScore: number }) =>
      [e.frame, (t.sameAs.get(e.frame) as number[])[e.slot], e.tpos, e.objectScore];
    return JSON.stringify([sel.conditioning, sel.memoryFrames.map(canonical), sel.pointerFrames.map(canonical)]);
  }

  /** Frees stacked tensors of frames no path can read on frame `next` or later. */
  private forgetUnreachable(t: ObjectTree, next: number, selOpts: ReturnType<typeof memorySelectionOptions>): void {
    const needed = new Set<number>([next - 1]);
    for (let p = 0; p < this.opts.pathways; p++) {
      const sel = this.opts.memorySelection(t.tree, p, next, selOpts);
      for (const e of [...sel.memoryFrames, ...sel.pointerFrames]) needed.add(e.frame);
    }
    for (const [frame, st] of t.tensors) {
      if (!needed.has(frame)) {
        disposeSlots(st);
        t.tensors.delete(frame);
        t.sameAs.delete(frame);
      }
    }
  }

  /**
   * The online result for `frame` (best path, provisional) and final results for newly settled frames: up to
   * the earliest frame some started object's paths still disagree on (an object's prompt frame is settled).
   */
  private emit(frame: number): PendingResult[] {
    const out: PendingResult[] = [];
    const started = this.starts.filter((s) => s.start <= frame);
    const settled = Math.min(frame, ...started.map((s) => {
      const t = this.trees[this.starts.indexOf(s)];
      return t ? settledFrames(t.tree) : s.start;
    }));
    if (frame > settled) {
      out.push(this.result(frame, (t) => t.tree.heads[bestPath(t.tree)], false));
    }
    for (let f = this.finalUpTo + 1; f <= settled; f++) {
      out.push(this.result(f, (t) => slotOnFrame(t.tree, 0, f), true));
      for (const t of this.trees) t?.masks.delete(f);
    }
    this.finalUpTo = Math.max(this.finalUpTo, settled);
    return out;
  }

  /** After the last frame: the hindsight masks, each object's best final path traced back. */
  private finish(): PendingResult[] {
    const traced = this.trees.map((t) => t && traceBack(t.tree));
    const out: PendingResult[] = [];
    for (let f = this.finalUpTo + 1; f <= this.lastFrame; f++) {
      out.push(this.result(f, (t, i) => (traced[i] as number[])[f - t.start - 1], true));
    }
    this.finalUpTo = this.lastFrame;
    return out;
  }

  /**
   * A frame result; `slotOf` picks the slot of each object with a tree past its prompt frame. An object shows
   * its prompt's mask on its prompt frame and nothing before it.
   */
  private result(frame: number, slotOf: (t: ObjectTree, i: number) => number, final: boolean): PendingResult {
    const rows = this.state.objects.map((_, i): ResultRow | undefined => {
      const s = this.starts[i];
      if (frame < s.start) return undefined;
      if (frame === s.start) return { logits: s.cond.predMasks, objectScore: s.cond.objectScore };
      const t = this.trees[i] as ObjectTree;
      const slot = slotOf(t, i);
      return { logits: (t.masks.get(frame) as Float32Array[])[slot], objectScore: slotRecord(t.tree, frame, slot).objectScore };
    });
    return { frame, rows, final };
  }

  private dispose(): void {
    for (const t of this.trees) {
      t?.tensors.forEach(disposeSlots);
      t?.tensors.clear();
      t?.masks.clear();
    }
  }
}

/** The first occurrence of each distinct key, and for every key the index of its first occurrence in `unique`. */
function distinctRows(keys: string[]): { unique: number[]; rowOf: number[] } {
  const first = new Map<string, number>();
  const unique: number[] = [];
  const rowOf = keys.map((key, i) => {
    let u = first.get(key);
    if (u === undefined) {
      u = unique.length;
      first.set(key, u);
      unique.push(i);
    }
    return u;
  });
  return { unique, rowOf };
}
