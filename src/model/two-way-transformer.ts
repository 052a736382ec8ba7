/**
 * SAM's two-way transformer: the prompt tokens and the image tokens attend to each other in turn
 * (tokens → tokens, tokens → image, MLP on tokens, image → tokens), then the tokens read the image once more.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MASK_DECODER_CONSTANTS } from '../config.js';
import { LayerNorm, Linear, Mlp, multiHeadAttention } from './common.js';
import type { WeightScope } from './weights.js';

/** nn.LayerNorm's default eps, which the transformer's norms keep. */
const LAYER_NORM_EPS = 1e-5;

/** Multi-head attention whose projections narrow the width to embedDim / downsampleRate. */
export class DownsampledAttention {
  private readonly qProj: Linear;
  private readonly kProj: Linear;
  private readonly vProj: Linear;
  private readonly outProj: Linear;

  private readonly numHeads: number;

  /** `downsampleRate`: the projections narrow the width by this factor (default 1). */
  constructor(weights: WeightScope, { embedDim, numHeads, downsampleRate = 1 }: { embedDim: number; numHeads: number; downsampleRate?: number }) {
    this.numHeads = numHeads;
    const internalDim = embedDim / downsampleRate;
    this.qProj = new Linear(weights, { name: 'q_proj', inDim: embedDim, outDim: internalDim });
    this.kProj = new Linear(weights, { name: 'k_proj', inDim: embedDim, outDim: internalDim });
    this.vProj = new Linear(weights, { name: 'v_proj', inDim: embedDim, outDim: internalDim });
    this.outProj = new Linear(weights, { name: 'out_proj', inDim: internalDim, outDim: embedDim });
  }

  /** Attention of q + pe.q over k + pe.k with values v (the position encodings added as the projections read). */
  // q [B, Nq, C], k [B, Nk, C], v [B, Nk, C], pe.q [1 or B, Nq, C], pe.k [1 or B, Nk, C] → [B, Nq, C]
  call(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, pe: { q?: tf.Tensor3D; k?: tf.Tensor3D } = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const project = (layer: Linear, x: tf.Tensor3D, addend?: tf.Tensor3D) => (addend ? layer.callOnSum(x, addend) : layer.call(x)) as tf.Tensor3D;
      const attended = multiHeadAttention(project(this.qProj, q, pe.q), project(this.kProj, k, pe.k), this.vProj.call(v) as tf.Tensor3D, this.numHeads);
      return this.outProj.call(attended) as tf.Tensor3D;
    });
  }
}

export type TwoWayState = {
  /** [B, N, C] prompt/output tokens */
  queries: tf.Tensor3D;
  /** [B, HW, C] image tokens */
  keys: tf.Tensor3D;
}

export class TwoWayAttentionBlock {
  private readonly selfAttn: DownsampledAttention;
  private readonly norm1: LayerNorm;
  private readonly crossAttnTokenToImage: DownsampledAttention;
  private readonly norm2: LayerNorm;
  private readonly mlp: Mlp;
  private readonly norm3: LayerNorm;
  private readonly norm4: LayerNorm;
  private readonly crossAttnImageToToken: DownsampledAttention;

  /** `skipFirstLayerPe`: the first block's tokens are still their own PE, so its self-attention takes them bare, with no residual. */
  private readonly skipFirstLayerPe: boolean;

  constructor(weights: WeightScope, { dim, skipFirstLayerPe }: { dim: number; skipFirstLayerPe: boolean }) {
    this.skipFirstLayerPe = skipFirstLayerPe;
    const { transformerNumHeads: heads, transformerMlpDim: mlpDim, attentionDownsampleRate: rate } = MASK_DECODER_CONSTANTS;
    this.selfAttn = new DownsampledAttention(weights.scope('self_attn'), { embedDim: dim, numHeads: heads });
    this.norm1 = new LayerNorm(weights, { name: 'norm1', dim, eps: LAYER_NORM_EPS });
    this.crossAttnTokenToImage = new DownsampledAttention(weights.scope('cross_attn_token_to_image'), { embedDim: dim, numHeads: heads, downsampleRate: rate });
    this.norm2 = new LayerNorm(weights, { name: 'norm2', dim, eps: LAYER_NORM_EPS });
    this.mlp = new Mlp(weights.scope('mlp'), { inDim: dim, hiddenDim: mlpDim, outDim: dim, numLayers: 2, activation: 'relu' });
    this.norm3 = new LayerNorm(weights, { name: 'norm3', dim, eps: LAYER_NORM_EPS });
    this.norm4 = new LayerNorm(weights, { name: 'norm4', dim, eps: LAYER_NORM_EPS });
    this.crossAttnImageToToken = new DownsampledAttention(weights.scope('cross_attn_image_to_token'), { embedDim: dim, numHeads: heads, downsampleRate: rate });
  }

  // queries [B, N, C], keys [B, HW, C], queryPe [B, N, C], keyPe [1 or B, HW, C] → same shapes
  call({ queries, keys }: TwoWayState, queryPe: tf.Tensor3D, keyPe: tf.Tensor3D): TwoWayState {
    return tf.tidy(() => {
      // Post-norm: each LayerNorm takes the residual sum it normalises (one program on WebGPU).
      let q: tf.Tensor3D;
      if (this.skipFirstLayerPe) {
        q = this.norm1.call(this.selfAttn.call(queries, queries, queries)) as tf.Tensor3D;
      } else {
        q = this.norm1.call(queries, this.selfAttn.call(queries, queries, queries, { q: queryPe, k: queryPe })) as tf.Tensor3D;
      }

      q = this.norm2.call(q, this.crossAttnTokenToImage.call(q, keys, keys, { q: queryPe, k: keyPe })) as tf.Tensor3D;
      q = this.norm3.call(q, this.mlp.call(q)) as tf.Tensor3D;

      const k = this.norm4.call(keys, this.crossAttnImageToToken.call(keys, q, q, { q: keyPe, k: queryPe })) as tf.Tensor3D;
      return { queries: q, keys: k };
    });
  }
}

export class TwoWayTransformer {
  private readonly layers: TwoWayAttentionBlock[];
  private readonly finalAttnTokenToImage: DownsampledAttention;
  private readonly normFinalAttn: LayerNorm;

  /** `weights`: the 'sam_mask_decoder.transformer' scope; `dim`: the decoder width C. */
  constructor(weights: WeightScope, { dim }: { dim: number }) {
    const { transformerDepth, transformerNumHeads, attentionDownsampleRate } = MASK_DECODER_CONSTANTS;
    this.layers = Array.from({ length: transformerDepth }, (_, i) => new TwoWayAttentionBlock(weights.scope(`layers.${i}`), { dim, skipFirstLayerPe: i === 0 }));
    this.finalAttnTokenToImage = new DownsampledAttention(weights.scope('final_attn_token_to_image'), {
      embedDim: dim, numHeads: transformerNumHeads, downsampleRate: attentionDownsampleRate,
    });
    this.normFinalAttn = new LayerNorm(weights, { name: 'norm_final_attn', dim, eps: LAYER_NORM_EPS });
  }

  // image [B, HW, C], imagePe [1 or B, HW, C], tokens [B, N, C] → queries [B, N, C], keys [B, HW, C]
  call(image: tf.Tensor3D, imagePe: tf.Tensor3D, tokens: tf.Tensor3D): TwoWayState {
    return tf.tidy(() => {
      let state: TwoWayState = { queries: tokens, keys: image };
      for (const layer of this.layers) state = layer.call(state, tokens, imagePe);
      const { queries, keys } = state;
      const attended = this.finalAttnTokenToImage.call(queries, keys, keys, { q: tokens, k: imagePe });
      return { queries: this.normFinalAttn.call(queries, attended) as tf.Tensor3D, keys };
    });
  }
}
