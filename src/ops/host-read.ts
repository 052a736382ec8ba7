/**
 * Reading tensors back to the host the way a GPU wants it: asynchronously, and several values in one read.
 * On WebGPU a read is a buffer map that waits for the queue to drain; a synchronous read (dataSync) blocks the
 * thread for it (and on some adapters, e.g. headless Chromium's software WebGPU, reads zeros), and every read
 * costs a round trip whatever its size. So the predictors pack what a frame needs (scores, IoUs, masks) into
 * one tensor and read it with `await data()`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Backends whose tensors live in host memory: reading them back costs a copy, not a round trip. */
const HOST_BACKENDS = new Set(['wasm', 'cpu']);

/** Whether the current backend keeps tensors in host memory (wasm, cpu). */
export function onHostBackend(): boolean {
  return HOST_BACKENDS.has(tf.getBackend());
}

/**
 * The values of `parts` (any shapes; int32 / bool read as floats, exact below 2^24), in one asynchronous
 * read of their flattened concatenation. The parts are not disposed.
 */
// parts k × [...] → k × Float32Array(part.size)
export async function readTogether(parts: readonly tf.Tensor[]): Promise<Float32Array[]> {
  if (!parts.length) return [];
  const packed = tf.tidy(() => {
    const flat = parts.map((p) => tf.reshape(p.dtype === 'float32' ? p : tf.cast(p, 'float32'), [-1]));
    return flat.length === 1 ? tf.clone(flat[0]) : tf.concat(flat);
  });
  let values: Float32Array;
  try {
    values = (await packed.data()) as Float32Array;
  } finally {
    packed.dispose();
  }
  let offset = 0;
  return parts.map((p) => values.subarray(offset, (offset += p.size)));
}
