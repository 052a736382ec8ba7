/**
 * A chain of small elementwise operations as one WebGPU program: each output element is a WGSL expression of
 * its operands, each read at the element itself, at its channel (a per-channel vector) or at its row (a value
 * per leading batch item). A composition of k tfjs ops writes and re-reads k − 1 intermediate tensors and pays
 * k dispatches; here one. The expressions are written with tfjs-webgpu's own formulas (sigmoid as
 * 1 / (1 + exp(−a))), so the values are the composition's up to the compiler contracting a · b + c. The caller
 * keeps the plain composition as the path on the other backends and as the reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { ElementwiseProgram } from './wgsl.js';

const KERNEL = 'Sam2longElementwise';

/**
 * Where an operand is read for output element `index` of shape [B, ..., C]: 'full' at `index` (the output's
 * shape), 'channel' at index mod C (shape [C]), 'token' at index / C (the output's shape without C), 'row' at
 * index / (elements per batch item) (shape [B]).
 */
export type OperandAt = 'full' | 'channel' | 'token' | 'row';

interface Attrs {
  expr: string;
  at: OperandAt[];
  shape: number[];
}

class ChainProgram extends ElementwiseProgram {
  variableNames: string[];
  shaderKey: string;

  constructor(private readonly attrs: Attrs) {
    super(attrs.shape);
    this.variableNames = attrs.at.map((_, i) => `x${i}`);
    this.shaderKey = `sam2longElementwise_${attrs.shape.join('x')}_${attrs.at.join('_')}_${attrs.expr}`;
  }

  getUserCode(): string {
    const { shape, at, expr } = this.attrs;
    const channels = shape[shape.length - 1];
    const rowSize = shape.slice(1).reduce((a, d) => a * d, 1);
    const where = { full: 'index', channel: `index % ${channels}`, token: `index / ${channels}`, row: `index / ${rowSize}` };
    // f32(): a float32 tensor may hold another type's data on the device (tfjs-webgpu casts bool to float32 by
    // relabelling the tensor: the buffer stays i32).
    const reads = at.map((a, i) => `let v${i} = f32(x${i}[${where[a]}]);`).join('\n      ');
    return this.main(`${reads}
      result[index] = ${expr};`);
  }
}

registerFusedKernel(KERNEL, (({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown }) => {
  const a = attrs as unknown as Attrs;
  const operands = a.at.map((_, i) => (inputs as Record<string, tf.TensorInfo>)[`x${i}`]);
  return (backend as WebGPUBackend).runWebGPUProgram(new ChainProgram(a), operands, 'float32');
}) as unknown as tf.KernelFunc);

/** A float as a WGSL f32 literal (20 → "20.0"). */
export function wgslFloat(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`no WGSL literal for ${v}`);
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** WGSL of tfjs-webgpu's sigmoid of `a`. */
export const wgslSigmoid = (a: string) => `(1.0 / (1.0 + exp(-1.0 * ${a})))`;

/**
 * `expr` (WGSL over v0, v1, … for the operands in order) at every element of `shape`, as one program (webgpu
 * backend only; float32 operands).
 */
// operands: [...shape] | [C] | [..., without C] | [B] → [...shape]
export function fusedElementwise(expr: string, shape: number[], operands: [tf.Tensor, OperandAt][]): tf.Tensor {
  const channels = shape[shape.length - 1];
  for (const [t, at] of operands) {
    const elements = shape.reduce((a, d) => a * d, 1);
    const expected = { full: elements, channel: channels, token: elements / channels, row: shape[0] }[at];
    if (t.size !== expected || t.dtype !== 'float32') {
      throw new Error(`fusedElementwise: a '${at}' operand of [${t.shape.join(', ')}] (${t.dtype}) for an output of [${shape.join(', ')}]`);
    }
  }
  const inputs = Object.fromEntries(operands.map(([t], i) => [`x${i}`, t]));
  const attrs: Attrs = { expr, at: operands.map(([, at]) => at), shape };
  return tf.engine().runKernel(KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
