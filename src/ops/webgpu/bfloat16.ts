/**
 * Rounding to bfloat16 (ties to even, kept as float32) as one elementwise WebGPU program on the float's bits,
 * so the memory features are rounded where they are and never read back to the host. Bit for bit what the
 * host rounding of model/memory-encoder.ts (roundToBfloat16) computes; that stays the path elsewhere and is its
 * reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementwiseKernel } from './elementwise.js';
import { registerFusedKernel } from './fused.js';

const KERNEL = 'Sam2longRoundBfloat16';

// NaN and ±Infinity (all exponent bits set) pass through unchanged.
registerFusedKernel(KERNEL, elementwiseKernel('sam2longRoundBfloat16', `
    fn elementOp(v : f32) -> f32 {
      let b = bitcast<u32>(v);
      if ((b & 0x7f800000u) == 0x7f800000u) {
        return v;
      }
      return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);
    }`));

/** Each float32 rounded to the nearest bfloat16 (ties to even), one program (webgpu backend only). */
// x [...] float32 → [...]
export function roundToBfloat16OnDevice(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(KERNEL, { x }) as tf.Tensor;
}
