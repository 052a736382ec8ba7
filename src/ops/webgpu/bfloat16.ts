/**
 * Rounding to bfloat16 (ties to even, kept as float32) as one elementwise WebGPU program on the float's bits,
 * so the memory features are rounded where they are and never read back to the host. Bit for bit what the
 * host rounding of model/memory-encoder.ts (roundToBfloat16) computes; that stays the path elsewhere and is its
 * reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { ElementwiseProgram } from './wgsl.js';

const KERNEL = 'Sam2longRoundBfloat16';

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

function roundKernel({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { x } = inputs as Record<string, tf.TensorInfo>;
  return (backend as WebGPUBackend).runWebGPUProgram(new RoundBfloat16Program(x.shape), [x], 'float32');
}

registerFusedKernel(KERNEL, roundKernel as unknown as tf.KernelFunc);

/** Each float32 rounded to the nearest bfloat16 (ties to even), one program (webgpu backend only). */
// x [...] float32 → [...]
export function roundToBfloat16OnDevice(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(KERNEL, { x }) as tf.Tensor;
}
