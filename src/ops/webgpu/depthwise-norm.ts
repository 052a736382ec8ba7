/**
 * The head of the memory encoder's ConvNeXt block as one WebGPU program: a stride-1 k×k depthwise convolution
 * that keeps the map's size (zero padding (k − 1)/2, its bias) followed by the LayerNorm over channels (LayerNorm2d on an NHWC map), γ and β. It
 * replaces two programs (tfjs's fused depthwise conv, then ops/webgpu/layer-norm.ts) and the map between them on
 * the webgpu backend; model/memory-encoder.ts's CXBlock composition stays the path elsewhere and is its
 * reference in tests.
 * One thread per pixel computes all C conv outputs, writing them to its output row as it sums them, then
 * normalises that row in place (two more passes over it: the centred variance, then the affine), so the
 * convolution runs once and the statistics are those of the plain composition (mean, then the mean of squared
 * centred values). No cross-thread reduction: llvmpipe, the software adapter of CI, gave stale workgroup-memory
 * sums (see layer-norm.ts). The k×k taps are unrolled (see wgsl.ts on llvmpipe's loop budget), so an
 * invocation runs 3·C loop iterations.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ShapeError } from '../../errors.js';
import { registerFusedKernel } from './fused.js';
import { RowProgram, unroll } from './wgsl.js';

const KERNEL = 'Sam2longDepthwiseNorm';

type Attrs = { padding: number; eps: number };

class DepthwiseNormProgram extends RowProgram {
  variableNames: string[];
  shaderKey: string;
  uniforms = 'pixels : i32, height : i32, width : i32, eps : f32,';

  constructor(shape: number[], private readonly kernel: number, private readonly padding: number, private readonly hasBias: boolean) {
    const [b, h, w, c] = shape;
    // [pixels, C]: one row per pixel.
    super(b * h * w, c);
    this.variableNames = hasBias ? ['x', 'taps', 'gamma', 'beta', 'tapBias'] : ['x', 'taps', 'gamma', 'beta'];
    this.shaderKey = `sam2longDepthwiseNorm_${c}_${kernel}_${padding}_${hasBias}`;
  }

  getUserCode(): string {
    const c = this.outputShape[1];
    const k = this.kernel;
    const p = this.padding;
    // Per tap row ky / column kx: whether it lies in the map, and its element offset (clamped inside the map).
    const rows = unroll(k, (ky) => `let iy${ky} = y + ${ky - p};
        let inY${ky} = iy${ky} >= 0 && iy${ky} < uniforms.height;
        let rowAt${ky} = (image * uniforms.height + clamp(iy${ky}, 0, uniforms.height - 1)) * uniforms.width;`);
    const cols = unroll(k, (kx) => `let ix${kx} = xx + ${kx - p};
        let inX${kx} = ix${kx} >= 0 && ix${kx} < uniforms.width;
        let colAt${kx} = clamp(ix${kx}, 0, uniforms.width - 1);`);
    const taps = unroll(k, (ky) => `if (inY${ky}) {
          ${unroll(k, (kx) => `if (inX${kx}) { acc += x[(rowAt${ky} + colAt${kx}) * ${c} + ch] * taps[${(ky * k + kx) * c} + ch]; }`)}
        }`);
    return this.main('pixels', `let pixel = row;
        let xx = pixel % uniforms.width;
        let y = (pixel / uniforms.width) % uniforms.height;
        let image = pixel / (uniforms.width * uniforms.height);
        ${rows}
        ${cols}
        let base = pixel * ${c};
        var mean = 0.0;
        for (var ch = 0; ch < ${c}; ch++) {
          var acc = 0.0;
          ${taps}
          let v = acc${this.hasBias ? ' + tapBias[ch]' : ''};
          result[base + ch] = v;
          mean += v;
        }
        mean /= ${c}.0;
        var variance = 0.0;
        for (var ch = 0; ch < ${c}; ch++) {
          let d = result[base + ch] - mean;
          variance += d * d;
        }
        let inv = inverseSqrt(variance / ${c}.0 + uniforms.eps);
        for (var ch = 0; ch < ${c}; ch++) {
          result[base + ch] = (result[base + ch] - mean) * inv * gamma[ch] + beta[ch];
        }`);
  }
}

function depthwiseNormKernel({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const { padding, eps } = attrs as unknown as Attrs;
  const { x, filter, gamma, beta, filterBias } = inputs as Record<string, tf.TensorInfo>;
  const [b, h, w] = x.shape;
  const program = new DepthwiseNormProgram(x.shape, filter.shape[0], padding, filterBias !== undefined);
  const out = (backend as WebGPUBackend).runWebGPUProgram(program, filterBias ? [x, filter, gamma, beta, filterBias] : [x, filter, gamma, beta], 'float32', [
    { type: 'int32', data: [b * h * w] },
    { type: 'int32', data: [h] },
    { type: 'int32', data: [w] },
    { type: 'float32', data: [eps] },
  ]);
  // The program writes flat pixel rows; the tensor keeps the map's shape (a reshape moves no data).
  return { dataId: out.dataId, shape: x.shape, dtype: out.dtype };
}

registerFusedKernel(KERNEL, depthwiseNormKernel as unknown as tf.KernelFunc);

export interface DepthwiseNormWeights {
  /** The depthwise kernel, HWIO. [k, k, C, 1] */
  filter: tf.Tensor4D;
  /** [C] */
  filterBias: tf.Tensor1D | null;
  /** Symmetric zero padding of the convolution (stride 1): (k − 1)/2, the size-keeping one. */
  padding: number;
  /** The LayerNorm's γ and β. [C] */
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  eps: number;
}

/** LayerNorm over channels of a size-keeping depthwise convolution of x, one program (webgpu backend only). */
// x [B, H, W, C] → [B, H, W, C]
export function fusedDepthwiseNorm(x: tf.Tensor4D, { filter, filterBias, padding, gamma, beta, eps }: DepthwiseNormWeights): tf.Tensor4D {
  const [k, , c] = filter.shape;
  if (2 * padding !== k - 1 || c !== x.shape[3]) throw new ShapeError(`fusedDepthwiseNorm: a ${k}×${k}×${c} filter with padding ${padding} does not keep a [${x.shape}] map's size`);
  const inputs: tf.NamedTensorMap = filterBias ? { x, filter, gamma, beta, filterBias } : { x, filter, gamma, beta };
  return tf.engine().runKernel(KERNEL, inputs, { padding, eps } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}
