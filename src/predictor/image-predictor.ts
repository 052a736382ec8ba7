/**
 * Single-image SAM 2 (official SAM2ImagePredictor semantics): set an image once, then predict masks for
 * any number of prompts. Points and boxes are in original-image pixels; masks come back at that size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors.js';
import type { Sam2Model, FrameFeatures } from '../model/sam2.js';
import { disposeFeatures } from '../model/sam2.js';
import { pointPrompt } from '../model/prompt-encoder.js';
import { readRgbImage, type PixelsLike, type RgbImage } from '../io/pixels.js';
import { packedMaskBits, resizeForImagePredictor, scalePoints, unpackMaskBits } from './transforms.js';
import { readTogether } from '../ops/host-read.js';

export type ImageInput = string | Uint8Array | PixelsLike | tf.Tensor;

export interface ImagePrompt {
  /** (x, y) in image pixels. */
  points?: [number, number][];
  /** 1 positive, 0 negative, one per point. */
  labels?: number[];
  /** [x0, y0, x1, y1] in image pixels. */
  box?: [number, number, number, number];
  /** Low-resolution mask logits from an earlier prediction ([4h × 4w], e.g. `lowResLogits[i]`). */
  maskInput?: Float32Array;
  /** Three candidate masks (default true: a single click is ambiguous). */
  multimask?: boolean;
}

export interface ImagePrediction {
  width: number;
  height: number;
  /** Binary masks at the image size (row-major, 1 = object), best first is NOT implied: see `scores`. */
  masks: Uint8Array[];
  /** Predicted IoU of each mask. */
  scores: number[];
  /** Low-resolution logits of each mask, clamped to ±32 (feed one back as `maskInput`). */
  lowResLogits: Float32Array[];
}

export class ImagePredictor {
  private features: FrameFeatures | null = null;
  private size: { width: number; height: number } | null = null;

  constructor(readonly model: Sam2Model) {}

  /** Loads a `.safetensors` (+ its `.json`) or an official `.pt` checkpoint (Node). */
  static async fromCheckpoint(file: string, options: { config?: string } = {}): Promise<ImagePredictor> {
    const { loadSam2 } = await import('../node/load.js');
    return new ImagePredictor(await loadSam2(file, options));
  }

  /** Encodes `image` (a file path or encoded bytes in Node, RGB(A) pixels, or an [H, W, 3] tensor). */
  async setImage(image: ImageInput): Promise<void> {
    const rgb: RgbImage = typeof image === 'string' || image instanceof Uint8Array
      ? await (await import('../node/images.js')).decodeImage(image)
      : await readRgbImage(image);
    this.reset();
    const input = resizeForImagePredictor(rgb, this.model.config.image_size);
    this.features = this.model.encodeSingleImage(input);
    input.dispose();
    this.size = { width: rgb.width, height: rgb.height };
  }

  /** Masks for `prompt` on the image set last; the device's results are read asynchronously, in one read. */
  async predict(prompt: ImagePrompt): Promise<ImagePrediction> {
    if (!this.features || !this.size) throw new InputError('no image set: call setImage() before predict()');
    const { width, height } = this.size;
    const { coords, labels } = this.promptPoints(prompt);
    const s = this.model.config.image_size;
    const h4 = this.model.sizes.lowResSize;
    if (prompt.maskInput && prompt.maskInput.length !== h4 * h4) {
      throw new InputError(`maskInput has ${prompt.maskInput.length} values, expected ${h4}×${h4} low-resolution logits`);
    }
    const features = this.features;
    const out = tf.tidy(() => {
      const scaled = scalePoints(coords, { width, height }, s);
      const decoded = this.model.decodeImage(features, {
        points: scaled.length ? pointPrompt(scaled.flat(), labels) : undefined,
        masks: prompt.maskInput ? tf.tensor4d(prompt.maskInput, [1, h4, h4, 1]) : undefined,
      }, prompt.multimask ?? true);
      const m = decoded.masks.shape[1];
      // Each candidate mask is upsampled as its own single-channel map.
      const perMask = tf.reshape(decoded.masks, [m, 1, h4, h4]) as tf.Tensor4D;
      return { perMask, ious: decoded.iouPred, lowRes: tf.clipByValue(decoded.masks, -32, 32) };
    });
    const m = out.ious.shape[1];
    // The masks at image size, bit-packed on the device, read with the scores and logits in one read.
    const [bits] = packedMaskBits(out.perMask, height, width, false);
    let lowRes: Float32Array, ious: Float32Array, maskBits: Float32Array;
    try {
      [lowRes, ious, maskBits] = await readTogether([out.lowRes, out.ious, bits]);
    } finally {
      tf.dispose([out.lowRes, out.ious, bits]);
    }
    const masks = unpackMaskBits(maskBits, m, height * width);
    const scores = Array.from(ious);
    return {
      width,
      height,
      masks,
      scores,
      lowResLogits: Array.from({ length: m }, (_, i) => lowRes.slice(i * h4 * h4, (i + 1) * h4 * h4)),
    };
  }

  /** Box corners first (labels 2, 3), then the clicks, as the official predictor concatenates them. */
  private promptPoints(prompt: ImagePrompt): { coords: [number, number][]; labels: number[] } {
    const { width, height } = this.size as { width: number; height: number };
    const points = prompt.points ?? [];
    const labels = prompt.labels ?? [];
    if (points.length !== labels.length) throw new InputError(`${points.length} points but ${labels.length} labels`);
    labels.forEach((l, i) => {
      if (l !== 0 && l !== 1) throw new InputError(`label ${l} of point ${i} must be 1 (positive) or 0 (negative)`);
    });
    const box: [number, number][] = [];
    if (prompt.box) {
      const [x0, y0, x1, y1] = prompt.box;
      if (!(x1 > x0 && y1 > y0)) throw new InputError(`box [${prompt.box.join(', ')}] must have x1 > x0 and y1 > y0`);
      box.push([x0, y0], [x1, y1]);
    }
    const all = [...box, ...points];
    if (!all.length && !prompt.maskInput) throw new InputError('empty prompt: give points, a box or a mask input');
    all.forEach(([x, y], i) => {
      if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0 || x > width || y > height) {
        throw new InputError(`point ${i} (${x}, ${y}) is outside the ${width}×${height} image`);
      }
    });
    return { coords: all, labels: [...(prompt.box ? [2, 3] : []), ...labels] };
  }

  reset(): void {
    if (this.features) disposeFeatures(this.features);
    this.features = null;
    this.size = null;
  }

  dispose(): void {
    this.reset();
  }
}
