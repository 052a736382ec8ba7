/**
 * Building blocks shared by the SAM 2 modules. Every layer owns its weights and has one `call`.
 * Hot products are shaped for the fast path of tfjs-wasm (XNNPACK): plain 2-D, non-transposed matMul.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maxTensorBytes } from '../backend-limits.js';
import { assertShape } from '../errors.js';
import { groupedFlashAttention, multiHeadFlashAttention } from '../ops/webgpu/flash-attention.js';
import { fusedKernelsOn } from '../ops/webgpu/fused.js';
import { fusedGelu } from '../ops/webgpu/gelu.js';
import { fusedLayerNorm } from '../ops/webgpu/layer-norm.js';
import { fusedLinear } from '../ops/webgpu/linear.js';
import type { LinearWeights, NormWeights, WeightScope, ConvWeights } from './weights.js';
import { rowBlocks, rowIndices, takeRows } from '../ops/take-rows.js';
import { FLOAT_BYTES, mapRowChunks, rowChunks } from '../ops/row-chunks.js';
import { broadcastByAdd, repeatRows } from '../ops/layout.js';
import { conv2dWithBias, depthwiseConv2dWithBias } from '../ops/conv.js';

/** Rows this wide or wider broadcast a per-channel vector at full speed on tfjs-wasm. */
const WIDE_ROW = 256;
/** Regrouping pays for its tile op only on short rows of large tensors. */
const SHORT_ROW = 32;
const MIN_REGROUP_ELEMENTS = 1 << 14;

/**
 * x · scale + shift along the last axis (either may be null). tfjs-wasm broadcasts a short last axis about
 * 10× slower than a long one ([49152, 4] + [4]: 0.69 ms, [768, 256] + [256]: 0.05 ms), so short rows of a
 * large tensor are regrouped k at a time into rows of k·C with scale and shift tiled k times: the same values
 * meet the same elements.
 */
// x [..., C], scale/shift [C] → [..., C]
export function channelAffine(x: tf.Tensor, scale: tf.Tensor1D | null, shift: tf.Tensor1D | null): tf.Tensor {
  if (!scale && !shift) return x;
  return tf.tidy(() => {
    const c = x.shape[x.rank - 1];
    const k = c <= SHORT_ROW && x.size >= MIN_REGROUP_ELEMENTS ? rowsPerWideRow(x.size / c, c) : 1;
    const wide = k > 1 ? tf.reshape(x, [-1, k * c]) : x;
    const widen = (v: tf.Tensor1D) => (k > 1 ? tf.tile(v, [k]) : v);
    let y = scale ? tf.mul(wide, widen(scale)) : wide;
    if (shift) y = tf.add(y, widen(shift));
    return k > 1 ? tf.reshape(y, x.shape) : y;
  });
}

/** The largest power of two k ≤ WIDE_ROW / c that divides `rows`. */
function rowsPerWideRow(rows: number, c: number): number {
  let k = 1;
  while (2 * k * c <= WIDE_ROW && rows % (2 * k) === 0) k *= 2;
  return k;
}

export interface LinearOptions {
  /** The weights' name in the scope (`<name>.weight`, `<name>.bias`). */
  name: string;
  inDim: number;
  outDim: number;
  /** Default true. */
  bias?: boolean;
}

/** nn.Linear over the last axis, as one 2-D matMul. */
export class Linear {
  readonly w: tf.Tensor2D;
  readonly b: tf.Tensor1D | null;
  readonly inDim: number;
  readonly outDim: number;
  constructor(weights: WeightScope, { name, inDim, outDim, bias = true }: LinearOptions) {
    this.inDim = inDim;
    this.outDim = outDim;
    ({ w: this.w, b: this.b } = weights.linear(name, inDim, outDim, bias) as LinearWeights);
  }

  /**
   * The layer, then `activation` if given, then `residual` added (a block's skip connection); on WebGPU one
   * kernel (ops/webgpu/linear.ts).
   */
  // [..., in], residual [..., out] → [..., out]
  call(x: tf.Tensor, activation?: Activation, residual?: tf.Tensor): tf.Tensor {
    if (fusedKernelsOn()) return fusedLinear(x, this.w, this.b, activation, { residual });
    if (residual) return tf.tidy(() => tf.add(residual, this.call(x, activation)));
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const rows = tf.reshape(x, [-1, this.inDim]);
      const y = tf.reshape(channelAffine(tf.matMul(rows, this.w), null, this.b), [...lead, this.outDim]);
      return activation ? activate(y, activation) : y;
    });
  }

  /**
   * The layer of x + addend (a position encoding added before a projection); on WebGPU the sum is made as the
   * product reads x, in the same kernel.
   */
  // x [B, ..., in], addend [1 or B, ..., in] → [B, ..., out]
  callOnSum(x: tf.Tensor, addend: tf.Tensor): tf.Tensor {
    if (fusedKernelsOn()) return fusedLinear(x, this.w, this.b, 'linear', { addend });
    return tf.tidy(() => this.call(tf.add(x, addend)));
  }
}

/** Up to this many channels LayerNorm averages with a matMul (see normalizeByMatMul). */
const MATMUL_NORM_MAX_DIM = 8;

export interface LayerNormOptions {
  /** The weights' name in the scope. */
  name: string;
  dim: number;
  /** 1e-5 by default (PyTorch's), 1e-6 in Hiera and LayerNorm2d. */
  eps?: number;
}

/** nn.LayerNorm over the last axis. */
export class LayerNorm {
  readonly w: tf.Tensor1D;
  readonly b: tf.Tensor1D;
  readonly dim: number;
  readonly eps: number;
  constructor(weights: WeightScope, { name, dim, eps = 1e-5 }: LayerNormOptions) {
    this.dim = dim;
    this.eps = eps;
    ({ w: this.w, b: this.b } = weights.norm(name, dim) as NormWeights);
  }

  /** LayerNorm of x, or of x + residual (the post-norm residual add; one program with it on WebGPU). */
  // x [..., C], residual [..., C] → [..., C]
  call(x: tf.Tensor, residual?: tf.Tensor): tf.Tensor {
    if (fusedKernelsOn()) return fusedLayerNorm(x, this.w, this.b, this.eps, residual);
    return this.normalize(x, residual);
  }

  /** GELU of `call`'s output (LayerNorm2d → GELU in the mask paths; the same program on WebGPU). */
  // x [..., C], residual [..., C] → [..., C]
  callGelu(x: tf.Tensor, residual?: tf.Tensor): tf.Tensor {
    if (fusedKernelsOn()) return fusedLayerNorm(x, this.w, this.b, this.eps, residual, true);
    return tf.tidy(() => gelu(this.normalize(x, residual)));
  }

  // x [..., C], residual [..., C] → [..., C]
  private normalize(x: tf.Tensor, residual?: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const input = residual ? tf.add(x, residual) : x;
      const normalized = this.dim <= MATMUL_NORM_MAX_DIM ? this.normalizeByMatMul(input) : this.normalizeByRows(input);
      return channelAffine(normalized, this.w, this.b);
    });
  }

  // [..., C] → [..., C]
  private normalizeByRows(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const centred = tf.sub(x, mean);
      const variance = tf.mean(tf.square(centred), -1, true);
      return tf.mul(centred, tf.rsqrt(tf.add(variance, this.eps)));
    });
  }

  /**
   * For a few channels: means taken by a [C, C] matMul with every entry 1/C, which leaves them broadcast over
   * the channels, so every later op is elementwise on equal shapes (a [N, 4] − [N, 1] broadcast costs as much
   * as the whole matMul on tfjs-wasm).
   */
  // [..., C] → [..., C]
  private normalizeByMatMul(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const c = this.dim;
      const rows = tf.reshape(x, [-1, c]) as tf.Tensor2D;
      const averaging = tf.fill([c, c], 1 / c) as tf.Tensor2D;
      const centred = tf.sub(rows, tf.matMul(rows, averaging));
      const variance = tf.matMul(tf.square(centred), averaging);
      return tf.reshape(tf.mul(centred, tf.rsqrt(tf.add(variance, this.eps))), x.shape);
    });
  }
}

export type Activation = 'relu' | 'gelu';

/** GELU with the exact erf form (PyTorch's nn.GELU default); one program on WebGPU. */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (fusedKernelsOn()) return fusedGelu(x);
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  return activation === 'relu' ? tf.relu(x) : gelu(x);
}

export interface MlpOptions {
  inDim: number;
  hiddenDim: number;
  outDim: number;
  numLayers: number;
  /** Between the layers; 'relu' by default. */
  activation?: Activation;
  /** A sigmoid after the last layer (default false). */
  sigmoidOutput?: boolean;
  /** The name of layer i in the scope; `layers.${i}` by default. */
  layerName?: (i: number) => string;
}

/**
 * SAM's MLP: `numLayers` linears named `layers.i`, the activation between them, optional sigmoid at the end.
 * Tokens are independent, so they run in row chunks when the widest layer would exceed the binding limit
 * (Hiera-L's first stage at 1024 px: [65536, 576] is 144 MiB).
 */
export class Mlp {
  readonly layers: Linear[];
  readonly inDim: number;
  readonly outDim: number;
  readonly activation: Activation;
  readonly sigmoidOutput: boolean;
  /** Widest activation (channels) one token row carries through the layers. */
  private readonly widest: number;
  constructor(weights: WeightScope, options: MlpOptions) {
    const { inDim, hiddenDim, outDim, numLayers, layerName = (i: number) => `layers.${i}` } = options;
    this.inDim = inDim;
    this.outDim = outDim;
    this.activation = options.activation ?? 'relu';
    this.sigmoidOutput = options.sigmoidOutput ?? false;
    const dims = [inDim, ...Array(numLayers - 1).fill(hiddenDim), outDim];
    this.layers = dims.slice(0, -1).map((d, i) => new Linear(weights, { name: layerName(i), inDim: d, outDim: dims[i + 1] }));
    this.widest = Math.max(...dims);
  }

  /** The MLP, plus `residual` when given (a block's skip connection, added by the last layer's kernel on WebGPU). */
  // [..., in], residual [..., out] → [..., out]
  call(x: tf.Tensor, residual?: tf.Tensor): tf.Tensor {
    const rows = x.size / this.inDim;
    // Linear acts on the last axis of any shape, so tokens need rows only when they are split.
    if (rowChunks(rows, FLOAT_BYTES * this.widest).length === 1) return tf.tidy(() => this.rows(x, residual));
    if (residual) return tf.tidy(() => tf.add(residual, this.call(x)));
    return tf.tidy(() => {
      const tokens = tf.reshape(x, [-1, this.inDim]) as tf.Tensor2D;
      const out = mapRowChunks(rows, FLOAT_BYTES * this.widest, ({ take }) => this.rows(take(tokens)));
      return tf.reshape(out, [...x.shape.slice(0, -1), this.outDim]);
    });
  }

  // [..., in], residual [..., out] → [..., out]
  private rows(x: tf.Tensor, residual?: tf.Tensor): tf.Tensor {
    let h: tf.Tensor = x;
    const last = this.layers.length - 1;
    this.layers.forEach((layer, i) => {
      h = layer.call(h, i < last ? this.activation : undefined, i === last && !this.sigmoidOutput ? residual : undefined);
    });
    if (!this.sigmoidOutput) return h;
    return residual ? tf.add(residual, tf.sigmoid(h)) : tf.sigmoid(h);
  }
}

/** The largest depthwise kernel XNNPACK (tfjs-wasm) runs fast: a 7×7 one costs 8× a 5×5 (2.1 vs 0.26 ms on [3, 16, 16, 64]). */
const FAST_DEPTHWISE_KERNEL = 5;

/** Backends whose depthwise convolutions larger than FAST_DEPTHWISE_KERNEL run as a sum of 5×5 tiles. */
const TILED_DEPTHWISE_BACKENDS = new Set(['wasm']);

type ExplicitPadding = [[0, 0], [number, number], [number, number], [0, 0]];

/** A FAST_DEPTHWISE_KERNEL-square part of a larger depthwise kernel, with the padding that puts its taps in place. */
interface DepthwiseTile {
  /** [t, t, C, 1]: the taps this tile owns, zero elsewhere */
  filter: tf.Tensor4D;
  pad: ExplicitPadding;
}

/**
 * Splits a stride-1 k×k depthwise kernel (k > FAST_DEPTHWISE_KERNEL) into t×t tiles whose sum is the same
 * convolution: along each axis, taps [s, s + t) go to a window starting at min(s, k − t), and the window's
 * padding shifts it to where those taps read. Null when a window would need negative padding.
 */
// w [k, k, C, 1] → tiles of [t, t, C, 1]
function depthwiseTiles(w: tf.Tensor4D, padding: number): DepthwiseTile[] | null {
  const [k, , c] = w.shape;
  const t = FAST_DEPTHWISE_KERNEL;
  const windows: { start: number; end: number; origin: number; before: number; after: number }[] = [];
  for (let start = 0; start < k; start += t) {
    const origin = Math.min(start, k - t);
    windows.push({ start, end: Math.min(start + t, k), origin, before: padding - origin, after: padding - k + t + origin });
  }
  if (windows.some((win) => win.before < 0 || win.after < 0)) return null;
  return windows.flatMap((rows) => windows.map((cols) => ({
    filter: tf.tidy(() => tf.pad(
      tf.slice(w, [rows.start, cols.start, 0, 0], [rows.end - rows.start, cols.end - cols.start, c, 1]),
      [[rows.start - rows.origin, rows.origin + t - rows.end], [cols.start - cols.origin, cols.origin + t - cols.end], [0, 0], [0, 0]],
    ) as tf.Tensor4D),
    pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [0, 0]] as ExplicitPadding,
  })));
}

export interface Conv2dOptions {
  /** The weights' name in the scope. */
  name: string;
  inDim: number;
  outDim: number;
  /** Square kernel side. */
  kernel: number;
  /** Default 1. */
  stride?: number;
  /** Symmetric zero padding, default 0. */
  padding?: number;
  /** Default 1; inDim for a depthwise convolution. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
}

/** nn.Conv2d on NHWC tensors (weights already HWIO, see weights.ts). */
export class Conv2d {
  readonly w: tf.Tensor4D;
  readonly b: tf.Tensor1D | null;
  /** A large depthwise kernel as 5×5 tiles, for the backends where that is faster (null: not split). */
  private readonly tiles: DepthwiseTile[] | null = null;
  readonly inDim: number;
  readonly outDim: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  constructor(weights: WeightScope, options: Conv2dOptions) {
    const { name, inDim, outDim, kernel, stride = 1, padding = 0, groups = 1, bias = true } = options;
    this.inDim = inDim;
    this.outDim = outDim;
    this.kernel = kernel;
    this.stride = stride;
    this.padding = padding;
    this.groups = groups;
    ({ w: this.w, b: this.b } = weights.conv2d(name, inDim, outDim, kernel, groups, bias) as ConvWeights);
    if (groups > 1 && stride === 1 && kernel > FAST_DEPTHWISE_KERNEL) {
      this.tiles = depthwiseTiles(this.w, padding);
      for (const tile of this.tiles ?? []) weights.store.own(tile.filter);
    }
  }

  // [B, H, W, in] → [B, H', W', out]
  call(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      if (this.kernel === 1 && this.stride === 1 && this.groups === 1 && this.padding === 0) {
        // A 1×1 convolution is a linear layer: one 2-D matMul.
        const [b, h, w] = x.shape;
        if (fusedKernelsOn()) return fusedLinear(x, tf.reshape(this.w, [this.inDim, this.outDim]) as tf.Tensor2D, this.b) as tf.Tensor4D;
        const y = tf.matMul(tf.reshape(x, [-1, this.inDim]), tf.reshape(this.w, [this.inDim, this.outDim]));
        return tf.reshape(channelAffine(y, null, this.b), [b, h, w, this.outDim]) as tf.Tensor4D;
      }
      // PyTorch's symmetric zero padding, done by the convolution itself (no padded copy of the input).
      if (this.groups === 1) {
        return conv2dWithBias(x, this.w, this.stride, this.padding, this.b);
      }
      if (this.tiles && TILED_DEPTHWISE_BACKENDS.has(tf.getBackend())) {
        const sum = tf.addN(this.tiles.map(({ filter, pad }) => tf.depthwiseConv2d(x, filter, 1, pad)));
        return channelAffine(sum, null, this.b) as tf.Tensor4D;
      }
      return depthwiseConv2dWithBias(x, this.w, this.stride, this.padding, this.b);
    });
  }
}

export interface AttentionOptions {
  /** Upper bound on elements of one [chunk × keys] score matrix; queries are processed in chunks below it. */
  maxScoreElements?: number;
  /** Added to every query's scores before the softmax, per batch item: -Infinity-like values mask keys out. [B, Nk] */
  keyBias?: tf.Tensor2D;
}

const DEFAULT_MAX_SCORE_ELEMENTS = 1 << 24;

/**
 * Query rows per attention chunk: one [rows × keys] float32 score block stays under `maxElements` and under
 * the largest tensor the backend can bind (a WebGPU device's limit).
 */
export function scoreChunkRows(nq: number, nk: number, maxElements = DEFAULT_MAX_SCORE_ELEMENTS): number {
  const elements = Math.min(maxElements, Math.floor(maxTensorBytes() / FLOAT_BYTES));
  return Math.max(1, Math.min(nq, Math.floor(elements / Math.max(1, nk))));
}

/**
 * Splits [B, N, H·d] into one 2-D [N, d] block per (batch, head), batch-major. With several blocks the
 * tensor is transposed once to heads-first and the blocks taken as rows (takeRows: a host copy on the CPU
 * backends, whose gather and slice kernels are slow).
 */
// [B, N, H·d] → (B·H) × [N, d]  (or × [d, N] when `transposed`)
function headBlocks(x: tf.Tensor3D, numHeads: number, transposed = false): tf.Tensor2D[] {
  const [batch, n, c] = x.shape;
  const d = c / numHeads;
  if (batch * numHeads === 1) {
    const flat = tf.reshape(x, [n, d]) as tf.Tensor2D;
    return [transposed ? tf.transpose(flat) : flat];
  }
  const perm = transposed ? [0, 2, 3, 1] : [0, 2, 1, 3];
  const blocks = tf.reshape(tf.transpose(tf.reshape(x, [batch, n, numHeads, d]), perm), [batch * numHeads, -1]);
  const shape: [number, number] = transposed ? [d, n] : [n, d];
  return takeRows(blocks, rowIndices(batch * numHeads)).map((block) => tf.reshape(block, shape) as tf.Tensor2D);
}

/**
 * Score elements of one (batch, head) problem up to which all problems run as one `groupedAttention`. Many small
 * problems (the decoder's token ↔ image attention, a small global Hiera block) drown in per-op overhead when
 * split into 2-D blocks; large ones (memory attention) run as fast or faster as 2-D products. Both give the
 * same values. Measured on tfjs-wasm, 2 threads: 3 items × 8 heads of [7 × 4,096] grouped 14 ms vs blocks
 * 79 ms, of [4,096 × 7] 40 vs 46 ms, of [8 × 256] 0.4 vs 3.7 ms; one [256 × 256] 1.3 vs 1.2 ms; one
 * [1,024 × 4,096] 128 vs 71 ms.
 */
const GROUPED_MAX_PROBLEM_SCORES = 1 << 15;

/**
 * softmax(Q·Kᵀ/√d)·V, heads split from the channel axis. On WebGPU one fused program (ops/webgpu/flash-attention).
 * Elsewhere, small problems run all at once (`groupedAttention`); large ones as one 2-D product per (batch, head)
 * against K transposed once, with queries in chunks so the full [Nq × Nk] score matrix never has to exist.
 */
// q [B or 1, Nq, H·d], k [B, Nk, H·d], v [B, Nk, H·dv] → [B, Nq, H·dv]  (queries of batch 1 serve every item)
export function multiHeadAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, numHeads: number, options: AttentionOptions = {}): tf.Tensor3D {
  if (q.shape[0] !== 1) assertShape('attention queries', q.shape, [k.shape[0], -1, -1]);
  if (fusedKernelsOn()) return multiHeadFlashAttention(q, k, v, numHeads, options.keyBias);
  return q.shape[1] * k.shape[1] <= GROUPED_MAX_PROBLEM_SCORES
    ? groupedHeads(q, k, v, numHeads, options)
    : blockedHeads(q, k, v, numHeads, options);
}

/** multiHeadAttention as one grouped problem: group b·H + h is head h of batch item b. */
// q [B or 1, Nq, H·d], k [B, Nk, H·d], v [B, Nk, H·dv] → [B, Nq, H·dv]
function groupedHeads(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, numHeads: number, options: AttentionOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, nk] = k.shape;
    const nq = q.shape[1];
    const groups = batch * numHeads;
    // [B, N, H·w] → [N, B·H, w]: batch-major groups, channels innermost (a cheap rank-3 transpose).
    const tokensFirst = (t: tf.Tensor3D) => {
      const [, n, c] = t.shape;
      return tf.reshape(batch === 1 ? t : tf.transpose(t, [1, 0, 2]), [n, groups, c / numHeads]) as tf.Tensor3D;
    };
    const bias = options.keyBias && tf.reshape(broadcastByAdd(tf.reshape(options.keyBias, [batch, 1, nk]), [batch, numHeads, nk]), [groups, nk]) as tf.Tensor2D;
    const queries = q.shape[0] === batch ? q : repeatRows(q, batch);
    const out = groupedAttention(tokensFirst(queries), tokensFirst(k), tokensFirst(v), options.maxScoreElements, bias);
    const rows = tf.reshape(out, [nq, batch, -1]);
    return (batch === 1 ? tf.reshape(rows, [1, nq, -1]) : tf.transpose(rows, [1, 0, 2])) as tf.Tensor3D;
  });
}

/** multiHeadAttention as one 2-D product per (batch, head), queries in chunks. */
// q [B or 1, Nq, H·d], k [B, Nk, H·d], v [B, Nk, H·dv] → [B, Nq, H·dv]
function blockedHeads(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, numHeads: number, options: AttentionOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const [qBatch, nq, qc] = q.shape;
    const [batch, nk] = k.shape;
    const d = qc / numHeads;
    const chunk = scoreChunkRows(nq, nk, options.maxScoreElements);
    const qs = headBlocks(tf.mul(q, 1 / Math.sqrt(d)) as tf.Tensor3D, numHeads);
    const kTs = headBlocks(k, numHeads, true);
    const vs = headBlocks(v, numHeads);
    const biases = options.keyBias && batch > 1 ? takeRows(options.keyBias, rowIndices(batch)) : [options.keyBias];
    const rows: tf.Tensor2D[] = [];
    for (let b = 0; b < batch; b++) {
      const heads = Array.from({ length: numHeads }, (_, h) => {
        const i = b * numHeads + h;
        const bias = biases[b];
        const parts = rowBlocks(qs[qBatch === 1 ? h : i], chunk).map((queries) => tf.tidy(() => {
          const scores = tf.matMul(queries, kTs[i]);
          return tf.matMul(tf.softmax(bias ? tf.add(scores, bias) : scores), vs[i]) as tf.Tensor2D;
        }));
        return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
      });
      rows.push(heads.length === 1 ? heads[0] : tf.concat(heads, 1));
    }
    return (batch === 1 ? tf.expandDims(rows[0], 0) : tf.stack(rows)) as tf.Tensor3D;
  });
}

/**
 * softmax(q·kᵀ/√d + bias)·v for G independent attention problems at once (Hiera's windows × heads, or the
 * batch items × heads of a small multiHeadAttention). Group g is channel g of a depthwise convolution over a
 * [queries × d] image with a 1×d filter per key, so the scores come out as channels g·Tk + j, and the same
 * trick with the probabilities applies v: on wasm one grouped GEMM each, where per-group 2-D products drown
 * in op overhead and batched matMul runs a slow generic kernel. Queries are processed in chunks so that no
 * score block exceeds `maxScoreElements` or the backend's binding limit. On WebGPU one fused program instead.
 */
// q [Tq, G, d], k [Tk, G, d], v [Tk, G, dv], bias [G, Tk] → [Tq, G, dv]
export function groupedAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, maxScoreElements = DEFAULT_MAX_SCORE_ELEMENTS, bias?: tf.Tensor2D): tf.Tensor3D {
  const [tq, groups, d] = q.shape;
  const [tk, , dv] = v.shape;
  assertShape('attention keys', k.shape, [tk, groups, d]);
  if (bias) assertShape('attention key bias', bias.shape, [groups, tk]);
  if (fusedKernelsOn()) return groupedFlashAttention(q, k, v, bias);
  return tf.tidy(() => {
    const keyFilter = tf.reshape(tf.transpose(k, [2, 1, 0]), [1, d, groups, tk]) as tf.Tensor4D;
    const valueFilter = tf.reshape(v, [1, tk, groups, dv]) as tf.Tensor4D;
    const queries = tf.reshape(tf.transpose(tf.mul(q, 1 / Math.sqrt(d)), [0, 2, 1]), [tq, d * groups]) as tf.Tensor2D;
    const rows = scoreChunkRows(tq, groups * tk, maxScoreElements);
    const parts = rowBlocks(queries, rows).map((chunk) => tf.tidy(() => {
      const n = chunk.shape[0];
      const raw = tf.reshape(tf.depthwiseConv2d(tf.reshape(chunk, [1, n, d, groups]) as tf.Tensor4D, keyFilter, 1, 'valid'), [n, groups, tk]);
      const scores = bias ? tf.add(raw, bias) : raw;
      const probs = tf.reshape(tf.transpose(tf.softmax(scores), [0, 2, 1]), [1, n, tk, groups]) as tf.Tensor4D;
      return tf.reshape(tf.depthwiseConv2d(probs, valueFilter, 1, 'valid'), [n, groups, dv]) as tf.Tensor3D;
    }));
    return parts.length === 1 ? parts[0] : tf.concat(parts, 0);
  });
}
