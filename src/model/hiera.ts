/**
 * Hiera, SAM 2's image trunk: a 7×7/4 patch embedding, a windowed + interpolated position embedding, and
 * stages of MultiScaleBlocks (windowed or global attention; at a stage change the queries are max-pooled
 * 2×2 and the width grows). Feature maps are NHWC throughout.
 *
 * Windowed attention is the hot spot (at 1024 px the first stage has 1024 windows of 64 tokens). On wasm,
 * per-window 2-D products drown in op overhead (and tf.slice copies its whole source there), and batched
 * matMul runs a slow generic kernel, so every window × head becomes one channel of a depthwise convolution
 * whose channel multiplier enumerates the keys: one grouped GEMM for the scores, one for the values
 * (see `groupedAttention` in common.ts; timings in test/image-encoder.test.ts's header).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { HieraConfig } from '../config.js';
import { ConfigError, ShapeError, assertShape } from '../errors.js';
import { Conv2d, LayerNorm, Linear, Mlp, groupedAttention, multiHeadAttention } from './common.js';
import type { WeightScope, WeightStore } from './weights.js';
import { bicubicResize } from '../ops/resize.js';
import { fusedKernelsOn } from '../ops/webgpu/fused.js';
import { fusedLinear } from '../ops/webgpu/linear.js';
import { partitionWindows, unpartitionWindows, type Windows } from '../ops/windows.js';

const HIERA_NORM_EPS = 1e-6;
const MLP_RATIO = 4;
const PATCH = { kernel: 7, stride: 4, padding: 3 };
/** One column block of a checkpoint linear as its own projection. */
interface Projection {
  /** [in, out] */
  w: tf.Tensor2D;
  /** [out] */
  b: tf.Tensor1D;
}

// [..., in] → [..., out]
function project(x: tf.Tensor, p: Projection): tf.Tensor {
  if (fusedKernelsOn()) return fusedLinear(x, p.w, p.b);
  return tf.tidy(() => {
    const [inDim, outDim] = p.w.shape;
    const y = tf.add(tf.matMul(tf.reshape(x, [-1, inDim]), p.w), p.b);
    return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  });
}

/** A Hiera block's (and its attention's) settings, named as the official MultiScaleBlock's arguments. */
interface MultiScaleOptions {
  dim: number;
  dimOut: number;
  numHeads: number;
  /** Query pooling stride at the first block of a stage, else null. */
  qStride: [number, number] | null;
  /** Window side, 0 for global attention. */
  windowSize: number;
  /** Cap on one attention score tensor's elements (queries are chunked under it). */
  maxScoreElements?: number;
}

/**
 * MultiScaleAttention: qkv, optional max-pooling of the queries (per window), attention per head, proj.
 * The checkpoint's qkv is split at load into q, k and v projections (its columns are 3 × heads × d), so
 * each lands in the layout attention wants without a slice. Windowed blocks run all windows × heads as
 * one `groupedAttention`; a global block has few, large heads, where plain 2-D products are fastest.
 */
class MultiScaleAttention {
  readonly q: Projection;
  readonly k: Projection;
  readonly v: Projection;
  readonly proj: Linear;
  readonly headDim: number;

  readonly dimOut: number;
  readonly numHeads: number;
  readonly qStride: [number, number] | null;
  readonly windowSize: number;
  readonly maxScoreElements?: number;

  constructor(weights: WeightScope, options: MultiScaleOptions) {
    const { dim, dimOut, numHeads } = options;
    ({ dimOut: this.dimOut, numHeads: this.numHeads, qStride: this.qStride, windowSize: this.windowSize, maxScoreElements: this.maxScoreElements } = options);
    if (dimOut % numHeads !== 0) throw new ConfigError(`Hiera: width ${dimOut} is not divisible by ${numHeads} heads`);
    this.headDim = dimOut / numHeads;
    const { w, b } = weights.linear('qkv', dim, 3 * dimOut);
    const store = weights.store;
    const columns = (t: tf.Tensor, i: number) => (t.rank === 2 ? tf.slice(t, [0, i * dimOut], [dim, dimOut]) : tf.slice(t, [i * dimOut], [dimOut]));
    const own = <T extends tf.Tensor>(t: T, i: number) => store.own(columns(t, i) as T);
    this.k = { w: own(w, 1), b: own(b as tf.Tensor1D, 1) };
    this.v = { w: own(w, 2), b: own(b as tf.Tensor1D, 2) };
    // The q block replaces the full tensors, which are then freed.
    this.q = { w: store.derive(w, (t) => columns(t, 0) as tf.Tensor2D), b: store.derive(b as tf.Tensor1D, (t) => columns(t, 0) as tf.Tensor1D) };
    this.proj = new Linear(weights, { name: 'proj', inDim: dimOut, outDim: dimOut });
  }

  /** The attention's output plus `residual` (the block's shortcut; one pass with the window unpartition on WebGPU). */
  // x [B, H, W, C] (normalised), residual [B, H', W', dimOut] → [B, H', W', dimOut] (H' = H / stride when pooling)
  call(x: tf.Tensor4D, residual: tf.Tensor4D): tf.Tensor4D {
    return this.windowSize > 0 ? this.windowed(x, residual) : tf.tidy(() => tf.add(residual, this.global(x)) as tf.Tensor4D);
  }

  /** Queries max-pooled per window of wh×ww tokens. */
  // q [wh·ww, N, C] → [wh'·ww', N, C]
  private poolQueries(q: tf.Tensor3D, wh: number, ww: number): tf.Tensor3D {
    const [sy, sx] = this.qStride as [number, number];
    const pooled = tf.maxPool(tf.reshape(q, [1, wh, ww, -1]) as tf.Tensor4D, [sy, sx], [sy, sx], 'valid');
    return tf.reshape(pooled, [-1, q.shape[1], q.shape[2]]);
  }

  private windowed(x: tf.Tensor4D, residual: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [batch, h, w] = x.shape;
      const ws = this.windowSize;
      const win: Windows = { batch, wh: ws, ww: ws, ny: Math.ceil(h / ws), nx: Math.ceil(w / ws) };
      const tokens = partitionWindows(x, win);
      const windows = tokens.shape[1];
      let q = project(tokens, this.q) as tf.Tensor3D;
      let [outWin, outH, outW] = [win, h, w];
      if (this.qStride) {
        const [sy, sx] = this.qStride;
        q = this.poolQueries(q, ws, ws);
        [outWin, outH, outW] = [{ ...win, wh: Math.floor(ws / sy), ww: Math.floor(ws / sx) }, Math.floor(h / sy), Math.floor(w / sx)];
      }
      const heads = (t: tf.Tensor) => tf.reshape(t, [t.shape[0], windows * this.numHeads, this.headDim]) as tf.Tensor3D;
      const attended = groupedAttention(heads(q), heads(project(tokens, this.k)), heads(project(tokens, this.v)), this.maxScoreElements);
      const out = this.proj.call(tf.reshape(attended, [-1, windows, this.dimOut])) as tf.Tensor3D;
      return unpartitionWindows(out, outWin, outH, outW, residual);
    });
  }

  private global(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [batch, h, w, c] = x.shape;
      const tokens = tf.reshape(x, [batch, h * w, c]);
      let q = project(x, this.q) as tf.Tensor4D;
      if (this.qStride) q = tf.maxPool(q, this.qStride, this.qStride, 'valid');
      const [, outH, outW] = q.shape;
      const attended = multiHeadAttention(tf.reshape(q, [batch, outH * outW, this.dimOut]), project(tokens, this.k) as tf.Tensor3D,
        project(tokens, this.v) as tf.Tensor3D, this.numHeads, { maxScoreElements: this.maxScoreElements });
      return tf.reshape(this.proj.call(attended), [batch, outH, outW, this.dimOut]) as tf.Tensor4D;
    });
  }
}

/** MultiScaleBlock: x + attn(norm1 x) (the shortcut projected and pooled at a stage change), then + mlp(norm2 x). */
class MultiScaleBlock {
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly attn: MultiScaleAttention;
  readonly mlp: Mlp;
  /** Shortcut projection where the width changes. */
  readonly proj: Linear | null;

  readonly dim: number;
  readonly dimOut: number;
  readonly qStride: [number, number] | null;

  constructor(weights: WeightScope, options: MultiScaleOptions) {
    const { dim, dimOut } = options;
    ({ dim: this.dim, dimOut: this.dimOut, qStride: this.qStride } = options);
    this.norm1 = new LayerNorm(weights, { name: 'norm1', dim, eps: HIERA_NORM_EPS });
    this.attn = new MultiScaleAttention(weights.scope('attn'), options);
    this.norm2 = new LayerNorm(weights, { name: 'norm2', dim: dimOut, eps: HIERA_NORM_EPS });
    this.mlp = new Mlp(weights.scope('mlp'), { inDim: dimOut, hiddenDim: dimOut * MLP_RATIO, outDim: dimOut, numLayers: 2, activation: 'gelu' });
    this.proj = dim !== dimOut ? new Linear(weights, { name: 'proj', inDim: dim, outDim: dimOut }) : null;
  }

  // [B, H, W, dim] → [B, H', W', dimOut]
  call(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const normed = this.norm1.call(x) as tf.Tensor4D;
      let shortcut: tf.Tensor4D = x;
      if (this.proj) {
        shortcut = this.proj.call(normed) as tf.Tensor4D;
        if (this.qStride) shortcut = tf.maxPool(shortcut, this.qStride, this.qStride, 'valid');
      }
      const y = this.attn.call(normed, shortcut);
      return this.mlp.call(this.norm2.call(y), y) as tf.Tensor4D;
    });
  }
}

/** Where each block sits: the sizes Hiera's constructor derives from the config. */
export interface HieraBlockSpec {
  dim: number;
  dimOut: number;
  numHeads: number;
  /** Window side, 0 for global attention. */
  windowSize: number;
  qStride: [number, number] | null;
}

/**
 * Hiera's per-block layout: the width and heads grow at the first block of each stage, which still uses
 * the previous stage's window (and pools its queries for the first `q_pool` stage changes).
 */
export function hieraBlockSpecs(cfg: HieraConfig): { blocks: HieraBlockSpec[]; stageEnds: number[] } {
  if (cfg.stages.length !== cfg.window_spec.length) {
    throw new ConfigError(`Hiera: ${cfg.stages.length} stages but ${cfg.window_spec.length} window sizes`);
  }
  const stageEnds = cfg.stages.map((_, i) => cfg.stages.slice(0, i + 1).reduce((a, n) => a + n, 0) - 1);
  if (cfg.q_pool < 0 || cfg.q_pool > stageEnds.length - 1) throw new ConfigError(`Hiera: q_pool ${cfg.q_pool} out of range`);
  const qPoolBlocks = stageEnds.slice(0, -1).map((e) => e + 1).slice(0, cfg.q_pool);
  const blocks: HieraBlockSpec[] = [];
  let [dim, numHeads, stage] = [cfg.embed_dim, cfg.num_heads, 0];
  for (let i = 0; i <= stageEnds[stageEnds.length - 1]; i++) {
    let dimOut = dim;
    const windowSize = cfg.global_att_blocks.includes(i) ? 0 : cfg.window_spec[stage];
    if (stageEnds.includes(i - 1)) {
      dimOut = Math.trunc(dim * cfg.dim_mul);
      numHeads = Math.trunc(numHeads * cfg.head_mul);
      stage++;
    }
    blocks.push({ dim, dimOut, numHeads, windowSize, qStride: qPoolBlocks.includes(i) ? [cfg.q_stride[0], cfg.q_stride[1]] : null });
    dim = dimOut;
  }
  return { blocks, stageEnds };
}

export interface HieraOptions {
  /** Upper bound on one attention score block (elements), as in multiHeadAttention; bounds memory at large sizes. */
  maxScoreElements?: number;
}

export class Hiera {
  readonly patchEmbed: Conv2d;
  /** Background position embedding, NHWC. [1, bh, bw, C] */
  readonly posEmbed: tf.Tensor4D;
  /** Per-window position embedding, NHWC. [1, ws, ws, C] */
  readonly posEmbedWindow: tf.Tensor4D;
  readonly blocks: MultiScaleBlock[];
  readonly specs: HieraBlockSpec[];
  /** Indices of the blocks whose outputs are returned. */
  readonly outputBlocks: number[];
  /** Widths of the returned stage outputs, lowest resolution first (the neck's backbone_channel_list). */
  readonly channelList: number[];
  /** The position embedding of one image side's patch grid, made once (`prepare`). [1, h, w, C] */
  private preparedPosition: tf.Tensor4D | null = null;
  private readonly store: WeightStore;

  constructor(weights: WeightScope, readonly cfg: HieraConfig, options: HieraOptions = {}) {
    this.store = weights.store;
    const { blocks, stageEnds } = hieraBlockSpecs(cfg);
    this.specs = blocks;
    const embed = cfg.embed_dim;
    this.patchEmbed = new Conv2d(weights, { name: 'patch_embed.proj', inDim: 3, outDim: embed, kernel: PATCH.kernel, stride: PATCH.stride, padding: PATCH.padding });
    const [bh, bw] = cfg.window_pos_embed_bkg_spatial_size;
    const ws = cfg.window_spec[0];
    const toNHWC = (t: tf.Tensor) => tf.transpose(t, [0, 2, 3, 1]) as tf.Tensor4D;
    this.posEmbed = weights.store.derive(weights.tensor('pos_embed', [1, embed, bh, bw]), toNHWC);
    this.posEmbedWindow = weights.store.derive(weights.tensor('pos_embed_window', [1, embed, ws, ws]), toNHWC);
    this.blocks = blocks.map((s, i) =>
      new MultiScaleBlock(weights.scope(`blocks.${i}`), {
        dim: s.dim, dimOut: s.dimOut, numHeads: s.numHeads, qStride: s.qStride, windowSize: s.windowSize,
        maxScoreElements: options.maxScoreElements,
      }));
    this.outputBlocks = cfg.return_interm_layers ? stageEnds : stageEnds.slice(-1);
    this.channelList = this.outputBlocks.map((i) => blocks[i].dimOut).reverse();
  }

  /**
   * Hiera._get_pos_embed: the background embedding resized bicubically to the map, plus the window
   * embedding tiled over it (so the map must be a whole number of first-stage windows).
   */
  // → [1, h, w, C]
  positionEmbedding(h: number, w: number): tf.Tensor4D {
    const ws = this.cfg.window_spec[0];
    if (h % ws !== 0 || w % ws !== 0) {
      throw new ShapeError(`Hiera: a ${h}×${w} patch grid is not a whole number of ${ws}×${ws} windows (image side must be a multiple of ${4 * ws})`);
    }
    return tf.tidy(() => {
      const c = this.cfg.embed_dim;
      const background = tf.reshape(bicubicResize(this.posEmbed, h, w), [h / ws, ws, w / ws, ws * c]);
      return tf.reshape(tf.add(background, tf.reshape(this.posEmbedWindow, [1, ws, 1, ws * c])), [1, h, w, c]) as tf.Tensor4D;
    });
  }

  /**
   * Makes the position embedding of a `side` × `side` image's patch grid once, owned with the weights: every
   * frame of the model's image size adds the same one (at 1024 px SAM 2.1 tiny's is 25 MB, and its bicubic
   * resize costs nine kernels a call). Other sizes make theirs per call.
   */
  prepare(side: number): void {
    const grid = side / PATCH.stride;
    this.preparedPosition = this.store.constant(`hiera position embedding ${grid}×${grid}`, () => this.positionEmbedding(grid, grid));
  }

  /** The sides of the stage outputs for a `side` × `side` image, highest resolution first. */
  outputSides(side: number): number[] {
    let grid = side / PATCH.stride;
    return this.specs.flatMap((spec, i) => {
      if (spec.qStride) grid /= spec.qStride[0];
      return this.outputBlocks.includes(i) ? [grid] : [];
    });
  }

  /**
   * Stage outputs, highest resolution first (every stage, or only the last without return_interm_layers).
   * `onBlock` sees each block's output while it is alive (inside the call's scope).
   */
  // image [B, S, S, 3] → [[B, S/4, S/4, C], [B, S/8, S/8, 2C], ...]
  call(image: tf.Tensor4D, onBlock?: (index: number, out: tf.Tensor4D) => void): tf.Tensor4D[] {
    assertShape('Hiera input image', image.shape, [-1, -1, -1, 3]);
    return tf.tidy(() => {
      const patches = this.patchEmbed.call(image);
      const [, h, w] = patches.shape;
      const prepared = this.preparedPosition;
      const position = prepared && prepared.shape[1] === h && prepared.shape[2] === w ? prepared : this.positionEmbedding(h, w);
      let x = tf.add(patches, position) as tf.Tensor4D;
      const outputs: tf.Tensor4D[] = [];
      this.blocks.forEach((block, i) => {
        x = block.call(x);
        onBlock?.(i, x);
        if (this.outputBlocks.includes(i)) outputs.push(x);
      });
      return outputs;
    });
  }
}
