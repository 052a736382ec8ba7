/**
 * How big one tensor may be on the current tfjs backend. Kept apart from backend.ts (the Node chooser) so that
 * model code, which reads it, stays loadable in a browser.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The part of a WebGPU device's limits that bounds one tensor. */
interface TensorLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/**
 * The largest tensor (bytes) one kernel of the current backend can read or write: on WebGPU the device's
 * maxStorageBufferBindingSize (and maxBufferSize), read from the device; unbounded elsewhere.
 */
export function maxTensorBytes(): number {
  const limits = (tf.backend() as { device?: { limits?: TensorLimits } }).device?.limits;
  return limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) : Number.POSITIVE_INFINITY;
}
