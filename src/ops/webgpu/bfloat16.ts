/**
 * Rounding to bfloat16 (ties to even, kept as float32) as one elementwise WebGPU program on the float's bits,
 * so the memory features are rounded where they are and never read back to the host. Bit for bit what the
 * host rounding of model/memory-encoder.ts (roundToBfloat16) computes; that stays the path elsewhere and is its
 * reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerUnaryProgram } from './fused.js';
import { ElementwiseProgram } from './wgsl.js';

class RoundBfloat16Program extends ElementwiseProgram {
  variableNames = ['x'];
  shaderKey = 'sam2longRoundBfloat16';

  // NaN and ±Infinity (all exponent bits set) pass through unchanged.
  getUserCode(): string {
    return this.main(`let v = x[index];
      let b = bitcast<u32>(v);
      if ((b & 0x7f800000u) == 0x7f800000u) {
        result[index] = v;
        return;
      }
      result[index] = bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);`);
  }
}

/** Each float32 rounded to the nearest bfloat16 (ties to even), one program (webgpu backend only). */
// x [...] float32 → [...]
export const roundToBfloat16OnDevice = registerUnaryProgram('Sam2longRoundBfloat16', (shape) => new RoundBfloat16Program(shape));
