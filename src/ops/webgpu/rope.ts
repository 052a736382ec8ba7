/**
 * A projection and its rotary position encoding as one WebGPU kernel: the Linear kernel (linear.ts), then one
 * program: for the first `rotated` tokens of every batch item,
 * out = x ⊙ cos + swap(x) ⊙ sin, where swap(x) exchanges the two channels of every pair and cos / sin are
 * per-channel factors ((c, c) and (−s, s), model/rope.ts) repeating every `grid` tokens; later tokens (the
 * memory's object pointers) are copied. The program reads swap(x) in place (channel c ^ 1), so the projection
 * with pair-swapped weight columns, the slices of rotated and kept tokens and their concatenation that
 * model/memory-attention.ts's RotaryProjection composes elsewhere are not needed here; that composition stays
 * the path on the other backends and is this program's reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { linearKernel } from './linear.js';
import { ElementwiseProgram } from './wgsl.js';

interface Attrs {
  /** Tokens per grid (the factors' rows). */
  grid: number;
  /** Leading tokens of each batch item that are rotated. */
  rotated: number;
}

class RopeProgram extends ElementwiseProgram {
  variableNames = ['x', 'cosines', 'sines'];
  shaderKey: string;

  constructor(shape: number[], private readonly attrs: Attrs) {
    super(shape);
    const [, tokens, channels] = shape;
    this.shaderKey = `sam2longRope_${tokens}_${channels}_${attrs.grid}_${attrs.rotated}`;
  }

  getUserCode(): string {
    const [, tokens, channels] = this.outputShape;
    const { grid, rotated } = this.attrs;
    return this.main(`
      let t = (index / ${channels}) % ${tokens};
      if (t >= ${rotated}) {
        result[index] = x[index];
        return;
      }
      let f = (t % ${grid}) * ${channels} + index % ${channels};
      result[index] = x[index] * cosines[f] + x[index ^ 1] * sines[f];`);
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

/** Runs the rotation program (the second half of the kernel below). */
function ropeKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { x, cosines, sines } = inputs as Record<string, tf.TensorInfo>;
  return (backend as WebGPUBackend).runWebGPUProgram(new RopeProgram(x.shape, attrs as unknown as Attrs), [x, cosines, sines], 'float32');
}

const KERNEL = 'Sam2longRotaryLinear';

/** A projection then the rotation of its output, in one kernel: the Linear kernel's programs, then RoPE's. */
function rotaryLinearKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { x, w, bias, cosines, sines } = inputs as Record<string, tf.TensorInfo>;
  const y = linearKernel({ inputs: bias ? { x, w, bias } : { x, w }, attrs: { activation: 'linear' }, backend: backend as {} });
  const out = ropeKernel({ inputs: { x: y, cosines, sines }, attrs, backend });
  (backend as WebGPUBackend).disposeData(y.dataId);
  return out;
}

registerFusedKernel(KERNEL, rotaryLinearKernel as unknown as tf.KernelFunc);

/**
 * x · w + b, then the rotation of its first `rotated` tokens of each item (the rest copied), as one kernel
 * (webgpu backend only).
 */
// x [B, N, in], w [in, C], b [C], cosines/sines [grid, C] → [B, N, C]
export function fusedRotaryLinear(x: tf.Tensor3D, w: tf.Tensor2D, b: tf.Tensor1D | null, cosines: tf.Tensor2D, sines: tf.Tensor2D, rotated: number): tf.Tensor3D {
  const attrs: Attrs = { grid: cosines.shape[0], rotated };
  const inputs: tf.NamedTensorMap = b ? { x, w, bias: b, cosines, sines } : { x, w, cosines, sines };
  return tf.engine().runKernel(KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}
