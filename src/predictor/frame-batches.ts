/**
 * Frame-batched image encoding (GPU backends): the encoder does not depend on memory, so when propagation asks
 * for a frame's features, that frame and the next ones it will visit are encoded in one batch and kept until
 * asked for. One batched run dispatches the encoder's kernels once for k frames, which is what a GPU pays for
 * per kernel. k comes from the binding limit: the encoder's largest tensor for k frames must fit under
 * maxTensorBytes() (so a batch never makes the model split its rows), and at most MAX_ENCODE_BATCH.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maxTensorBytes } from '../backend-limits.js';
import { disposeFeatures, type FrameFeatures, type Sam2Model } from '../model/sam2.js';
import type { FramePipeline, FrameProvider, PipelinePlan } from './video-state.js';

/** Frames encoded ahead at most: their features wait on the device until tracked. */
export const MAX_ENCODE_BATCH = 8;

/** Backends that dispatch each kernel to a device, where one batched run saves a dispatch per kernel and frame. */
const GPU_BACKENDS = new Set(['webgpu', 'webgl']);

/**
 * Frames per encoder run: `requested` when given (tests force it on any backend); else on GPU backends as many
 * as the binding limit allows, up to MAX_ENCODE_BATCH; 1 on the CPU backends, where a batch gains nothing
 * (the worker pipeline uses the other core instead).
 */
export function encodeBatchSize(model: Sam2Model, requested: number | 'auto' = 'auto'): number {
  if (requested !== 'auto') return Math.max(1, Math.floor(requested));
  if (!GPU_BACKENDS.has(tf.getBackend())) return 1;
  return Math.max(1, Math.min(MAX_ENCODE_BATCH, Math.floor(maxTensorBytes() / model.encoderBytesPerFrame())));
}

export class FrameBatches implements FramePipeline {
  /** frame → its features, encoded in an earlier batch and not yet asked for. */
  private readonly ahead = new Map<number, FrameFeatures>();

  constructor(private readonly model: Sam2Model, private readonly frames: FrameProvider, private readonly plan: PipelinePlan, private readonly size: number) {}

  async features(frame: number, encodeHere: () => Promise<FrameFeatures>): Promise<FrameFeatures> {
    const mine = this.ahead.get(frame);
    this.ahead.delete(frame);
    if (mine) return mine;
    // A jump (a frame out of the plan's order): what was encoded ahead is not coming.
    this.discardAhead();
    const inputs = await this.batchInputs(frame);
    if (inputs.length === 1) {
      inputs[0].dispose();
      return encodeHere();
    }
    let features: FrameFeatures[];
    try {
      const batch = tf.concat(inputs, 0) as tf.Tensor4D;
      features = this.model.encodeImages(batch);
      batch.dispose();
    } finally {
      tf.dispose(inputs);
    }
    features.slice(1).forEach((f, i) => this.ahead.set(frame + (i + 1) * this.plan.step, f));
    return features[0];
  }

  /** Frees the features encoded ahead. */
  close(): void {
    this.discardAhead();
  }

  /**
   * Model inputs of `frame` and of the frames the plan visits after it, up to the batch size, read in order
   * (a stream is read forward only, and learns its end as it goes). A stream of unknown length is read ahead
   * only from plan.streamReadAheadFrom on, as the encoder worker does (see PipelinePlan).
   */
  // → k × [1, S, S, 3]
  private async batchInputs(frame: number): Promise<tf.Tensor4D[]> {
    const inputs = [await this.frames.input(frame)];
    try {
      for (let next = frame + this.plan.step; inputs.length < this.size && this.planned(next); next += this.plan.step) {
        if (this.frames.numFrames === Infinity && next < this.plan.streamReadAheadFrom) break;
        if (!(await this.frames.has(next))) break;
        inputs.push(await this.frames.input(next));
      }
    } catch (err) {
      tf.dispose(inputs);
      throw err;
    }
    return inputs;
  }

  private planned(frame: number): boolean {
    return this.plan.step > 0 ? frame <= this.plan.last : frame >= this.plan.last && frame >= 0;
  }

  private discardAhead(): void {
    this.ahead.forEach(disposeFeatures);
    this.ahead.clear();
  }
}
