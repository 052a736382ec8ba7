/**
 * A one-input elementwise WebGPU program: `result[i] = f(x[i])`, with f given as WGSL (a function `elementOp` of one
 * f32), one thread per element. The shape the small fused kernels of this folder share.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

const THREADS = 128;

class ElementwiseProgram implements WebGPUProgram {
  variableNames = ['x'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  size = true;

  constructor(shape: number[], name: string, private readonly op: string) {
    this.outputShape = shape;
    this.shaderKey = name;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = [Math.ceil(tf.util.sizeFromShape(shape) / THREADS), 1, 1];
  }

  getUserCode(): string {
    return `
    ${this.op}
    fn main(index : i32) {
      if (index < uniforms.size) {
        result[index] = elementOp(x[index]);
      }
    }`;
  }
}

/**
 * A kernel function running `op` (WGSL source of `fn elementOp(v : f32) -> f32`, plus any helpers it calls) on every
 * element of its input `x`; `name` keys tfjs's shader cache, so one name must always mean one `op`.
 */
export function elementwiseKernel(name: string, op: string): tf.KernelFunc {
  return (({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
    const { x } = inputs as Record<string, tf.TensorInfo>;
    return (backend as WebGPUBackend).runWebGPUProgram(new ElementwiseProgram(x.shape, name, op), [x], 'float32');
  }) as unknown as tf.KernelFunc;
}
