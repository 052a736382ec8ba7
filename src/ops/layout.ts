/**
 * Layout changes and broadcasts, written the way the CPU backends run them fastest.
 */
import * as tf from '@tensorflow/tfjs-core';

/** NCHW (PyTorch layout) → NHWC. */
// [B, C, H, W] → [B, H, W, C]
export function toNHWC(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, [0, 2, 3, 1]);
}

/** NHWC → NCHW (PyTorch layout). */
// [B, H, W, C] → [B, C, H, W]
export function toNCHW(x: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(x, [0, 3, 1, 2]);
}

/** `x`'s single leading row repeated `n` times (tf.tile on axis 0, by broadcastByAdd). */
// [1, ...rest] → [n, ...rest]
export function repeatRows<T extends tf.Tensor>(x: T, n: number): T {
  return broadcastByAdd(x, [n, ...x.shape.slice(1)]);
}

/**
 * tf.broadcastTo as a broadcasting add: wasm runs broadcastTo/tile in slow loops (~90 ms for 1M floats
 * against well under 1 ms for the add). Same rank; `x`'s sizes must be 1 or the target's.
 */
// x [..] → shape
export function broadcastByAdd<T extends tf.Tensor>(x: T, shape: number[]): T {
  return tf.add(x, tf.zeros(shape.map((d, i) => (x.shape[i] === d ? 1 : d)), x.dtype)) as T;
}
