/**
 * A linear layer over the last axis as one kernel: x · W + b with its activation, on any leading shape.
 * tf.fused.matMul costs six kernels per layer on top of the product (a reshape to rows and back, its gradient
 * wrapper, and three reshapes inside), each paying the engine's bookkeeping; here the row view, tfjs-webgpu's
 * own fused matMul program (bias and ReLU in its epilogue) and the GELU program (gelu.ts) run inside one kernel
 * on backend tensors, whose reshapes move no data. The composition it replaces (a 2-D matMul, a per-channel
 * add and the activation, model/common.ts's Linear) stays the path on the other backends and is its reference
 * in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { GeluProgram } from './gelu.js';

const KERNEL = 'Sam2longLinear';

/** The epilogues of the linear kernels of this folder. */
export type LinearActivation = 'linear' | 'relu' | 'gelu';

interface Attrs {
  activation: LinearActivation;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: {} };

/** A registered webgpu kernel's function (tfjs-webgpu's own Reshape and _FusedMatMul). */
function webgpuKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'webgpu');
  if (!kernel) throw new Error(`tfjs-webgpu has no ${name} kernel`);
  return kernel.kernelFunc;
}

function linearKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { activation } = attrs as unknown as Attrs;
  const { x, w, bias } = inputs as Record<string, tf.TensorInfo>;
  const gpu = backend as WebGPUBackend;
  const reshape = webgpuKernel('Reshape');
  const [inDim, outDim] = w.shape;
  const rows = reshape({ inputs: { x }, backend, attrs: { shape: [-1, inDim] } }) as tf.TensorInfo;
  let y = webgpuKernel('_FusedMatMul')({
    inputs: bias ? { a: rows, b: w, bias } : { a: rows, b: w },
    backend,
    attrs: { transposeA: false, transposeB: false, activation: activation === 'relu' ? 'relu' : 'linear', leakyreluAlpha: 0 },
  }) as tf.TensorInfo;
  gpu.disposeData(rows.dataId);
  if (activation === 'gelu') {
    const g = gpu.runWebGPUProgram(new GeluProgram(y.shape), [y], 'float32');
    gpu.disposeData(y.dataId);
    y = g;
  }
  const out = reshape({ inputs: { x: y }, backend, attrs: { shape: [...x.shape.slice(0, -1), outDim] } }) as tf.TensorInfo;
  gpu.disposeData(y.dataId);
  return out;
}

registerFusedKernel(KERNEL, linearKernel as unknown as tf.KernelFunc);

/** x · w + b, then the activation, over the last axis as one kernel (webgpu backend only). */
// x [..., in], w [in, out], b [out] → [..., out]
export function fusedLinear(x: tf.Tensor, w: tf.Tensor2D, b: tf.Tensor1D | null, activation: Attrs['activation'] = 'linear'): tf.Tensor {
  const inputs: tf.NamedTensorMap = b ? { x, w, bias: b } : { x, w };
  return tf.engine().runKernel(KERNEL, inputs, { activation } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
