/**
 * A linear layer over the last axis as one kernel and one GPU program: (x + addend) · W + b with its
 * activation, on any leading shape. tf.fused.matMul costs six kernels per layer on top of the product (a reshape to rows and back,
 * its gradient wrapper, and three reshapes inside), each paying the engine's bookkeeping; here the row view and
 * tfjs-webgpu's own matMul program run inside one kernel on backend tensors, whose reshapes move no data, and
 * an addend to x (a position encoding added before a projection) and what follows the bias (GELU, a
 * per-channel scale and a residual: a ConvNeXt block's layer scale γ and its input, a block's skip
 * connection) run inside that program (matmul-splice.ts). The composition it replaces
 * (a 2-D matMul, a per-channel add and the activation, model/common.ts's Linear) stays the path on the other
 * backends and is its reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { assertShape } from '../../errors.js';
import { registerFusedKernel } from './fused.js';
import { matMulSpliced, webgpuKernel, type LinearActivation } from './matmul-splice.js';

const KERNEL = 'Sam2longLinear';

interface Attrs {
  activation: LinearActivation;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: {} };

/** The kernel's function: other kernels of this folder run a Linear inside themselves through it. */
export function linearKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { activation } = attrs as unknown as Attrs;
  const { x, w, bias, scale, residual, addend } = inputs as Record<string, tf.TensorInfo>;
  const gpu = backend as WebGPUBackend;
  const reshape = webgpuKernel('Reshape');
  const [inDim, outDim] = w.shape;
  const rows = reshape({ inputs: { x }, backend, attrs: { shape: [-1, inDim] } }) as tf.TensorInfo;
  // The residual as the product's rows: the program reads operands by the product's [1, rows, out] coordinates.
  const residualRows = residual ? (reshape({ inputs: { x: residual }, backend, attrs: { shape: [-1, outDim] } }) as tf.TensorInfo) : undefined;
  // The addend as rows of x, as the product reads them ([1, rows, in]); fewer rows repeat down the batch.
  const addendRows = addend ? (reshape({ inputs: { x: addend }, backend, attrs: { shape: [1, -1, inDim] } }) as tf.TensorInfo) : undefined;
  const y = matMulSpliced(rows, w, bias, { activation, scale, residual: residualRows, inputAddend: addendRows }, backend);
  for (const t of [rows, residualRows, addendRows]) if (t) gpu.disposeData(t.dataId);
  const out = reshape({ inputs: { x: y }, backend, attrs: { shape: [...x.shape.slice(0, -1), outDim] } }) as tf.TensorInfo;
  gpu.disposeData(y.dataId);
  return out;
}

registerFusedKernel(KERNEL, linearKernel as unknown as tf.KernelFunc);

/** What the kernel adds around the product. */
export interface LinearExtras {
  /** [1 or B, ...]: x's shape, or one item's shared by the batch; added to x before the product */
  addend?: tf.Tensor;
  /** [out]: the activation's output times this per channel */
  scale?: tf.Tensor1D | null;
  /** [..., out]: the output's shape; added last */
  residual?: tf.Tensor;
}

/**
 * (x + addend) · w + b, then the activation, then residual + y · scale, over the last axis as one kernel
 * (webgpu backend only).
 */
// x [B, ..., in], w [in, out], b [out], addend [1 or B, ..., in], scale [out], residual [B, ..., out] → [B, ..., out]
export function fusedLinear(x: tf.Tensor, w: tf.Tensor2D, b: tf.Tensor1D | null, activation: Attrs['activation'] = 'linear', extras: LinearExtras = {}): tf.Tensor {
  const { addend, scale, residual } = extras;
  if (residual) assertShape('Linear residual', residual.shape, [...x.shape.slice(0, -1), w.shape[1]]);
  if (addend) assertShape('Linear addend', addend.shape, [addend.shape[0] === 1 ? 1 : x.shape[0], ...x.shape.slice(1)]);
  const inputs: tf.NamedTensorMap = b ? { x, w, bias: b } : { x, w };
  if (addend) inputs.addend = addend;
  if (scale) inputs.scale = scale;
  if (residual) inputs.residual = residual;
  return tf.engine().runKernel(KERNEL, inputs, { activation } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
