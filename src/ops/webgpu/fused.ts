/**
 * When the model takes the fused WebGPU kernels of this folder: on the webgpu backend, unless switched off
 * (`setFusedKernels(false)`, or SAM2LONG_WEBGPU_FUSED=0 in Node) to run and compare the plain tfjs compositions
 * they replace. Other backends always run the plain compositions.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/**
 * The switch lives on globalThis, as the kernels live in tfjs's one registry: a process can evaluate this folder
 * twice (mocha loads test files through require, and a dynamic import then loads the ES module copy), and both
 * copies must see one setting.
 */
const SWITCH = Symbol.for('sam2long.fusedKernels');
const state = ((globalThis as { [SWITCH]?: { enabled: boolean } })[SWITCH] ??= {
  enabled: !(typeof process !== 'undefined' && process.env?.SAM2LONG_WEBGPU_FUSED === '0'),
});

/** Switches the fused kernels on or off (on by default); returns the previous setting. */
export function setFusedKernels(on: boolean): boolean {
  const previous = state.enabled;
  state.enabled = on;
  return previous;
}

/** True when the current backend runs the fused WebGPU kernels. */
export function fusedKernelsOn(): boolean {
  return state.enabled && tf.getBackend() === 'webgpu';
}

/** Registers a fused kernel for the webgpu backend once per process (see SWITCH on why a file may load twice). */
export function registerFusedKernel(kernelName: string, kernelFunc: tf.KernelFunc): void {
  if (!tf.getKernel(kernelName, 'webgpu')) tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
}

/**
 * Registers `kernelName` as one program over its input `x` (made by `program` for x's shape) and returns the op
 * that runs it: the kernel function and op every one-input elementwise program of this folder needs.
 */
export function registerUnaryProgram(kernelName: string, program: (shape: number[]) => WebGPUProgram): (x: tf.Tensor) => tf.Tensor {
  registerFusedKernel(kernelName, (({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
    const { x } = inputs as Record<string, tf.TensorInfo>;
    return (backend as WebGPUBackend).runWebGPUProgram(program(x.shape), [x], 'float32');
  }) as unknown as tf.KernelFunc);
  return (x) => tf.engine().runKernel(kernelName, { x }) as tf.Tensor;
}

