/**
 * Rounding to bfloat16 (ties to even, kept as float32) as one elementwise WebGPU program on the float's bits,
 * so the memory features are rounded where they are and never read back to the host. Bit for bit what the
 * host rounding of model/memory-encoder.ts (roundToBfloat16) computes; that stays the path elsewhere and is its
 * reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';

const KERNEL = 'Sam2longRoundBfloat16';
const THREADS = 128;

class RoundBfloat16Program implements WebGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  shaderKey = 'sam2longRoundBfloat16';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  size = true;

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(shape) / THREADS), 1, 1];
  }

  getUserCode(): string {
    // NaN and ±Infinity (all exponent bits set) pass through unchanged.
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        let b = bitcast<u32>(x[index]);
        var r = b;
        if ((b & 0x7f800000u) != 0x7f800000u) {
          r = (b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u;
        }
        result[index] = bitcast<f32>(r);
      }
    }`;
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
