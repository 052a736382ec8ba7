/**
 * Pixels in and masks out, exactly as the official predictors compute them. Tensors and typed arrays only
 * (no Node APIs), so this module also runs in the browser.
 *
 * - Video predictor (load_video_frames): Pillow `img.convert("RGB").resize((S, S))` (BICUBIC, Pillow's
 *   fixed-point two-pass resampler), then `float32(u8 / 255)` and `(x − mean) / std` in float32.
 * - Image predictor (SAM2Transforms): torchvision `ToTensor`, `Resize((S, S))` on the float tensor (bilinear,
 *   antialias=True: the default for tensors since torchvision 0.17, and sam2 requires ≥ 0.20.1), `Normalize(mean, std)`.
 * - Outputs: `F.interpolate(bilinear, align_corners=False)` of low-res logits, `> 0`, np.packbits layout,
 *   and the optional hole filling of `fill_holes_in_mask_scores` (8-connected components).
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError, ShapeError } from '../errors.js';
import { assertImageSize, type RgbImage } from '../io/pixels.js';
import { resizeFloatRgbAntialias, resizeRgbPillowBicubic } from '../ops/pixel-resize.js';
import { FLOAT_BYTES, rowChunks } from '../ops/row-chunks.js';
import { hostCopy, rowRange } from '../ops/take-rows.js';
import { fusedKernelsOn } from '../ops/webgpu/fused.js';
import { fusedMaskBits, MASK_BITS_PER_WORD } from '../ops/webgpu/mask-bits.js';

export const IMAGE_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGE_STD = [0.229, 0.224, 0.225] as const;

/** The fill value of `fill_holes_in_mask_scores`: a small positive logit. */
export const HOLE_FILL_SCORE = 0.1;

// ---------------------------------------------------------------------------------------------------------
// Normalisation

/** float32(u8 / 255) with the division in float64, as numpy does before the float32 cast. */
function unitFloat(u8: number): number {
  return Math.fround(u8 / 255);
}

/** (x − mean) / std with float32 operands and float32 rounding after each operation, as torch does. */
function normalizeValue(x: number, channel: number): number {
  return Math.fround(Math.fround(x - Math.fround(IMAGE_MEAN[channel])) / Math.fround(IMAGE_STD[channel]));
}

/**
 * The video predictor's model input from S×S RGB bytes: float32(u8/255), then (x − mean)/std in float32,
 * bit-identical to the official tensor.
 */
export function normalizeFrame(img: RgbImage): tf.Tensor4D {
  // [1, H, W, 3]
  const lut = new Float32Array(256 * 3);
  for (let u = 0; u < 256; u++) {
    for (let c = 0; c < 3; c++) lut[u * 3 + c] = normalizeValue(unitFloat(u), c);
  }
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = lut[img.data[i] * 3 + (i % 3)];
  return tf.tensor4d(out, [1, img.height, img.width, 3]);
}

/** Official video-frame preprocessing: Pillow bicubic resize to size×size, then `normalizeFrame`. */
export function preprocessVideoFrame(img: RgbImage, size: number): tf.Tensor4D {
  // [1, S, S, 3]
  return normalizeFrame(resizeRgbPillowBicubic(img, size, size));
}

/**
 * The image predictor's model input (SAM2Transforms): ToTensor (u8/255 in float32), torchvision
 * `Resize((S, S))` = antialiased bilinear with half-pixel centres on the float image (width pass, then height
 * pass, as ATen's separable kernel; an unchanged axis is skipped), then Normalize in float32.
 * Matches ATen's float arithmetic step by step; a build of ATen that fuses multiply-adds can differ by 1 ulp.
 */
export function resizeForImagePredictor(img: RgbImage, size: number): tf.Tensor4D {
  // [1, S, S, 3]
  assertImageSize('image predictor input', img.width, img.height);
  assertImageSize('image predictor size', size, size);
  const unit = new Float32Array(256);
  for (let u = 0; u < 256; u++) unit[u] = unitFloat(u);
  let data: Float32Array = new Float32Array(img.data.length);
  for (let i = 0; i < data.length; i++) data[i] = unit[img.data[i]];
  data = resizeFloatRgbAntialias(data, img.width, img.height, size, size);
  for (let i = 0; i < data.length; i++) data[i] = normalizeValue(data[i], i % 3);
  return tf.tensor4d(data, [1, size, size, 3]);
}

// ---------------------------------------------------------------------------------------------------------
// Prompts

/**
 * Image-pixel (x, y) points → model-input coordinates: `x / width * size`, `y / height * size`, each step in
 * float32 as the official predictors compute it (`normalize_coords=True`). For already normalised points
 * pass `{ width: 1, height: 1 }`.
 */
export function scalePoints(
  points: ReadonlyArray<readonly [number, number]>,
  from: { readonly width: number; readonly height: number },
  size: number,
): [number, number][] {
  const f = Math.fround;
  return points.map(([x, y], i) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new InputError(`point ${i}: (${x}, ${y}) is not finite`);
    return [f(f(f(x) / from.width) * size), f(f(f(y) / from.height) * size)];
  });
}

// ---------------------------------------------------------------------------------------------------------
// Masks out

/** Height and width of a single-channel [B, 1, h, w] or [B, h, w, 1] mask batch (NHWC when both read as 1). */
function maskPlaneSize(masks: tf.Tensor, what: string): { nchw: boolean; h: number; w: number } {
  const s = masks.shape;
  if (s.length !== 4 || (s[1] !== 1 && s[3] !== 1)) {
    throw new ShapeError(`${what}: shape [${s.join(', ')}], expected [B, 1, h, w] or [B, h, w, 1]`);
  }
  return s[3] === 1 ? { nchw: false, h: s[1], w: s[2] } : { nchw: true, h: s[2], w: s[3] };
}

/**
 * `F.interpolate(x, (height, width), mode="bilinear", align_corners=False)` of mask logits, in the layout
 * given ([B, 1, h, w] or [B, h, w, 1]).
 */
export function upsampleLogits(lowRes: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  // [B, 1, h, w] → [B, 1, H, W] | [B, h, w, 1] → [B, H, W, 1]
  const { nchw, h, w } = maskPlaneSize(lowRes, 'upsampleLogits');
  return tf.tidy(() => {
    const b = lowRes.shape[0];
    const nhwc = tf.reshape(lowRes, [b, h, w, 1]) as tf.Tensor4D;
    const up = tf.image.resizeBilinear(nhwc, [height, width], false, true);
    return (nchw ? tf.reshape(up, [b, 1, height, width]) : up) as tf.Tensor4D;
  });
}

/**
 * Each of `n` masks' logits upsampled to height × width (as upsampleLogits) and thresholded at 0, as 0/1
 * bytes. A few masks at a time, so no [k, height, width] tensor exceeds the backend's binding limit (many
 * objects in a video, or a large photo).
 */
// lowRes [n, 1, h, w] or [n, h, w, 1] → n × [height·width]
export function upsampledMaskBytes(lowRes: tf.Tensor4D, height: number, width: number): Uint8Array[] {
  const area = height * width;
  const out: Uint8Array[] = [];
  for (const { start, count } of rowChunks(lowRes.shape[0], FLOAT_BYTES * area)) {
    const masks = tf.tidy(() => tf.cast(tf.greater(upsampleLogits(rowRange(lowRes, start, count), height, width), 0), 'int32'));
    const data = hostCopy(masks);
    masks.dispose();
    for (let i = 0; i < count; i++) out.push(Uint8Array.from(data.subarray(i * area, (i + 1) * area)));
  }
  return out;
}

/** Mask pixels per float of a bit-packed mask: sums of distinct powers of two below 2^16 are exact in float32. */
const BITS_PER_WORD = MASK_BITS_PER_WORD;

/**
 * Each object's mask at video resolution (logits upsampled as upsampleLogits, > 0), bit-packed on the device:
 * pixel p is bit p mod 16 of word ⌊p / 16⌋: a 32nd of the bytes of a float mask to read back. With
 * `exclusive` and several objects, a second tensor holds the masks with the
 * non-overlap rule (non-overlap.ts: a pixel stays on only for the first object with the highest logit), kept
 * as a running maximum over the objects so that only one object is at video resolution at a time.
 */
// lowRes [n, h4, w4, 1] (disposed) → [n, ⌈H·W / 16⌉] masks, and [n, ⌈H·W / 16⌉] exclusive masks when n > 1
export function packedMaskBits(lowRes: tf.Tensor4D, height: number, width: number, exclusive: boolean): tf.Tensor2D[] {
  if (fusedKernelsOn()) {
    // One program per tensor, upsampling in place (ops/webgpu/mask-bits.ts).
    maskPlaneSize(lowRes, 'packedMaskBits');
    const n = lowRes.shape[0];
    const out = [fusedMaskBits(lowRes, height, width, false)];
    if (n > 1 && exclusive) out.push(fusedMaskBits(lowRes, height, width, true));
    lowRes.dispose();
    return out;
  }
  return tf.tidy(() => {
    const n = lowRes.shape[0];
    const pixels = height * width;
    const words = Math.ceil(pixels / BITS_PER_WORD);
    const weights = tf.tensor1d(Array.from({ length: BITS_PER_WORD }, (_, j) => 2 ** j));
    const pack = (on: tf.Tensor) =>
      tf.sum(tf.mul(tf.reshape(tf.pad(tf.cast(on, 'float32'), [[0, words * BITS_PER_WORD - pixels]]), [words, BITS_PER_WORD]), weights), 1);
    const masks: tf.Tensor[] = [];
    let best: tf.Tensor | null = null;
    let bestObject: tf.Tensor | null = null;
    for (let o = 0; o < n; o++) {
      const up = tf.reshape(upsampleLogits(tf.slice(lowRes, [o, 0, 0, 0], [1, -1, -1, -1]), height, width), [pixels]);
      masks.push(pack(tf.greater(up, 0)));
      if (n === 1 || !exclusive) continue;
      // Strictly greater: a tie goes to the earlier object, as torch.argmax gives it.
      const wins: tf.Tensor | null = best && tf.greater(up, best);
      best = wins ? tf.where(wins, up, best as tf.Tensor) : up;
      bestObject = wins ? tf.where(wins, tf.fill([pixels], o, 'int32'), bestObject as tf.Tensor) : tf.zeros([pixels], 'int32');
    }
    lowRes.dispose();
    if (!best) return [tf.stack(masks) as tf.Tensor2D];
    const positive = tf.greater(best as tf.Tensor, 0);
    const exclusiveMasks = Array.from({ length: n }, (_, o) => pack(tf.logicalAnd(positive, tf.equal(bestObject as tf.Tensor, o))));
    return [tf.stack(masks) as tf.Tensor2D, tf.stack(exclusiveMasks) as tf.Tensor2D];
  });
}

/** The 0/1 masks of `n` objects from their packed bits (deviceMaskBits' layout). */
export function unpackMaskBits(bits: Float32Array, n: number, pixels: number): Uint8Array[] {
  const words = Math.ceil(pixels / BITS_PER_WORD);
  return Array.from({ length: n }, (_, o) => {
    const mask = new Uint8Array(pixels);
    for (let p = 0; p < pixels; p++) mask[p] = ((bits[o * words + Math.floor(p / BITS_PER_WORD)] | 0) >> p % BITS_PER_WORD) & 1;
    return mask;
  });
}

/**
 * Each of `n` masks' logits upsampled to height × width (as upsampleLogits), as host floats: what the
 * official predictor returns as video-resolution mask logits. A few masks at a time, as upsampledMaskBytes.
 */
// lowRes [n, 1, h, w] or [n, h, w, 1] → n × [height·width]
export function upsampledLogits(lowRes: tf.Tensor4D, height: number, width: number): Float32Array[] {
  const area = height * width;
  const out: Float32Array[] = [];
  for (const { start, count } of rowChunks(lowRes.shape[0], FLOAT_BYTES * area)) {
    const up = tf.tidy(() => upsampleLogits(rowRange(lowRes, start, count), height, width));
    const data = hostCopy(up) as Float32Array;
    up.dispose();
    for (let i = 0; i < count; i++) out.push(data.slice(i * area, (i + 1) * area));
  }
  return out;
}

/** `logits > threshold` as 0/1 bytes, in the input's element order. */
export function binarize(logits: tf.Tensor | ArrayLike<number>, threshold = 0): Uint8Array {
  const values = logits instanceof tf.Tensor ? logits.dataSync() : logits;
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] > threshold ? 1 : 0;
  return out;
}

/** np.packbits(mask, axis=-1) of an H×W 0/non-zero mask: MSB first, rows padded to whole bytes. */
export function packBits(mask: ArrayLike<number>, height: number, width: number): Uint8Array {
  if (mask.length !== height * width) throw new ShapeError(`packBits: ${mask.length} values for ${height}x${width}`);
  const rowBytes = Math.ceil(width / 8);
  const out = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x]) out[y * rowBytes + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  return out;
}

/** Inverse of `packBits` (np.unpackbits with the row padding cut): 0/1 bytes, H·W. */
export function unpackBits(packed: Uint8Array, height: number, width: number): Uint8Array {
  const rowBytes = Math.ceil(width / 8);
  if (packed.length !== height * rowBytes) {
    throw new ShapeError(`unpackBits: ${packed.length} bytes, expected ${height}x${rowBytes} for a ${height}x${width} mask`);
  }
  const out = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = (packed[y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1;
  }
  return out;
}

/** 8-connected components of the non-zero pixels: labels 1..n in raster order of first pixel, 0 elsewhere. */
export function connectedComponents(binary: ArrayLike<number>, height: number, width: number): { labels: Int32Array; areas: number[] } {
  const labels = new Int32Array(height * width);
  const areas = [0];
  const stack: number[] = [];
  for (let seed = 0; seed < labels.length; seed++) {
    if (!binary[seed] || labels[seed]) continue;
    const label = areas.length;
    let area = 0;
    labels[seed] = label;
    stack.push(seed);
    while (stack.length) {
      const p = stack.pop() as number;
      area++;
      const py = Math.floor(p / width);
      const px = p - py * width;
      for (let y = Math.max(py - 1, 0); y <= Math.min(py + 1, height - 1); y++) {
        for (let x = Math.max(px - 1, 0); x <= Math.min(px + 1, width - 1); x++) {
          const q = y * width + x;
          if (binary[q] && !labels[q]) {
            labels[q] = label;
            stack.push(q);
          }
        }
      }
    }
    areas.push(area);
  }
  return { labels, areas };
}

/**
 * `fill_holes_in_mask_scores` on one h×w score map: every 8-connected region of background
 * (score ≤ threshold) with area ≤ maxArea becomes `fillValue`. Like the official post-processing this
 * includes small background regions touching the border, not only enclosed holes.
 */
export function fillHolesInScores(
  scores: Float32Array,
  height: number,
  width: number,
  maxArea: number,
  { threshold = 0, fillValue = HOLE_FILL_SCORE }: { threshold?: number; fillValue?: number } = {},
): Float32Array {
  if (!(maxArea > 0)) throw new InputError(`fill hole area must be positive, got ${maxArea}`);
  const background = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) background[i] = scores[i] <= threshold ? 1 : 0;
  const { labels, areas } = connectedComponents(background, height, width);
  const out = scores.slice();
  for (let i = 0; i < out.length; i++) {
    if (labels[i] && areas[labels[i]] <= maxArea) out[i] = fillValue;
  }
  return out;
}

/** Hole filling (`fill_hole_area`) on a batch of low-res mask logits [B, 1, h, w] or [B, h, w, 1] (read asynchronously). */
export async function fillHoles(masks: tf.Tensor4D, maxArea: number): Promise<tf.Tensor4D> {
  // [B, 1, h, w] | [B, h, w, 1] → same
  const { h, w } = maskPlaneSize(masks, 'fillHoles');
  const data = (await masks.data()) as Float32Array;
  const out = new Float32Array(data.length);
  for (let b = 0; b < masks.shape[0]; b++) {
    const plane = data.subarray(b * h * w, (b + 1) * h * w);
    out.set(fillHolesInScores(plane, h, w, maxArea), b * h * w);
  }
  return tf.tensor4d(out, masks.shape);
}
