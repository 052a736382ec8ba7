/**
 * Hiera's window partition and its inverse as one WebGPU program each: every output element reads its source
 * element directly, with the zero padding to whole windows (partition), the crop back to the map and the
 * block's residual add (unpartition) inside. They replace ops/windows.ts's compositions (pad, two reshape +
 * transpose pairs, a reshape; and back, a slice and an add) on the webgpu backend; those stay the path
 * elsewhere and are their reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { ElementwiseProgram } from './wgsl.js';

const PARTITION = 'Sam2longWindowPartition';
const UNPARTITION = 'Sam2longWindowUnpartition';

/** Window geometry: windows of wh×ww tokens, ny × nx of them per image, tiling an h×w map (zero-padded). */
export interface WindowGrid {
  batch: number;
  h: number;
  w: number;
  c: number;
  wh: number;
  ww: number;
  ny: number;
  nx: number;
}

type GridAttrs = { grid: WindowGrid };

/** The program key of a grid: the geometry is written into the shader. */
function gridKey(g: WindowGrid): string {
  return [g.batch, g.h, g.w, g.c, g.wh, g.ww, g.ny, g.nx].join('_');
}

/** [B, H, W, C] → [wh·ww, B·ny·nx, C]: token (i, j) of window n is row (i·ww + j), column n; padding reads 0. */
class PartitionProgram extends ElementwiseProgram {
  variableNames = ['x'];
  shaderKey: string;

  constructor(private readonly grid: WindowGrid) {
    super([grid.wh * grid.ww, grid.batch * grid.ny * grid.nx, grid.c]);
    this.shaderKey = `sam2longWindowPartition_${gridKey(grid)}`;
  }

  getUserCode(): string {
    const { h, w, c, wh, ww, ny, nx, batch } = this.grid;
    return this.main(`
      let ch = index % ${c};
      let row = index / ${c};
      let n = row % ${batch * ny * nx};
      let t = row / ${batch * ny * nx};
      let y = (n / ${nx}) % ${ny} * ${wh} + t / ${ww};
      let xx = n % ${nx} * ${ww} + t % ${ww};
      let b = n / ${ny * nx};
      var v = 0.0;
      if (y < ${h} && xx < ${w}) { v = x[((b * ${h} + y) * ${w} + xx) * ${c} + ch]; }
      result[index] = v;`);
  }
}

/** [wh·ww, B·ny·nx, C] → [B, h, w, C] cropped to the map, plus the residual when given. */
class UnpartitionProgram extends ElementwiseProgram {
  variableNames: string[];
  shaderKey: string;

  constructor(private readonly grid: WindowGrid, private readonly residual: boolean) {
    super([grid.batch, grid.h, grid.w, grid.c]);
    this.variableNames = residual ? ['tokens', 'residual'] : ['tokens'];
    this.shaderKey = `sam2longWindowUnpartition_${gridKey(grid)}_${residual}`;
  }

  getUserCode(): string {
    const { h, w, c, wh, ww, ny, nx, batch } = this.grid;
    return this.main(`
      let ch = index % ${c};
      let xx = (index / ${c}) % ${w};
      let y = (index / ${c * w}) % ${h};
      let b = index / ${c * w * h};
      let n = (b * ${ny} + y / ${wh}) * ${nx} + xx / ${ww};
      let t = (y % ${wh}) * ${ww} + xx % ${ww};
      result[index] = tokens[(t * ${batch * ny * nx} + n) * ${c} + ch]${this.residual ? ' + residual[index]' : ''};`);
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

function partitionKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { grid } = attrs as unknown as GridAttrs;
  return (backend as WebGPUBackend).runWebGPUProgram(new PartitionProgram(grid), [inputs.x as tf.TensorInfo], 'float32');
}

function unpartitionKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const { grid } = attrs as unknown as GridAttrs;
  const { tokens, residual } = inputs as Record<string, tf.TensorInfo>;
  return (backend as WebGPUBackend).runWebGPUProgram(new UnpartitionProgram(grid, residual !== undefined), residual ? [tokens, residual] : [tokens], 'float32');
}

registerFusedKernel(PARTITION, partitionKernel as unknown as tf.KernelFunc);
registerFusedKernel(UNPARTITION, unpartitionKernel as unknown as tf.KernelFunc);

/** Window partition, one program (webgpu backend only). */
// x [B, h, w, C] → [wh·ww, B·ny·nx, C]
export function fusedWindowPartition(x: tf.Tensor4D, grid: WindowGrid): tf.Tensor3D {
  return tf.engine().runKernel(PARTITION, { x }, { grid } as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}

/** Its inverse, cropped, plus `residual` if given, one program (webgpu backend only). */
// tokens [wh·ww, B·ny·nx, C], residual [B, h, w, C] → [B, h, w, C]
export function fusedWindowUnpartition(tokens: tf.Tensor3D, grid: WindowGrid, residual?: tf.Tensor4D): tf.Tensor4D {
  const inputs: tf.NamedTensorMap = residual ? { tokens, residual } : { tokens };
  return tf.engine().runKernel(UNPARTITION, inputs, { grid } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
