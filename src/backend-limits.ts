/**
 * How big one tensor may be on the current tfjs backend. Kept apart from backend.ts (the Node chooser) so that
 * model code, which reads it, stays loadable in a browser.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from './errors.js';

/** The part of a WebGPU device's limits that bounds one tensor. */
interface TensorLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

let cap: number | undefined;

/**
 * Caps maxTensorBytes() on every backend (the device's own limit still applies when it is lower): tests
 * lower it to make the model split its work on wasm, and a user may want smaller kernels. `undefined` removes
 * the cap.
 */
export function setMaxTensorBytes(bytes: number | undefined): void {
  if (bytes !== undefined && !(Number.isFinite(bytes) && bytes > 0)) {
    throw new InputError(`setMaxTensorBytes: ${bytes} is not a positive number of bytes`);
  }
  cap = bytes;
}

/**
 * The largest tensor (bytes) one kernel of the current backend can read or write: on WebGPU the device's
 * maxStorageBufferBindingSize (and maxBufferSize), read from the device; unbounded elsewhere; never more than
 * a cap set with setMaxTensorBytes.
 */
export function maxTensorBytes(): number {
  const limits = (tf.backend() as { device?: { limits?: TensorLimits } }).device?.limits;
  const device = limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) : Number.POSITIVE_INFINITY;
  return cap === undefined ? device : Math.min(cap, device);
}
