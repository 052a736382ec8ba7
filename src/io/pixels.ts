/**
 * The RGB image type every layer passes pixels in, and its conversions: RGB(A) buffers (an ImageData works)
 * and [H, W, 3|4] tensors. Browser-safe: typed arrays and tensors only.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError, ShapeError } from '../errors.js';

/** An 8-bit RGB image: `data` is row-major H·W·3. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Interleaved 8-bit pixels with 3 (RGB) or 4 (RGBA, e.g. a browser ImageData) channels. */
export interface PixelsLike {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint8ClampedArray;
}

export function assertImageSize(label: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InputError(`${label}: size ${width}x${height} is not a positive integer size`);
  }
}

/**
 * RGB pixels from an RGB/RGBA buffer (an ImageData works) or an [H, W, 3|4] tensor of integers in 0..255.
 * Alpha is dropped, as Pillow's `convert("RGB")` does. An RGB Uint8Array is returned without a copy.
 */
export function toRgbImage(input: PixelsLike | tf.Tensor, label = 'image'): RgbImage {
  if (input instanceof tf.Tensor) return tensorToRgb(input, label);
  const { width, height, data } = input;
  assertImageSize(label, width, height);
  const n = width * height;
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (bytes.length === n * 3) return { width, height, data: bytes };
  if (bytes.length === n * 4) return { width, height, data: dropAlpha(bytes, n) };
  throw new InputError(`${label}: ${bytes.length} bytes for ${width}x${height} pixels; expected RGB (${n * 3}) or RGBA (${n * 4})`);
}

function dropAlpha(rgba: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = rgba[4 * i];
    out[3 * i + 1] = rgba[4 * i + 1];
    out[3 * i + 2] = rgba[4 * i + 2];
  }
  return out;
}

function tensorToRgb(t: tf.Tensor, label: string): RgbImage {
  return rgbFromValues(checkedImageShape(t, label), t.dataSync(), label);
}

/** toRgbImage, with a tensor's values read asynchronously (a GPU backend's synchronous read blocks, or reads zeros). */
export async function readRgbImage(input: PixelsLike | tf.Tensor, label = 'image'): Promise<RgbImage> {
  if (!(input instanceof tf.Tensor)) return toRgbImage(input, label);
  const shape = checkedImageShape(input, label);
  return rgbFromValues(shape, await input.data(), label);
}

function checkedImageShape(t: tf.Tensor, label: string): [number, number, number] {
  if (t.rank !== 3 || (t.shape[2] !== 3 && t.shape[2] !== 4)) {
    throw new ShapeError(`${label}: tensor shape [${t.shape.join(', ')}], expected [H, W, 3] or [H, W, 4]`);
  }
  const [height, width] = t.shape;
  assertImageSize(label, width, height);
  return t.shape as [number, number, number];
}

function rgbFromValues([height, width, channels]: [number, number, number], values: ArrayLike<number>, label: string): RgbImage {
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      throw new InputError(`${label}: tensor value ${v} at flat index ${i} is not an integer in 0..255`);
    }
    bytes[i] = v;
  }
  return channels === 3 ? { width, height, data: bytes } : { width, height, data: dropAlpha(bytes, width * height) };
}
