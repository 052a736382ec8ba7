/**
 * Resampling of tensors as PyTorch's F.interpolate does it, in float32: bicubic (the image encoder's position
 * embedding), bilinear (mask logits) and antialiased bilinear (mask prompts), each axis a 2-D product where
 * tfjs has no kernel of the same arithmetic. The host passes for 8-bit and float pixels are in pixel-resize.ts.
 */
import * as tf from '@tensorflow/tfjs-core';

/** PyTorch's bicubic kernel parameter (a = -0.75). */
const CUBIC_A = -0.75;

// Keys's cubic convolution kernel, for 0 ≤ |x| ≤ 1 and 1 < |x| < 2.
function cubicNear(x: number): number {
  return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
}
function cubicFar(x: number): number {
  return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
}

/**
 * The linear map of one axis of F.interpolate(mode='bicubic', align_corners=False): output o samples the
 * input at (o + ½)·in/out − ½ (float32, not clamped) from 4 taps; taps outside the input read the border.
 */
// → [outSize, inSize]
export function bicubicMatrix(inSize: number, outSize: number): tf.Tensor2D {
  const m = new Float32Array(outSize * inSize);
  const scale = Math.fround(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    const source = Math.fround(Math.fround(scale * (o + 0.5)) - 0.5);
    const first = Math.floor(source);
    const t = source - first;
    const taps = [cubicFar(t + 1), cubicNear(t), cubicNear(1 - t), cubicFar(2 - t)];
    taps.forEach((weight, k) => {
      const i = Math.min(Math.max(first - 1 + k, 0), inSize - 1);
      m[o * inSize + i] += weight;
    });
  }
  return tf.tensor2d(m, [outSize, inSize]);
}

/** Separable bicubic resize (PyTorch's, align_corners=False): one 2-D product per axis. */
// [B, h, w, C] → [B, outH, outW, C]
export function bicubicResize(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const rows = tf.matMul(bicubicMatrix(h, outH), tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, b * w * c]));
    const byCol = tf.reshape(tf.transpose(tf.reshape(rows, [outH, b, w, c]), [2, 1, 0, 3]), [w, b * outH * c]);
    const cols = tf.reshape(tf.matMul(bicubicMatrix(w, outW), byCol), [outW, b, outH, c]);
    return tf.transpose(cols, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** F.interpolate(bilinear, align_corners=False) of every mask to size × size. */
// [B, M, h, w] → [B, M, size, size]
export function upsampleMasks(masks: tf.Tensor4D, size: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, m, h, w] = masks.shape;
    const resized = tf.image.resizeBilinear(tf.reshape(masks, [b * m, h, w, 1]) as tf.Tensor4D, [size, size], false, true);
    return tf.reshape(resized, [b, m, size, size]);
  });
}

/** For each output sample: the first input sample, how many follow, and their weights (`stride` apart). */
export interface AntialiasTaps {
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly weights: Float32Array;
  readonly stride: number;
}

/**
 * PyTorch's antialiased bilinear taps along one axis (F.interpolate(..., antialias=True), no align_corners):
 * a triangle filter widened by the scale when shrinking, cut at the borders and renormalised. `round` says
 * where the arithmetic rounds. Math.fround gives ATen's float kernel bit for bit (each quantity rounded to
 * float32 where ATen stores it in a float, kept in double where ATen's expression promotes to double); the
 * identity computes in double and rounds each weight once to float32, as a float64 weight matrix cast to float32.
 */
export function antialiasBilinearTaps(inSize: number, outSize: number, round: (x: number) => number): AntialiasTaps {
  const scale = round(inSize / outSize);
  const support = scale >= 1 ? scale : 1;
  const stride = Math.ceil(support) * 2 + 1;
  const inverse = scale >= 1 ? round(1 / scale) : 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * stride);
  const row = new Float64Array(stride);
  for (let o = 0; o < outSize; o++) {
    const center = round(scale * (o + 0.5));
    const lo = Math.max(Math.trunc(round(center - support) + 0.5), 0);
    const n = Math.min(Math.max(Math.min(Math.trunc(round(center + support) + 0.5), inSize) - lo, 0), stride);
    let total = 0;
    for (let j = 0; j < n; j++) {
      const t = Math.abs(round((round(round(j + lo) - center) + 0.5) * inverse));
      row[j] = t < 1 ? round(1 - t) : 0;
      total = round(total + row[j]);
    }
    for (let j = 0; j < n; j++) weights[o * stride + j] = total !== 0 ? round(row[j] / total) : row[j];
    start[o] = lo;
    count[o] = n;
  }
  return { start, count, weights, stride };
}

/** The antialiased bilinear taps of one axis (in double, see antialiasBilinearTaps) as a dense matrix. */
// → [outSize, inSize] row-major
export function antialiasBilinearWeights(inSize: number, outSize: number): Float32Array {
  const taps = antialiasBilinearTaps(inSize, outSize, (x) => x);
  const dense = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    for (let j = 0; j < taps.count[o]; j++) dense[o * inSize + taps.start[o] + j] = taps.weights[o * taps.stride + j];
  }
  return dense;
}

/** F.interpolate(mode='bilinear', align_corners=False, antialias=True), as two 2-D matMuls. */
// [N, H, W, C] → [N, outH, outW, C]
export function resizeBilinearAntialias(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const rowWeights = tf.tensor2d(antialiasBilinearWeights(h, outH), [outH, h]);
    const colWeights = tf.tensor2d(antialiasBilinearWeights(w, outW), [outW, w]);
    const byRow = tf.matMul(rowWeights, tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]));
    const byCol = tf.matMul(colWeights, tf.reshape(tf.transpose(tf.reshape(byRow, [outH, n, w, c]), [2, 1, 0, 3]), [w, n * outH * c]));
    return tf.transpose(tf.reshape(byCol, [outW, n, outH, c]), [1, 2, 0, 3]) as tf.Tensor4D;
  });
}
