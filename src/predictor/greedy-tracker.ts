/**
 * Greedy SAM 2 propagation (official SAM2VideoPredictor semantics): every object remembers its conditioning
 * frames and its last few tracked frames, and all objects are one batch of each model call. An object prompted
 * later than the start frame is tracked from its prompt on, as if it ran alone from there (the official
 * per-object dataset script).
 */
import * as tf from '@tensorflow/tfjs-core';
import { objectPointerLimit } from '../config.js';
import type { ItemMemory } from '../model/memory-prompt.js';
import type { Sam2Model } from '../model/sam2.js';
import { readFrameResults, type FrameResult } from './frame-results.js';
import { onHostBackend } from '../ops/host-read.js';
import { selectGreedyMemory, type GreedyMemoryOptions } from './memory-bank.js';
import { trackRows, type Tracker } from './tracker.js';
import { fillHoles } from './transforms.js';
import { disposeOutput, type ObjectState, type StoredOutput, type VideoState } from './video-state.js';
import { takeRows, rowIndices } from '../ops/take-rows.js';

export interface GreedyTrackerOptions {
  /** Tracking towards earlier frames. */
  reverse: boolean;
  /** Fill background holes up to this area (pixels of the low-res mask); 0 = off. */
  fillHoleArea: number;
}

/** A step's low-res logits as stored and shown: holes filled when `fillHoleArea` > 0 (off in the golden settings). */
// [B, 1, h4, w4] → same
export async function storedLowRes(lowRes: tf.Tensor4D, fillHoleArea: number): Promise<tf.Tensor4D> {
  return fillHoleArea > 0 ? fillHoles(lowRes, fillHoleArea) : tf.clone(lowRes);
}

function greedyOptions(model: Sam2Model, state: VideoState, reverse: boolean): GreedyMemoryOptions {
  const c = model.config;
  return {
    numMaskmem: c.num_maskmem,
    stride: c.memory_temporal_stride_for_eval,
    maxCondFrames: c.max_cond_frames_in_attn,
    maxObjPtrs: objectPointerLimit(c, state.numFrames),
    numFrames: state.numFrames,
    reverse,
    useObjPtrs: c.use_obj_ptrs_in_encoder,
    signedTpos: c.use_signed_tpos_enc_to_obj_ptrs,
    onlyPastPointers: c.only_obj_ptrs_in_the_past_for_eval,
  };
}

/** Each object's greedy SAM 2 memory for `frame`, as tensors. */
export function greedyMemories(model: Sam2Model, state: VideoState, objects: ObjectState[], frame: number, reverse: boolean): ItemMemory[] {
  const opts = greedyOptions(model, state, reverse);
  return objects.map((obj) => {
    const sel = selectGreedyMemory(frame, [...obj.cond.keys()], (t) => obj.nonCond.has(t), opts);
    const stored = (t: number, cond: boolean) => (cond ? obj.cond.get(t) : obj.nonCond.get(t)) as StoredOutput;
    return {
      frames: sel.frames.map((f) => ({ features: stored(f.frame, f.cond).maskmem as tf.Tensor2D, tpos: f.tpos })),
      pointers: sel.pointers.map((p) => ({ pointer: stored(p.frame, p.cond).objPtr, tdiff: p.tdiff })),
    };
  });
}

export class GreedyTracker implements Tracker {
  constructor(private readonly model: Sam2Model, private readonly state: VideoState, private readonly opts: GreedyTrackerOptions) {}

  async *run(order: AsyncIterable<number>): AsyncGenerator<FrameResult> {
    const { state, opts } = this;
    // On a GPU, frame t's result is read while frame t + 1 computes: its read is awaited only once the next
    // frame's work is enqueued. On the host backends a read is a copy and nothing runs meanwhile.
    const depth = onHostBackend() ? 0 : 1;
    const reading: Promise<FrameResult>[] = [];
    try {
      for await (const frame of order) {
        // An object is tracked from its first prompt on (in tracking order); before it, it has no mask.
        const started = state.objects.filter((o) => [...o.cond.keys()].some((c) => (opts.reverse ? c >= frame : c <= frame)));
        const toRun = started.filter((o) => !o.cond.has(frame));
        const scores = toRun.length ? await this.trackObjects(toRun, frame) : new Map<ObjectState, tf.Tensor>();
        for (const o of started) o.tracked.set(frame, opts.reverse);
        const read = this.readResult(frame, scores);
        // Awaited below (or by the finally block); until then a failure must not count as unhandled.
        read.catch(() => undefined);
        reading.push(read);
        tf.dispose([...scores.values()]);
        while (reading.length > depth) yield await (reading.shift() as Promise<FrameResult>);
        this.forgetOutsideWindow(frame);
      }
      while (reading.length) yield await (reading.shift() as Promise<FrameResult>);
    } finally {
      // A consumer that stops early: the reads still in flight free their tensors when they end.
      await Promise.allSettled(reading);
      state.dropFeatures();
    }
  }

  /**
   * Frame `frame`'s result, read in one asynchronous read (its device work enqueued before this returns);
   * the object scores of the outputs tracked on it (`scores`, on the device until then) are stored once read.
   */
  private async readResult(frame: number, scores: Map<ObjectState, tf.Tensor>): Promise<FrameResult> {
    const outs = this.state.objects.map((o) => o.cond.get(frame) ?? o.nonCond.get(frame));
    const rows = outs.map((out, i) => out && { logits: out.predMasks, objectScore: scores.get(this.state.objects[i]) ?? out.objectScore });
    const [result] = await readFrameResults(this.state, this.model.sizes.lowResSize, [{ frame, rows, final: true }]);
    outs.forEach((out, i) => {
      if (out && scores.has(this.state.objects[i])) out.objectScore = result.objectScores[i];
    });
    return result;
  }

  /**
   * One batched greedy step for `objects` on `frame`; stores each object's output with its new memory. Returns
   * each object's score logit on the device ([1]), which its stored output gets once the frame's result is read.
   */
  private async trackObjects(objects: ObjectState[], frame: number): Promise<Map<ObjectState, tf.Tensor>> {
    const { model, state, opts } = this;
    const features = await state.features(frame, (img) => model.encodeImage(img));
    const memories = greedyMemories(model, state, objects, frame, opts.reverse);
    const rows = trackRows(model, features, memories, objectPointerLimit(model.config, state.numFrames), model.useMultimask(false, 0));
    const lowRes = await storedLowRes(rows.lowRes, opts.fillHoleArea);
    const predMasks = tf.tidy(() => takeRows(tf.squeeze(lowRes, [1]), rowIndices(objects.length)) as tf.Tensor2D[]);
    const scores = new Map(objects.map((obj, b) => [obj, tf.slice(rows.objectScores, [b], [1])]));
    objects.forEach((obj, b) => {
      const stored: StoredOutput = {
        maskmem: rows.maskmem[b],
        predMasks: predMasks[b],
        objPtr: rows.objPtr[b],
        objectScore: NaN,
      };
      disposeOutput(obj.nonCond.get(frame));
      obj.nonCond.set(frame, stored);
    });
    tf.dispose([lowRes, rows.lowRes, rows.ious, rows.objectScores]);
    return scores;
  }

  /**
   * Drops stored outputs no later frame can read: outside the memory window behind the tracking front and
   * not near a conditioning frame (a later propagation in the other direction starts from those).
   */
  private forgetOutsideWindow(frame: number): void {
    const c = this.model.config;
    const { state, opts } = this;
    const window = Math.max((c.num_maskmem + 1) * c.memory_temporal_stride_for_eval, objectPointerLimit(c, state.numFrames));
    for (const obj of state.objects) {
      const anchors = [...obj.cond.keys()];
      for (const t of [...obj.nonCond.keys()]) {
        const behind = opts.reverse ? t - frame : frame - t;
        const nearAnchor = anchors.some((a) => Math.abs(a - t) <= window);
        if (behind > window && !nearAnchor) {
          disposeOutput(obj.nonCond.get(t));
          obj.nonCond.delete(t);
        }
      }
    }
  }
}
