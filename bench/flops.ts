/**
 * Analytic FLOP counts of SAM 2's modules, from a model config.
 *
 * Convention (the one of ../shared/perf/README.md, so achieved GFLOP/s compare with PyTorch's): a FLOP is one
 * multiply or one add; a product [m × k]·[k × n] costs 2mkn, a convolution 2 · output pixels · k² ·
 * in/groups · out (a 2×2 stride-2 transposed convolution: 2 · output pixels · in · out). Only products and
 * convolutions are counted: norms, softmax, activations, RoPE rotations, poolings and resizes are
 * elementwise and left out (they cost time on wasm all the same — see the hot spots).
 *
 * Two counts per module:
 * - `reference`: the official algorithm as PyTorch runs it (the perf README's 292 GFLOP encoder and 621 GFLOP
 *   tracking step at 1024 px come out of this count);
 * - `executed`: what our implementation multiplies. Memory attention differs: values are projected after
 *   the attention product (A·M·W_v instead of A·(M·W_v), exact since softmax rows sum to 1) and RoPE's pair
 *   swap is one more projection with pair-swapped weights for every rotated query and key.
 * Achieved GFLOP/s in the tables divide the `reference` count by the measured time.
 */
import { derivedSizes, MASK_DECODER_CONSTANTS, type RoPEAttentionConfig, type Sam2ModelConfig } from '../src/config.js';
import { hieraBlockSpecs } from '../src/model/hiera.js';

export type FlopMode = 'reference' | 'executed';

/** FLOPs by kind: projections and MLPs, attention products (Q·Kᵀ and A·V), convolutions. */
export interface FlopCount {
  linear: number;
  attention: number;
  conv: number;
}

export const ZERO: FlopCount = { linear: 0, attention: 0, conv: 0 };

export function total(f: FlopCount): number {
  return f.linear + f.attention + f.conv;
}

/** a + b·times */
export function addFlops(a: FlopCount, b: FlopCount, times = 1): FlopCount {
  return { linear: a.linear + b.linear * times, attention: a.attention + b.attention * times, conv: a.conv + b.conv * times };
}

/** [m × k]·[k × n] */
function matmul(m: number, k: number, n: number): number {
  return 2 * m * k * n;
}

/** A convolution producing `pixels` outputs of `out` channels from k×k×(in/groups) inputs each. */
function conv(pixels: number, kernel: number, inPerGroup: number, out: number): number {
  return 2 * pixels * kernel * kernel * inPerGroup * out;
}

/** Hiera trunk + FPN neck + the decoder's conv_s0/conv_s1 (what `Sam2Model.encodeImage` runs), one image. */
export function imageEncoderFlops(cfg: Sam2ModelConfig): FlopCount {
  const trunk = cfg.image_encoder.trunk;
  const neck = cfg.image_encoder.neck;
  let side = cfg.image_size / 4;
  let f: FlopCount = { linear: 0, attention: 0, conv: conv(side * side, 7, 3, trunk.embed_dim) };
  for (const b of hieraBlockSpecs(trunk).blocks) {
    const stride = b.qStride ? b.qStride[0] : 1;
    const outSide = side / stride;
    // Windowed attention runs on the map zero-padded to whole windows: qkv, attention and proj see the padding.
    const paddedSide = b.windowSize > 0 ? Math.ceil(side / b.windowSize) * b.windowSize : side;
    const tokensIn = paddedSide * paddedSide;
    const tokensOut = (paddedSide / stride) ** 2;
    let linear = matmul(tokensIn, b.dim, 3 * b.dimOut) + matmul(tokensOut, b.dimOut, b.dimOut);
    linear += matmul(outSide * outSide, b.dimOut, 4 * b.dimOut) + matmul(outSide * outSide, 4 * b.dimOut, b.dimOut);
    if (b.dim !== b.dimOut) linear += matmul(side * side, b.dim, b.dimOut);
    let attention: number;
    if (b.windowSize > 0) {
      const windows = (paddedSide / b.windowSize) ** 2;
      const keys = b.windowSize ** 2;
      attention = windows * 2 * matmul(keys / stride ** 2, b.dimOut, keys);
    } else {
      attention = 2 * matmul(tokensOut, b.dimOut, tokensIn);
    }
    f = addFlops(f, { linear, attention, conv: 0 });
    side = outSide;
  }
  const levels = neck.backbone_channel_list.length;
  neck.backbone_channel_list.forEach((channels, j) => {
    const levelSide = cfg.image_size / 4 / 2 ** (levels - 1 - j);
    f.conv += conv(levelSide * levelSide, neck.kernel_size, channels, neck.d_model);
  });
  if (cfg.use_high_res_features_in_sam) {
    const d = neck.d_model;
    f.conv += conv((cfg.image_size / 4) ** 2, 1, d, d / 8) + conv((cfg.image_size / 8) ** 2, 1, d, d / 4);
  }
  return f;
}

/** One RoPE attention of `nq` queries on `nk` keys, `rotatedKeys` of which are rotated. */
function ropeAttentionFlops(a: RoPEAttentionConfig, nq: number, nk: number, rotatedKeys: number, mode: FlopMode): FlopCount {
  const inner = a.embedding_dim / a.downsample_rate;
  const kvIn = a.kv_in_dim ?? a.embedding_dim;
  const valuesAfter = mode === 'executed' && a.num_heads * kvIn < inner;
  const valueWidth = valuesAfter ? a.num_heads * kvIn : inner;
  let linear = matmul(nq, a.embedding_dim, inner) + matmul(nk, kvIn, inner) + matmul(nq, inner, a.embedding_dim);
  linear += valuesAfter ? matmul(nq, valueWidth, inner) : matmul(nk, kvIn, inner);
  if (mode === 'executed') linear += matmul(nq, a.embedding_dim, inner) + matmul(rotatedKeys, kvIn, inner);
  return { linear, attention: matmul(nq, inner, nk) + matmul(nq, nk, valueWidth), conv: 0 };
}

/** Memory attention for `batch` rows of `memoryTokens` keys each (`pointerTokens` of them unrotated). */
export function memoryAttentionFlops(cfg: Sam2ModelConfig, memoryTokens: number, pointerTokens: number, batch: number, mode: FlopMode): FlopCount {
  const ma = cfg.memory_attention;
  const hw = derivedSizes(cfg).memoryTokensPerFrame;
  const layer = ma.layer;
  let f = ropeAttentionFlops(layer.self_attention, hw, hw, hw, mode);
  f = addFlops(f, ropeAttentionFlops(layer.cross_attention, hw, memoryTokens, memoryTokens - pointerTokens, mode));
  f.linear += matmul(hw, ma.d_model, layer.dim_feedforward) + matmul(hw, layer.dim_feedforward, ma.d_model);
  return addFlops(ZERO, f, ma.num_layers * batch);
}

/** A DownsampledAttention of the two-way transformer. */
function decoderAttention(c: number, inner: number, nq: number, nk: number): FlopCount {
  return {
    linear: matmul(nq, c, inner) + 2 * matmul(nk, c, inner) + matmul(nq, inner, c),
    attention: 2 * matmul(nq, inner, nk),
    conv: 0,
  };
}

/**
 * Prompt-free mask decoding (a tracking step) for `batch` rows: two-way transformer, upscaling, the four
 * mask products and the small heads. `promptTokens`: 2 without prompts (a padding point, and the extra
 * padding point added when there is no box).
 */
export function maskDecoderFlops(cfg: Sam2ModelConfig, batch: number, promptTokens = 2): FlopCount {
  const { hiddenDim: c, embedSize: h } = derivedSizes(cfg);
  const k = MASK_DECODER_CONSTANTS;
  const masks = k.numMultimaskOutputs + 1;
  const tokens = (cfg.pred_obj_scores ? 1 : 0) + 1 + masks + promptTokens;
  const image = h * h;
  const inner = c / k.attentionDownsampleRate;
  let f: FlopCount = { ...ZERO };
  for (let i = 0; i < k.transformerDepth; i++) {
    f = addFlops(f, decoderAttention(c, c, tokens, tokens));
    f = addFlops(f, decoderAttention(c, inner, tokens, image));
    f.linear += matmul(tokens, c, k.transformerMlpDim) + matmul(tokens, k.transformerMlpDim, c);
    f = addFlops(f, decoderAttention(c, inner, image, tokens));
  }
  f = addFlops(f, decoderAttention(c, inner, tokens, image));
  f.conv += conv((2 * h) ** 2, 1, c, c / 4) + conv((4 * h) ** 2, 1, c / 4, c / 8);
  const mlp3 = (i: number, hidden: number, o: number) => matmul(1, i, hidden) + matmul(1, hidden, hidden) + matmul(1, hidden, o);
  f.linear += masks * mlp3(c, c, c / 8) + mlp3(c, k.iouHeadHiddenDim, masks) + mlp3(c, c, 1) + mlp3(c, c, c);
  f.linear += matmul(masks, c / 8, (4 * h) ** 2);
  return addFlops(ZERO, f, batch);
}

/** Mask downsampler + feature projection + fuser + out projection, for `batch` rows. */
export function memoryEncoderFlops(cfg: Sam2ModelConfig, batch: number): FlopCount {
  const me = cfg.memory_encoder;
  const ds = me.mask_downsampler;
  const h = derivedSizes(cfg).embedSize;
  let side = cfg.image_size;
  let channels = 1;
  let convs = 0;
  for (let s = ds.stride; s <= ds.total_stride; s *= ds.stride) {
    side /= ds.stride;
    convs += conv(side * side, ds.kernel_size, channels, channels * ds.stride ** 2);
    channels *= ds.stride ** 2;
  }
  convs += conv(side * side, 1, channels, ds.embed_dim) + conv(h * h, 1, me.in_dim, me.in_dim);
  if (me.fuser.input_projection) convs += conv(h * h, 1, me.in_dim, me.in_dim);
  const d = me.fuser.layer.dim;
  const groups = me.fuser.layer.use_dwconv ? d : 1;
  let linear = 0;
  for (let i = 0; i < me.fuser.num_layers; i++) {
    convs += conv(h * h, me.fuser.layer.kernel_size, d / groups, d);
    linear += matmul(h * h, d, 4 * d) + matmul(h * h, 4 * d, d);
  }
  if (me.out_dim !== me.in_dim) convs += conv(h * h, 1, me.in_dim, me.out_dim);
  return addFlops(ZERO, { linear, attention: 0, conv: convs }, batch);
}

export interface ModelFlops {
  imageEncoder: FlopCount;
  /** The image encoder over one batch of frames, as GPU backends encode ahead during `propagate()`. */
  imageEncoderBatch: FlopCount;
  memoryAttention: FlopCount;
  maskDecoder: FlopCount;
  memoryEncoder: FlopCount;
  /** A frame after its image encoding: memory attention + decoder + memory encoder, batch 1 (the perf README's "tracking step"). */
  greedyStep: FlopCount;
  greedyFrame: FlopCount;
  /** The same at batch P. */
  treeStep: FlopCount;
  treeFrame: FlopCount;
}

/**
 * Every benchmarked unit at a full memory bank (`memoryTokens`, `pointerTokens`), tree at P paths, frames
 * encoded `encodeBatch` at a time in the batched encoder unit.
 */
export function modelFlops(cfg: Sam2ModelConfig, memoryTokens: number, pointerTokens: number, paths: number, mode: FlopMode, encodeBatch = 1): ModelFlops {
  const imageEncoder = imageEncoderFlops(cfg);
  const memoryAttention = memoryAttentionFlops(cfg, memoryTokens, pointerTokens, 1, mode);
  const maskDecoder = maskDecoderFlops(cfg, 1);
  const memoryEncoder = memoryEncoderFlops(cfg, 1);
  const greedyStep = addFlops(addFlops(memoryAttention, maskDecoder), memoryEncoder);
  const treeStep = addFlops(addFlops(memoryAttentionFlops(cfg, memoryTokens, pointerTokens, paths, mode), maskDecoderFlops(cfg, paths)),
    memoryEncoderFlops(cfg, paths));
  return {
    imageEncoder,
    imageEncoderBatch: addFlops(ZERO, imageEncoder, encodeBatch),
    memoryAttention,
    maskDecoder,
    memoryEncoder,
    greedyStep,
    greedyFrame: addFlops(imageEncoder, greedyStep),
    treeStep,
    treeFrame: addFlops(imageEncoder, treeStep),
  };
}
