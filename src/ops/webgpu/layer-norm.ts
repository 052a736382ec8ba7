/**
 * LayerNorm over the last axis as one WebGPU program, with an optional residual added first:
 * (x + r − mean) / √(var + eps) · γ + β, mean and variance over the row (two passes over it, as the plain
 * composition: centred values, then the mean of their squares). It replaces model/common.ts's LayerNorm
 * composition (mean, sub, square, mean, add, rsqrt, mul, scale and shift: nine kernels, plus the residual add) on
 * the webgpu backend; that composition stays the path elsewhere and is its reference in tests.
 * One thread per row (rows up to NARROW channels held in registers). A workgroup-per-row reduction through
 * workgroup memory would read rows coalesced on a GPU, but Mesa's llvmpipe (the software adapter of CI) gave
 * threads past the first SIMD group stale sums with it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { WGSL_GELU } from './gelu.js';
import { gridDispatch, unroll } from './wgsl.js';

const KERNEL = 'Sam2longLayerNorm';
const THREADS = 64;
/** Rows up to this wide are held in registers, unrolled; wider ones are read in three passes. */
const NARROW = 32;

type Attrs = { eps: number; gelu: boolean };

class LayerNormProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0], y: [1] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  uniforms = 'rows : i32, eps : f32,';

  constructor(shape: number[], private readonly residual: boolean, private readonly gelu: boolean) {
    const c = shape[shape.length - 1];
    const rows = shape.length ? tf.util.sizeFromShape(shape) / c : 1;
    this.variableNames = residual ? ['x', 'gamma', 'beta', 'residual'] : ['x', 'gamma', 'beta'];
    // [rows, C]: the kernel indexes flat rows whatever the rank.
    this.outputShape = [rows, c];
    this.dispatch = gridDispatch(Math.ceil(rows / THREADS));
    this.shaderKey = `layerNorm_${c}_${residual ? 'residual' : ''}_${gelu ? 'gelu' : ''}`;
  }

  getUserCode(): string {
    const c = this.outputShape[1];
    const value = (i: string) => (this.residual ? `(x[${i}] + residual[${i}])` : `x[${i}]`);
    const out = (y: string) => (this.gelu ? `gelu(${y})` : y);
    // Narrow rows in registers, unrolled; wide ones read in three passes.
    const body = c <= NARROW
      ? `var v : array<f32, ${c}>;
        ${unroll(c, (i) => `v[${i}] = ${value(`base + ${i}`)};`)}
        var mean = 0.0;
        ${unroll(c, (i) => `mean += v[${i}];`)}
        mean /= ${c}.0;
        var variance = 0.0;
        ${unroll(c, (i) => `v[${i}] -= mean;\n        variance += v[${i}] * v[${i}];`)}
        let inv = inverseSqrt(variance / ${c}.0 + uniforms.eps);
        ${unroll(c, (i) => `result[base + ${i}] = ${out(`v[${i}] * inv * gamma[${i}] + beta[${i}]`)};`)}`
      : `var mean = 0.0;
        for (var i = 0; i < ${c}; i++) { mean += ${value('base + i')}; }
        mean /= ${c}.0;
        var variance = 0.0;
        for (var i = 0; i < ${c}; i++) {
          let d = ${value('base + i')} - mean;
          variance += d * d;
        }
        let inv = inverseSqrt(variance / ${c}.0 + uniforms.eps);
        for (var i = 0; i < ${c}; i++) { result[base + i] = ${out(`(${value('base + i')} - mean) * inv * gamma[i] + beta[i]`)}; }`;
    return `${this.gelu ? WGSL_GELU : ''}
      fn main() {
        let row = (i32(workgroupId.y) * i32(numWorkgroups.x) + i32(workgroupId.x)) * ${THREADS} + i32(localId.x);
        if (row >= uniforms.rows) { return; }
        let base = row * ${c};
        ${body}
      }`;
  }
}

function layerNormKernel({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const { eps, gelu } = attrs as unknown as Attrs;
  const { x, gamma, beta, residual } = inputs as Record<string, tf.TensorInfo>;
  const program = new LayerNormProgram(x.shape, residual !== undefined, gelu);
  const gpu = backend as WebGPUBackend;
  const out = gpu.runWebGPUProgram(program, residual ? [x, gamma, beta, residual] : [x, gamma, beta], 'float32',
    [{ type: 'int32', data: [program.outputShape[0]] }, { type: 'float32', data: [eps] }]);
  // The program writes flat rows; the tensor keeps the input's shape (a reshape moves no data).
  return { dataId: out.dataId, shape: x.shape, dtype: out.dtype };
}

registerFusedKernel(KERNEL, layerNormKernel as unknown as tf.KernelFunc);

/** LayerNorm of x (+ residual) over the last axis, then GELU when asked, one program (webgpu backend only). */
// x [..., C], gamma/beta [C], residual [..., C] → [..., C]
export function fusedLayerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number, residual?: tf.Tensor, gelu = false): tf.Tensor {
  const inputs: tf.NamedTensorMap = residual ? { x, gamma, beta, residual } : { x, gamma, beta };
  const attrs: Attrs = { eps, gelu };
  return tf.engine().runKernel(KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
