/**
 * A linear layer over the last axis as one kernel: x · W + b with its activation, on any leading shape.
 * tf.fused.matMul costs six kernels per layer on top of the product (a reshape to rows and back, its gradient
 * wrapper, and three reshapes inside), each paying the engine's bookkeeping; here the row view, tfjs-webgpu's
 * own fused matMul program (bias and ReLU in its epilogue) and the GELU program (gelu.ts) run inside one kernel
 * on backend tensors, whose reshapes move no data. An optional epilogue program scales the result per channel and
 * adds a residual (a ConvNeXt block's layer scale γ and its input) in the same kernel. The composition it replaces (a 2-D matMul, a per-channel
 * add and the activation, model/common.ts's Linear) stays the path on the other backends and is its reference
 * in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { assertShape } from '../../errors.js';
import { registerFusedKernel } from './fused.js';
import { GeluProgram } from './gelu.js';
import { ElementwiseProgram } from './wgsl.js';

const KERNEL = 'Sam2longLinear';

/** The epilogues of the linear kernels of this folder. */
export type LinearActivation = 'linear' | 'relu' | 'gelu';

interface Attrs {
  activation: LinearActivation;
}

/** The epilogue: y · scale (per output channel) + residual (the output's shape). */
class ScaleResidualProgram extends ElementwiseProgram {
  variableNames: string[];
  shaderKey: string;

  constructor(shape: number[], private readonly scaled: boolean, private readonly residual: boolean) {
    super(shape);
    this.variableNames = ['y', ...(scaled ? ['scale'] : []), ...(residual ? ['residual'] : [])];
    this.shaderKey = `sam2longScaleResidual_${shape[shape.length - 1]}_${scaled}_${residual}`;
  }

  getUserCode(): string {
    const c = this.outputShape[this.outputShape.length - 1];
    const scaled = this.scaled ? `y[index] * scale[index % ${c}]` : 'y[index]';
    return this.main(`result[index] = ${this.residual ? `residual[index] + ${scaled}` : scaled};`);
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: {} };

/** A registered webgpu kernel's function (tfjs-webgpu's own Reshape and _FusedMatMul). */
function webgpuKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'webgpu');
  if (!kernel) throw new Error(`tfjs-webgpu has no ${name} kernel`);
  return kernel.kernelFunc;
}

/**
 * a · b (+ bias) with the activation on backend tensors: tfjs-webgpu's fused matMul program (bias and ReLU in its
 * epilogue), then the GELU program when asked. Rank-3 operands are batched products (grouped-linear.ts).
 */
// a [(G,) R, in], b [(G,) in, out], bias broadcast to the output → [(G,) R, out]
export function matMulActivation(a: tf.TensorInfo, b: tf.TensorInfo, bias: tf.TensorInfo | undefined, activation: LinearActivation, backend: {}): tf.TensorInfo {
  const gpu = backend as WebGPUBackend;
  const y = webgpuKernel('_FusedMatMul')({
    inputs: bias ? { a, b, bias } : { a, b },
    backend,
    attrs: { transposeA: false, transposeB: false, activation: activation === 'relu' ? 'relu' : 'linear', leakyreluAlpha: 0 },
  }) as tf.TensorInfo;
  if (activation !== 'gelu') return y;
  const g = gpu.runWebGPUProgram(new GeluProgram(y.shape), [y], 'float32');
  gpu.disposeData(y.dataId);
  return g;
}

/** The kernel's function: other kernels of this folder run a Linear inside themselves through it. */
export function linearKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { activation } = attrs as unknown as Attrs;
  const { x, w, bias, scale, residual } = inputs as Record<string, tf.TensorInfo>;
  const gpu = backend as WebGPUBackend;
  const reshape = webgpuKernel('Reshape');
  const [inDim, outDim] = w.shape;
  const rows = reshape({ inputs: { x }, backend, attrs: { shape: [-1, inDim] } }) as tf.TensorInfo;
  let y = matMulActivation(rows, w, bias, activation, backend);
  gpu.disposeData(rows.dataId);
  if (scale || residual) {
    const inputs = [y, ...(scale ? [scale] : []), ...(residual ? [residual] : [])];
    const e = gpu.runWebGPUProgram(new ScaleResidualProgram(y.shape, scale !== undefined, residual !== undefined), inputs, 'float32');
    gpu.disposeData(y.dataId);
    y = e;
  }
  const out = reshape({ inputs: { x: y }, backend, attrs: { shape: [...x.shape.slice(0, -1), outDim] } }) as tf.TensorInfo;
  gpu.disposeData(y.dataId);
  return out;
}

registerFusedKernel(KERNEL, linearKernel as unknown as tf.KernelFunc);

/** What the kernel does after the activation: `· scale` per output channel, then `+ residual`. */
export interface LinearEpilogue {
  /** [out] */
  scale?: tf.Tensor1D | null;
  /** [..., out]: the output's shape */
  residual?: tf.Tensor;
}

/**
 * x · w + b, then the activation, then `epilogue` (residual + y · scale), over the last axis as one kernel
 * (webgpu backend only).
 */
// x [..., in], w [in, out], b [out], scale [out], residual [..., out] → [..., out]
export function fusedLinear(x: tf.Tensor, w: tf.Tensor2D, b: tf.Tensor1D | null, activation: Attrs['activation'] = 'linear', epilogue: LinearEpilogue = {}): tf.Tensor {
  const { scale, residual } = epilogue;
  if (residual) assertShape('Linear residual', residual.shape, [...x.shape.slice(0, -1), w.shape[1]]);
  const inputs: tf.NamedTensorMap = b ? { x, w, bias: b } : { x, w };
  if (scale) inputs.scale = scale;
  if (residual) inputs.residual = residual;
  return tf.engine().runKernel(KERNEL, inputs, { activation } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
