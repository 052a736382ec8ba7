/**
 * Rotary position encoding as one WebGPU program: for the first `rotated` tokens of every batch item,
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
import { ElementwiseProgram } from './wgsl.js';

const KERNEL = 'Sam2longRope';

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

function ropeKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { x, cosines, sines } = inputs as Record<string, tf.TensorInfo>;
  return (backend as WebGPUBackend).runWebGPUProgram(new RopeProgram(x.shape, attrs as unknown as Attrs), [x, cosines, sines], 'float32');
}

registerFusedKernel(KERNEL, ropeKernel as unknown as tf.KernelFunc);

/** The first `rotated` tokens of each item rotated, the rest copied, one program (webgpu backend only). */
// x [B, N, C] (C even), cosines/sines [grid, C] → [B, N, C]
export function fusedRope(x: tf.Tensor3D, cosines: tf.Tensor2D, sines: tf.Tensor2D, rotated: number): tf.Tensor3D {
  const attrs: Attrs = { grid: cosines.shape[0], rotated };
  return tf.engine().runKernel(KERNEL, { x, cosines, sines }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}
