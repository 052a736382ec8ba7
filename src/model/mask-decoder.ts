/**
 * SAM 2's mask decoder: output tokens (object score, IoU, 4 mask tokens) plus the prompt tokens run
 * through the two-way transformer with the image embedding; the image tokens are upscaled ×4 (mixing in
 * the stride-4 and stride-8 backbone features), and each mask token's hypernetwork turns them into a mask.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MASK_DECODER_CONSTANTS, type MaskDecoderExtraArgs, type Sam2ModelConfig } from '../config.js';
import { assertShape, InputError } from '../errors.js';
import { Conv2d, LayerNorm, Linear, Mlp, gelu } from './common.js';
import { TwoWayTransformer } from './two-way-transformer.js';
import type { WeightScope } from './weights.js';
import { broadcastByAdd } from '../ops/layout.js';
import { gatherRowsAt, rowIndices, sliceAxis1, takeRows } from '../ops/take-rows.js';
import { fusedKernelsOn } from '../ops/webgpu/fused.js';
import { fusedGroupedLinear } from '../ops/webgpu/grouped-linear.js';
import { fusedPickRows } from '../ops/webgpu/pick-rows.js';
import { fusedLinear } from '../ops/webgpu/linear.js';

/** LayerNorm2d's eps. */
const LAYER_NORM_2D_EPS = 1e-6;
/** Object-score logit when the decoder has no object-score head (sigmoid(10) ≈ 1: "present"). */
const PRESENT_SCORE_LOGIT = 10;

/**
 * nn.ConvTranspose2d with kernel 2 and stride 2: each input pixel maps linearly to its own 2×2 output
 * block, so it is one 2-D matMul [in → 2·2·out] and a depth-to-space reshuffle (far faster on wasm than
 * tf.conv2dTranspose).
 */
export class ConvTranspose2x2 {
  /** [in, 2·2·out], columns ordered (dy, dx, out). */
  readonly w: tf.Tensor2D;
  /** [2·2·out] */
  readonly b: tf.Tensor1D;

  readonly inDim: number;
  readonly outDim: number;

  /** `name`: the weights' name in the scope. */
  constructor(weights: WeightScope, { name, inDim, outDim }: { name: string; inDim: number; outDim: number }) {
    this.inDim = inDim;
    this.outDim = outDim;
    const raw = weights.tensor(`${name}.weight`, [inDim, outDim, 2, 2]);
    this.w = weights.store.derive(raw, (t) => tf.reshape(tf.transpose(t, [0, 2, 3, 1]), [inDim, 4 * outDim]) as tf.Tensor2D);
    const bias = weights.tensor(`${name}.bias`, [outDim]);
    this.b = weights.store.derive(bias, (t) => tf.tile(t, [4]) as tf.Tensor1D);
  }

  // [B, h, w, in] → [B, 2h, 2w, out]
  call(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w] = x.shape;
      const blocks = fusedKernelsOn() ? fusedLinear(x, this.w, this.b) : tf.add(tf.matMul(tf.reshape(x, [-1, this.inDim]), this.w), this.b);
      // [B·h, w, dy, (dx, out)] → [B·h, dy, w, (dx, out)] is exactly [B, 2h, 2w, out] in memory.
      const rows = tf.transpose(tf.reshape(blocks, [b * h, w, 2, 2 * this.outDim]), [0, 2, 1, 3]);
      return tf.reshape(rows, [b, 2 * h, 2 * w, this.outDim]) as tf.Tensor4D;
    });
  }
}

export interface MaskDecoderSettings {
  /** C: the transformer width (the neck's d_model). */
  dim: number;
  useHighResFeatures: boolean;
  iouPredictionUseSigmoid: boolean;
  predObjScores: boolean;
  predObjScoresMlp: boolean;
  useMultimaskTokenForObjPtr: boolean;
  /** Single-mask output falls back to the best multimask output when unstable (null: never). */
  dynamicMultimask: MaskDecoderExtraArgs | null;
}

export function maskDecoderSettings(cfg: Sam2ModelConfig): MaskDecoderSettings {
  const extra = cfg.sam_mask_decoder_extra_args;
  return {
    dim: cfg.image_encoder.neck.d_model,
    useHighResFeatures: cfg.use_high_res_features_in_sam,
    iouPredictionUseSigmoid: cfg.iou_prediction_use_sigmoid,
    predObjScores: cfg.pred_obj_scores,
    predObjScoresMlp: cfg.pred_obj_scores_mlp,
    useMultimaskTokenForObjPtr: cfg.use_multimask_token_for_obj_ptr,
    dynamicMultimask: extra?.dynamic_multimask_via_stability ? extra : null,
  };
}

export type MaskDecoderInputs = {
  /** [1 or B, h, w, C]: a batch of 1 is shared by every prompt set. */
  imageEmbeddings: tf.Tensor4D;
  /** [1, h, w, C] (PromptEncoder.densePe()) */
  imagePe: tf.Tensor4D;
  /** [B, N, C] */
  sparse: tf.Tensor3D;
  /** [1 or B, h, w, C] */
  dense: tf.Tensor4D;
  multimaskOutput: boolean;
  /** [s0 [1 or B, 4h, 4w, C/8], s1 [1 or B, 2h, 2w, C/4]] (projectHighResFeatures), when the model uses them. */
  highResFeatures?: [tf.Tensor4D, tf.Tensor4D];
}

export type MaskDecoderOutput = {
  /** [B, M, 4h, 4w] logits; M = 3 with multimask output, else 1. */
  masks: tf.Tensor4D;
  /** [B, M] */
  iouPred: tf.Tensor2D;
  /** [B, T, C]: the 3 multimask tokens when multimask output uses them for the object pointer, else the single-mask token. */
  samTokensOut: tf.Tensor3D;
  /** [B, 1] */
  objectScoreLogits: tf.Tensor2D;
}

/** Masks with their predicted IoUs, [B, M, h, w] and [B, M]. */
type MaskChoice = Pick<AllMasks, 'masks' | 'iouPred'>;

/** The raw decoder outputs for all four mask tokens, before the single/multi-mask choice. */
type AllMasks = {
  /** [B, 4, 4h, 4w] */
  masks: tf.Tensor4D;
  /** [B, 4] */
  iouPred: tf.Tensor2D;
  /** [B, 4, C] */
  maskTokensOut: tf.Tensor3D;
  /** [B, 1] */
  objectScoreLogits: tf.Tensor2D;
}

export class MaskDecoder {
  readonly settings: MaskDecoderSettings;
  /** [obj_score_token?, iou_token, mask_tokens ×4] stacked: [T0, C] */
  private readonly outputTokens: tf.Tensor2D;
  private readonly transformer: TwoWayTransformer;
  private readonly upscale1: ConvTranspose2x2;
  private readonly upscaleNorm: LayerNorm;
  private readonly upscale2: ConvTranspose2x2;
  private readonly convS0: Conv2d | null;
  private readonly convS1: Conv2d | null;
  private readonly hypernetworks: Mlp[];
  /** The hypernetworks' layers stacked by mask token, for the grouped WebGPU kernel (made on first use there). */
  private groupedHypernetworks: { w: tf.Tensor3D; b: tf.Tensor3D }[] | null = null;
  private readonly store: WeightScope['store'];
  private readonly iouHead: Mlp;
  private readonly objScoreHead: Mlp | Linear | null;

  /** `weights`: the 'sam_mask_decoder' scope. */
  constructor(weights: WeightScope, settings: MaskDecoderSettings) {
    this.settings = settings;
    this.store = weights.store;
    const c = settings.dim;
    const numMaskTokens = MASK_DECODER_CONSTANTS.numMultimaskOutputs + 1;
    const tokens = [weights.tensor('iou_token.weight', [1, c]), weights.tensor('mask_tokens.weight', [numMaskTokens, c])];
    if (settings.predObjScores) tokens.unshift(weights.tensor('obj_score_token.weight', [1, c]));
    this.outputTokens = weights.store.own(tf.concat(tokens, 0) as tf.Tensor2D);
    this.transformer = new TwoWayTransformer(weights.scope('transformer'), { dim: c });
    this.upscale1 = new ConvTranspose2x2(weights, { name: 'output_upscaling.0', inDim: c, outDim: c / 4 });
    this.upscaleNorm = new LayerNorm(weights, { name: 'output_upscaling.1', dim: c / 4, eps: LAYER_NORM_2D_EPS });
    this.upscale2 = new ConvTranspose2x2(weights, { name: 'output_upscaling.3', inDim: c / 4, outDim: c / 8 });
    this.convS0 = settings.useHighResFeatures ? new Conv2d(weights, { name: 'conv_s0', inDim: c, outDim: c / 8, kernel: 1 }) : null;
    this.convS1 = settings.useHighResFeatures ? new Conv2d(weights, { name: 'conv_s1', inDim: c, outDim: c / 4, kernel: 1 }) : null;
    this.hypernetworks = Array.from({ length: numMaskTokens },
      (_, i) => new Mlp(weights.scope(`output_hypernetworks_mlps.${i}`), { inDim: c, hiddenDim: c, outDim: c / 8, numLayers: 3 }));
    const { iouHeadDepth, iouHeadHiddenDim } = MASK_DECODER_CONSTANTS;
    this.iouHead = new Mlp(weights.scope('iou_prediction_head'), {
      inDim: c, hiddenDim: iouHeadHiddenDim, outDim: numMaskTokens, numLayers: iouHeadDepth, activation: 'relu',
      sigmoidOutput: settings.iouPredictionUseSigmoid,
    });
    this.objScoreHead = !settings.predObjScores ? null
      : settings.predObjScoresMlp ? new Mlp(weights.scope('pred_obj_score_head'), { inDim: c, hiddenDim: c, outDim: 1, numLayers: 3 })
        : new Linear(weights, { name: 'pred_obj_score_head', inDim: c, outDim: 1 });
    // Made now when the model is built on WebGPU, so that no run's first frame allocates weights.
    if (fusedKernelsOn()) this.stackedHypernetworks();
  }

  /** Layer l of every hypernetwork MLP, stacked by mask token: w [M, in, out], b [M, 1, out]. */
  private stackedHypernetworks(): { w: tf.Tensor3D; b: tf.Tensor3D }[] {
    this.groupedHypernetworks ??= this.hypernetworks[0].layers.map((_, l) => {
      const layers = this.hypernetworks.map((mlp) => mlp.layers[l]);
      return {
        w: this.store.own(tf.stack(layers.map((layer) => layer.w)) as tf.Tensor3D),
        b: this.store.own(tf.tidy(() => tf.expandDims(tf.stack(layers.map((layer) => layer.b!)), 1)) as tf.Tensor3D),
      };
    });
    return this.groupedHypernetworks;
  }

  /**
   * Each mask token through its own hypernetwork MLP. On WebGPU the four MLPs run as one group, a kernel per
   * layer (ops/webgpu/grouped-linear.ts); elsewhere token by token (the reference).
   */
  // maskTokensOut [B, M, C] → [B, M, C/8]
  private hypernetworkOutputs(maskTokensOut: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, , c] = maskTokensOut.shape;
      if (!fusedKernelsOn()) {
        return tf.stack(this.hypernetworks.map((mlp, i) =>
          mlp.call(tf.reshape(tf.slice(maskTokensOut, [0, i, 0], [-1, 1, -1]), [batch, c]))), 1) as tf.Tensor3D;
      }
      const layers = this.stackedHypernetworks();
      const { activation } = this.hypernetworks[0];
      let h = tf.transpose(maskTokensOut, [1, 0, 2]) as tf.Tensor3D;
      layers.forEach(({ w, b }, l) => {
        h = fusedGroupedLinear(h, w, b, l < layers.length - 1 ? activation : 'linear');
      });
      return tf.transpose(h, [1, 0, 2]) as tf.Tensor3D;
    });
  }

  /** conv_s0 / conv_s1 on the first two FPN levels (SAM2Base.forward_image does this once per frame). */
  // fpn0 [B, 4h, 4w, C], fpn1 [B, 2h, 2w, C] → [s0 [B, 4h, 4w, C/8], s1 [B, 2h, 2w, C/4]]
  projectHighResFeatures(fpn0: tf.Tensor4D, fpn1: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    if (!this.convS0 || !this.convS1) throw new InputError('this model does not use high-res features in the mask decoder');
    assertShape('fpn0', fpn0.shape, [-1, -1, -1, this.settings.dim]);
    assertShape('fpn1', fpn1.shape, [-1, -1, -1, this.settings.dim]);
    return [this.convS0.call(fpn0), this.convS1.call(fpn1)];
  }

  call(inputs: MaskDecoderInputs): MaskDecoderOutput {
    this.checkInputs(inputs);
    return tf.tidy(() => this.selectOutputs(this.predictMasks(inputs), inputs.multimaskOutput));
  }

  private checkInputs(inputs: MaskDecoderInputs): void {
    const c = this.settings.dim;
    const [batch] = inputs.sparse.shape;
    assertShape('sparse', inputs.sparse.shape, [-1, -1, c]);
    const [ib, h, w] = inputs.imageEmbeddings.shape;
    assertShape('imageEmbeddings', inputs.imageEmbeddings.shape, [ib === 1 ? 1 : batch, -1, -1, c]);
    assertShape('imagePe', inputs.imagePe.shape, [1, h, w, c]);
    assertShape('dense', inputs.dense.shape, [inputs.dense.shape[0] === 1 ? 1 : batch, h, w, c]);
    if (!this.settings.useHighResFeatures) return;
    if (!inputs.highResFeatures) throw new InputError('this model needs highResFeatures (projectHighResFeatures of FPN levels 0 and 1)');
    const [s0, s1] = inputs.highResFeatures;
    assertShape('highResFeatures[0]', s0.shape, [s0.shape[0] === 1 ? 1 : batch, 4 * h, 4 * w, c / 8]);
    assertShape('highResFeatures[1]', s1.shape, [s1.shape[0] === 1 ? 1 : batch, 2 * h, 2 * w, c / 4]);
  }

  private predictMasks(inputs: MaskDecoderInputs): AllMasks {
    return tf.tidy(() => {
      const { sparse, imagePe, dense, highResFeatures } = inputs;
      const [batch, , c] = sparse.shape;
      const [, h, w] = inputs.imageEmbeddings.shape;
      const outputTokens = broadcastByAdd(tf.expandDims(this.outputTokens, 0), [batch, ...this.outputTokens.shape]);
      const tokens = tf.concat([outputTokens, sparse], 1) as tf.Tensor3D;
      // A shared image embedding (batch 1) gets its per-prompt-set copies from the dense prompts.
      let src = tf.add(inputs.imageEmbeddings, dense) as tf.Tensor4D;
      if (src.shape[0] !== batch) src = broadcastByAdd(src, [batch, h, w, c]);

      const { queries, keys } = this.transformer.call(
        tf.reshape(src, [batch, h * w, c]), tf.reshape(imagePe, [1, h * w, c]), tokens);
      const first = this.settings.predObjScores ? 1 : 0;
      const numMaskTokens = this.hypernetworks.length;
      const iouTokenOut = tf.reshape(tf.slice(queries, [0, first, 0], [-1, 1, -1]), [batch, c]);
      const maskTokensOut = tf.slice(queries, [0, first + 1, 0], [-1, numMaskTokens, -1]);

      const upscaled = this.upscale(tf.reshape(keys, [batch, h, w, c]), this.settings.useHighResFeatures ? highResFeatures : undefined);
      return {
        masks: masksFromHypernetworks(this.hypernetworkOutputs(maskTokensOut), upscaled),
        iouPred: this.iouHead.call(iouTokenOut) as tf.Tensor2D,
        maskTokensOut,
        objectScoreLogits: this.objScoreHead
          ? this.objScoreHead.call(tf.reshape(tf.slice(queries, [0, 0, 0], [-1, 1, -1]), [batch, c])) as tf.Tensor2D
          : tf.fill([batch, 1], PRESENT_SCORE_LOGIT) as tf.Tensor2D,
      };
    });
  }

  // image tokens [B, h, w, C] → [B, 4h, 4w, C/8]
  private upscale(x: tf.Tensor4D, highRes?: [tf.Tensor4D, tf.Tensor4D]): tf.Tensor4D {
    return tf.tidy(() => {
      const up1 = this.upscale1.call(x);
      // GELU of the LayerNorm2d of the sum (the norm and GELU: one program on WebGPU). The sum stays its own
      // kernel: with it inside the norm, Chromium's software WebGPU gave values that swapped two near-equal
      // SAM2Long candidates on video2's frame 5 (test/e2e/webgpu.e2e.ts).
      const mid = this.upscaleNorm.callGelu(highRes ? tf.add(up1, highRes[1]) : up1) as tf.Tensor4D;
      const up2 = this.upscale2.call(mid);
      return gelu(highRes ? tf.add(up2, highRes[0]) : up2) as tf.Tensor4D;
    });
  }

  private selectOutputs(all: AllMasks, multimaskOutput: boolean): MaskDecoderOutput {
    const numMasks = this.hypernetworks.length;
    const multi = (t: tf.Tensor) => sliceAxis1(t, 1, numMasks - 1);
    const single = (t: tf.Tensor) => sliceAxis1(t, 0, 1);
    const pick = (slice: (t: tf.Tensor) => tf.Tensor): MaskChoice => ({ masks: slice(all.masks) as tf.Tensor4D, iouPred: slice(all.iouPred) as tf.Tensor2D });
    const dynamic = this.settings.dynamicMultimask;
    const { masks, iouPred } = multimaskOutput ? pick(multi) : dynamic ? this.stableSingleMask(pick(single), pick(multi), dynamic) : pick(single);
    // With one mask asked for, the pointer still comes from the single-mask token, as in training.
    const samTokensOut = (multimaskOutput && this.settings.useMultimaskTokenForObjPtr ? multi : single)(all.maskTokensOut) as tf.Tensor3D;
    return { masks, iouPred, samTokensOut, objectScoreLogits: all.objectScoreLogits };
  }

  /** The single-mask output, replaced by the best-IoU multimask output where its stability score is low. */
  // single [B, 1, h, w] / [B, 1], multi [B, M−1, h, w] / [B, M−1] → [B, 1, h, w] / [B, 1]
  private stableSingleMask(single: MaskChoice, multi: MaskChoice, args: MaskDecoderExtraArgs): MaskChoice {
    const [batch, , mh, mw] = single.masks.shape;
    const best = tf.argMax(multi.iouPred, -1) as tf.Tensor1D;
    const bestMasks = pickPerItem(multi.masks, best);
    const bestIou = pickPerItem(multi.iouPred, best);

    const flat = tf.reshape(single.masks, [batch, mh * mw]);
    const area = (threshold: number) => tf.sum(tf.cast(tf.greater(flat, threshold), 'float32'), -1);
    const areaInner = area(args.dynamic_multimask_stability_delta);
    const areaOuter = area(-args.dynamic_multimask_stability_delta);
    const stability = tf.where(tf.greater(areaOuter, 0), tf.div(areaInner, areaOuter), tf.onesLike(areaOuter));
    const thresh = args.dynamic_multimask_stability_thresh;
    // Conditions at the full shape: tf.where would broadcast them with a slow tile on wasm.
    const stablePixels = tf.greaterEqual(broadcastByAdd(tf.reshape(stability, [batch, 1, 1, 1]), single.masks.shape), thresh);
    return {
      masks: tf.where(stablePixels, single.masks, bestMasks),
      iouPred: tf.where(tf.greaterEqual(tf.reshape(stability, [batch, 1]), thresh), single.iouPred, bestIou),
    };
  }
}

/**
 * x[b, index[b]] for every item b, keeping the axis (a flat row gather: wasm's gather with batchDims reads
 * out of bounds for batches above 1, and its plain gather is slow; take-rows copies on the host there).
 */
// x [B, M, ...], index [B] int32 → [B, 1, ...]
export function pickPerItem<T extends tf.Tensor>(x: T, index: tf.Tensor1D): T {
  if (fusedKernelsOn()) return fusedPickRows(x, index);
  return tf.tidy(() => {
    const [batch, m, ...rest] = x.shape;
    const flatIndex = tf.add(tf.mul(tf.range(0, batch, 1, 'int32'), tf.scalar(m, 'int32')), index) as tf.Tensor1D;
    return tf.reshape(gatherRowsAt(tf.reshape(x, [batch * m, ...rest]), flatIndex), [batch, 1, ...rest]) as T;
  });
}

/** Each mask token's hypernetwork output is a per-pixel linear read-out of the upscaled image. */
// hyper [B, M, c], upscaled [B, H, W, c] → [B, M, H, W]
export function masksFromHypernetworks(hyper: tf.Tensor3D, upscaled: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, m, c] = hyper.shape;
    const [, hh, ww] = upscaled.shape;
    // WebGPU: one batched product against the transposed pixels (no per-item split, no transpose kernel).
    if (fusedKernelsOn()) return tf.reshape(tf.matMul(hyper, tf.reshape(upscaled, [batch, hh * ww, c]), false, true), [batch, m, hh, ww]) as tf.Tensor4D;
    const items = rowIndices(batch);
    const hypers = takeRows(hyper, items);
    const perItem = takeRows(upscaled, items).map((image, b) => {
      const pixels = tf.reshape(image, [hh * ww, c]);
      return tf.transpose(tf.matMul(pixels, tf.transpose(hypers[b])));
    });
    return tf.reshape(tf.stack(perItem), [batch, m, hh, ww]) as tf.Tensor4D;
  });
}
