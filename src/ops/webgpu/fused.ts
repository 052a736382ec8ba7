/**
 * When the model takes the fused WebGPU kernels of this folder: on the webgpu backend, unless switched off
 * (`setFusedKernels(false)`, or SAM2LONG_WEBGPU_FUSED=0 in Node) to run and compare the plain tfjs compositions
 * they replace. Other backends always run the plain compositions.
 */
import * as tf from '@tensorflow/tfjs-core';

const fromEnv = typeof process !== 'undefined' && process.env?.SAM2LONG_WEBGPU_FUSED === '0' ? false : true;
let enabled = fromEnv;

/** Switches the fused kernels on or off (on by default); returns the previous setting. */
export function setFusedKernels(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/** True when the current backend runs the fused WebGPU kernels. */
export function fusedKernelsOn(): boolean {
  return enabled && tf.getBackend() === 'webgpu';
}
