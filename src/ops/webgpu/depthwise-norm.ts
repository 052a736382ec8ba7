/**
 * The head of the memory encoder's ConvNeXt block as one WebGPU program: a stride-1 k×k depthwise convolution
 * that keeps the map's size (zero padding (k − 1)/2, its bias) followed by the LayerNorm over channels
 * (LayerNorm2d on an NHWC map), γ and β. It replaces two programs (tfjs's fused depthwise conv, then
 * ops/webgpu/layer-norm.ts) and the map between them on the webgpu backend; model/memory-encoder.ts's CXBlock
 * composition stays the path elsewhere and is its reference in tests.
 * A pixel's channels are spread over up to MAX_LANES threads of one workgroup as vec4s when C allows (several
 * pixels per workgroup when C is small), so neighbouring threads read neighbouring channels (coalesced) and a
 * 64×64 map still gives a GPU tens of thousands of threads. Each thread keeps its channels' conv outputs in
 * registers; the pixel's sum, then its sum of squared centred values (the plain composition's two passes), are
 * shared through workgroup memory. Barriers stay in uniform control flow (no early exit: threads past the last
 * pixel compute a clamped one and write nothing), as in flash-attention.ts. The k×k taps are unrolled (see
 * wgsl.ts on llvmpipe's loop budget). One scalar thread per pixel, the simpler design, would give a GPU only
 * 4,096 threads on a 64×64 map. On the software adapter (CPU) this program takes 2–3× the time of the two it
 * replaces (64×64×256: ~1.7 s against ~0.6 s; tfjs's vec4 depthwise program reuses loaded columns across
 * outputs, which pays on a CPU); it is shaped for GPUs, where it saves a dispatch and the map between them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { ShapeError } from '../../errors.js';
import { registerFusedKernel } from './fused.js';
import { gridDispatch, unroll } from './wgsl.js';

const KERNEL = 'Sam2longDepthwiseNorm';
const THREADS = 64;
const MAX_LANES = 16;

type Attrs = { padding: number; eps: number };

/**
 * Threads that share one pixel's channel vectors: the power of two ≥ vectors, at most MAX_LANES (each lane adds
 * all its pixel's partials, so more lanes cost more reads of workgroup memory than they save).
 */
function lanesFor(vectors: number): number {
  let lanes = 1;
  while (lanes < vectors && lanes < MAX_LANES) lanes *= 2;
  return lanes;
}

class DepthwiseNormProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0], y: [1] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  uniforms = 'pixels : i32, height : i32, width : i32, eps : f32,';
  /** Channels per vector: 4 (vec4 loads and arithmetic) when C allows. */
  private readonly width: number;
  variableComponents: number[];
  outputComponent: number;
  private readonly lanes: number;

  constructor(shape: number[], private readonly kernel: number, private readonly padding: number, private readonly hasBias: boolean) {
    const [b, h, w, c] = shape;
    // [pixels, C]: the kernel indexes flat pixel rows.
    this.outputShape = [b * h * w, c];
    this.variableNames = hasBias ? ['x', 'taps', 'gamma', 'beta', 'tapBias'] : ['x', 'taps', 'gamma', 'beta'];
    this.width = c % 4 === 0 ? 4 : 1;
    this.variableComponents = this.variableNames.map(() => this.width);
    this.outputComponent = this.width;
    this.lanes = lanesFor(c / this.width);
    this.dispatch = gridDispatch(Math.ceil((b * h * w) / (THREADS / this.lanes)));
    this.shaderKey = `sam2longDepthwiseNorm_${c}_${kernel}_${padding}_${hasBias}`;
  }

  getUserCode(): string {
    const k = this.kernel;
    const p = this.padding;
    const { lanes, width } = this;
    const c = this.outputShape[1];
    // Vectors per pixel, and per thread: lane, lane + lanes, …
    const n = c / width;
    const per = Math.ceil(n / lanes);
    const type = width === 4 ? 'vec4<f32>' : 'f32';
    const sum = (v: string) => (width === 4 ? `dot(${v}, vec4<f32>(1.0))` : v);
    // Per tap row ky / column kx: whether it lies in the map, and its pixel offset (clamped inside the map).
    const rows = unroll(k, (ky) => `let iy${ky} = y + ${ky - p};
      let inY${ky} = iy${ky} >= 0 && iy${ky} < uniforms.height;
      let rowAt${ky} = (image * uniforms.height + clamp(iy${ky}, 0, uniforms.height - 1)) * uniforms.width;`);
    const cols = unroll(k, (kx) => `let ix${kx} = xx + ${kx - p};
      let inX${kx} = ix${kx} >= 0 && ix${kx} < uniforms.width;
      let colAt${kx} = clamp(ix${kx}, 0, uniforms.width - 1);`);
    const conv = (j: number) => `if (ch${j} < ${n}) {
        var acc = ${type}(0.0);
        ${unroll(k, (ky) => `if (inY${ky}) {
          ${unroll(k, (kx) => `if (inX${kx}) { acc += x[(rowAt${ky} + colAt${kx}) * ${n} + ch${j}] * taps[${(ky * k + kx) * n} + ch${j}]; }`)}
        }`)}
        v[${j}] = acc${this.hasBias ? ` + tapBias[ch${j}]` : ''};
        part += ${sum(`v[${j}]`)};
      }`;
    // Each lane adds all of its pixel's partials, in lane order, from workgroup memory. (Adding them pairwise
    // over log2(lanes) barriers gave wrong sums on llvmpipe, the software adapter of CI, at 16 lanes.)
    const reduce = (name: string) => `partial[tid] = part;
      workgroupBarrier();
      var ${name} = 0.0;
      ${unroll(lanes, (i) => `${name} += partial[tid - lane + ${i}];`)}
      // Every lane has read the partials before the next reduction writes.
      workgroupBarrier();`;
    return `
    var<workgroup> partial : array<f32, ${THREADS}>;

    fn main() {
      let tid = i32(localId.x);
      let lane = tid % ${lanes};
      let slot = (i32(workgroupId.y) * i32(numWorkgroups.x) + i32(workgroupId.x)) * ${THREADS / lanes} + tid / ${lanes};
      let live = slot < uniforms.pixels;
      let pixel = min(slot, uniforms.pixels - 1);
      let xx = pixel % uniforms.width;
      let y = (pixel / uniforms.width) % uniforms.height;
      let image = pixel / (uniforms.width * uniforms.height);
      ${rows}
      ${cols}
      ${unroll(per, (j) => `let ch${j} = lane + ${j * lanes};`)}
      var v : array<${type}, ${per}>;
      var part = 0.0;
      ${unroll(per, conv)}
      ${reduce('total')}
      let mean = total / ${c}.0;
      part = 0.0;
      ${unroll(per, (j) => `if (ch${j} < ${n}) {
        v[${j}] -= mean;
        part += ${sum(`v[${j}] * v[${j}]`)};
      }`)}
      ${reduce('squares')}
      let inv = inverseSqrt(squares / ${c}.0 + uniforms.eps);
      if (live) {
        ${unroll(per, (j) => `if (ch${j} < ${n}) { result[pixel * ${n} + ch${j}] = v[${j}] * inv * gamma[ch${j}] + beta[ch${j}]; }`)}
      }
    }`;
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
