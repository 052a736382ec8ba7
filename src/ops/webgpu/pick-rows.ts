/**
 * x[b, index[b]] for every batch item b as one WebGPU program: each output element reads its source element
 * directly. It replaces model/mask-decoder.ts's pickPerItem composition (a flat row index from a range, a
 * product and a sum, then a reshape, a gather and a reshape) on the webgpu backend; that stays the path
 * elsewhere and is its reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { ElementwiseProgram } from './wgsl.js';

const KERNEL = 'Sam2longPickRows';

class PickRowsProgram extends ElementwiseProgram {
  variableNames = ['x', 'pick'];
  shaderKey: string;

  constructor(private readonly shape: number[]) {
    super([shape[0], 1, ...shape.slice(2)]);
    this.shaderKey = `sam2longPickRows_${shape.join('x')}`;
  }

  getUserCode(): string {
    const [, m, ...rest] = this.shape;
    const row = rest.reduce((a, d) => a * d, 1);
    return this.main(`
      let b = index / ${row};
      result[index] = x[(b * ${m} + pick[b]) * ${row} + index % ${row}];`);
  }
}

registerFusedKernel(KERNEL, (({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
  const { x, pick } = inputs as Record<string, tf.TensorInfo>;
  return (backend as WebGPUBackend).runWebGPUProgram(new PickRowsProgram(x.shape), [x, pick], x.dtype);
}) as unknown as tf.KernelFunc);

/** Item b's row index[b], one program (webgpu backend only). */
// x [B, M, ...], index [B] int32 → [B, 1, ...]
export function fusedPickRows<T extends tf.Tensor>(x: T, index: tf.Tensor1D): T {
  return tf.engine().runKernel(KERNEL, { x, pick: index }) as T;
}
