/**
 * G linear layers of one shape, each on its own rows, as one kernel: x[g] · W[g] + b[g] with its activation.
 * The mask decoder's four hypernetwork MLPs are such a group (one per mask token): run one token at a time they
 * cost 3 layers × 4 tokens plus a slice and reshape per token; as a group, one batched product per layer
 * (matmul-splice.ts: tfjs-webgpu's fused matMul program, bias broadcast over the rows, the activation in
 * its epilogue). The composition it replaces
 * (model/mask-decoder.ts's per-token MLPs) stays the path on the other backends and is its reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerFusedKernel } from './fused.js';
import { matMulSpliced, type LinearActivation } from './matmul-splice.js';

const KERNEL = 'Sam2longGroupedLinear';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: {} };

function groupedLinearKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { activation } = attrs as unknown as { activation: LinearActivation };
  const { x, w, bias } = inputs as Record<string, tf.TensorInfo>;
  return matMulSpliced(x, w, bias, { activation }, backend);
}

registerFusedKernel(KERNEL, groupedLinearKernel as unknown as tf.KernelFunc);

/** Group g's rows through group g's layer, then the activation, as one kernel (webgpu backend only). */
// x [G, R, in], w [G, in, out], b [G, 1, out] → [G, R, out]
export function fusedGroupedLinear(x: tf.Tensor3D, w: tf.Tensor3D, b: tf.Tensor3D | null, activation: LinearActivation = 'linear'): tf.Tensor3D {
  const inputs: tf.NamedTensorMap = b ? { x, w, bias: b } : { x, w };
  return tf.engine().runKernel(KERNEL, inputs, { activation } as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}
