/**
 * Host resamplers of pixels, exact against the libraries the official predictors call: Pillow's fixed-point
 * BICUBIC on 8-bit RGB (video frames) and ATen's antialiased bilinear on float RGB (the image predictor).
 */
import { assertImageSize, type RgbImage } from '../io/pixels.js';
import { antialiasBilinearTaps, type AntialiasTaps } from './resize.js';

// ---------------------------------------------------------------------------------------------------------
// Pillow BICUBIC resize (video predictor)

/** Pillow keeps 8 bits for the result and 2 for overflow: coefficients are 22-bit fixed point. */
const PILLOW_PRECISION_BITS = 22;

/** For each output sample: the first input sample, how many follow, and their fixed-point weights. */
interface Taps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Int32Array;
  readonly stride: number;
}

/** Keys' cubic convolution kernel with a = −0.5, evaluated in double with Pillow's operation order. */
function pillowBicubicKernel(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for a full-image box: the support widens by the
 * downscale factor (antialiasing), weights are normalised in double, then rounded half away from zero.
 */
function pillowBicubicTaps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 2 * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const inverse = 1 / filterScale;
  const k = new Float64Array(stride);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let j = 0; j < hi - lo; j++) {
      k[j] = pillowBicubicKernel((j + lo - center + 0.5) * inverse);
      total += k[j];
    }
    for (let j = 0; j < hi - lo; j++) {
      const w = (total !== 0 ? k[j] / total : k[j]) * (1 << PILLOW_PRECISION_BITS);
      weights[o * stride + j] = Math.trunc(w < 0 ? w - 0.5 : w + 0.5);
    }
    start[o] = lo;
    count[o] = hi - lo;
  }
  return { start, count, weights, stride };
}

/** Pillow's clip8: round-half-up is already in the accumulator; shift and clamp to a byte. */
function clip8(acc: number): number {
  const v = acc >> PILLOW_PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** One Pillow pass along x (`alongX`) or y over interleaved 3-channel bytes. */
function pillowPass(src: Uint8Array, width: number, height: number, taps: Taps, alongX: boolean): Uint8Array {
  const outW = alongX ? taps.start.length : width;
  const outH = alongX ? height : taps.start.length;
  const out = new Uint8Array(outW * outH * 3);
  const half = 1 << (PILLOW_PRECISION_BITS - 1);
  const step = alongX ? 3 : width * 3;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = alongX ? x : y;
      const n = taps.count[o];
      const w0 = o * taps.stride;
      let p = alongX ? (y * width + taps.start[o]) * 3 : (taps.start[o] * width + x) * 3;
      let r = half;
      let g = half;
      let b = half;
      for (let j = 0; j < n; j++, p += step) {
        const w = taps.weights[w0 + j];
        r += src[p] * w;
        g += src[p + 1] * w;
        b += src[p + 2] * w;
      }
      const q = (y * outW + x) * 3;
      out[q] = clip8(r);
      out[q + 1] = clip8(g);
      out[q + 2] = clip8(b);
    }
  }
  return out;
}

/**
 * Pillow's `Image.resize((width, height))` of an RGB image with the default BICUBIC filter (Pillow ≥ 7),
 * bit for bit: horizontal pass then vertical pass, each rounded to bytes; an unchanged axis is skipped.
 */
export function resizeRgbPillowBicubic(img: RgbImage, width: number, height: number): RgbImage {
  assertImageSize('resize target', width, height);
  assertImageSize('resize source', img.width, img.height);
  let data = img.data;
  if (width !== img.width) data = pillowPass(data, img.width, img.height, pillowBicubicTaps(img.width, width), true);
  if (height !== img.height) data = pillowPass(data, width, img.height, pillowBicubicTaps(img.height, height), false);
  return { width, height, data: data === img.data ? data.slice() : data };
}

// ---------------------------------------------------------------------------------------------------------
// ATen's antialiased bilinear on a float image (torchvision Resize of a tensor: the image predictor)

/** One separable pass of ATen's float kernel over interleaved 3-channel float32 pixels. */
function atenPass(src: Float32Array, width: number, height: number, taps: AntialiasTaps, alongX: boolean): Float32Array {
  const f = Math.fround;
  const outW = alongX ? taps.start.length : width;
  const outH = alongX ? height : taps.start.length;
  const out = new Float32Array(outW * outH * 3);
  const step = alongX ? 3 : width * 3;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const o = alongX ? x : y;
      const n = taps.count[o];
      const w0 = o * taps.stride;
      let p = alongX ? (y * width + taps.start[o]) * 3 : (taps.start[o] * width + x) * 3;
      let w = taps.weights[w0];
      let r = f(src[p] * w);
      let g = f(src[p + 1] * w);
      let b = f(src[p + 2] * w);
      for (let j = 1; j < n; j++) {
        p += step;
        w = taps.weights[w0 + j];
        r = f(r + f(src[p] * w));
        g = f(g + f(src[p + 1] * w));
        b = f(b + f(src[p + 2] * w));
      }
      const q = (y * outW + x) * 3;
      out[q] = r;
      out[q + 1] = g;
      out[q + 2] = b;
    }
  }
  return out;
}

/**
 * torchvision `Resize` (antialiased bilinear, half-pixel centres) of interleaved 3-channel float32 pixels, as
 * ATen's separable float kernel runs it: width pass, then height pass; an unchanged axis is skipped. The taps
 * are ATen's float32 weights (`_compute_indices_min_size_weights_aa`, scalar_t = float).
 */
export function resizeFloatRgbAntialias(data: Float32Array, width: number, height: number, outW: number, outH: number): Float32Array {
  let out = data;
  if (outW !== width) out = atenPass(out, width, height, antialiasBilinearTaps(width, outW, Math.fround), true);
  if (outH !== height) out = atenPass(out, outW, height, antialiasBilinearTaps(height, outH, Math.fround), false);
  return out;
}
