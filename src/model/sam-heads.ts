/**
 * SAM2Base's SAM heads: prompts → prompt encoder → mask decoder, then the SAM 2 bookkeeping around them
 * (absent object ⇒ NO_OBJ_SCORE masks, upsampling to the image size, best-IoU choice, the object pointer
 * and its no-object gating). Also the "mask input used as output" path, which skips SAM for the mask.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MASK_DECODER_CONSTANTS, type Sam2ModelConfig } from '../config.js';
import { assertShape } from '../errors.js';
import { Conv2d, Linear, Mlp } from './common.js';
import { MaskDecoder, maskDecoderSettings, pickPerItem } from './mask-decoder.js';
import { POINT_LABEL, PromptEncoder, pointPrompt, promptEncoderSizes, type PointPrompt } from './prompt-encoder.js';
import type { WeightScope } from './weights.js';
import { FLOAT_BYTES } from '../ops/row-chunks.js';
import { broadcastByAdd } from '../ops/layout.js';
import { resizeBilinearAntialias, upsampleMasks } from '../ops/resize.js';
import { fusedElementwise, wgslFloat } from '../ops/webgpu/elementwise.js';
import { fusedKernelsOn } from '../ops/webgpu/fused.js';

/** Mask logit meaning "object absent". */
export const NO_OBJ_SCORE = -1024;
/** Logits standing for a binary mask input (sigmoid(±10) ≈ 1 / 0). */
const MASK_AS_OUTPUT_SCALE = 20;
const MASK_AS_OUTPUT_BIAS = -10;

export interface SamHeadsSettings {
  imageSize: number;
  /** h = w of the image embedding */
  embeddingSize: number;
  /** C */
  dim: number;
  predObjScores: boolean;
  useObjPtrsInEncoder: boolean;
  useMlpForObjPtrProj: boolean;
  fixedNoObjPtr: boolean;
  softNoObjPtr: boolean;
}

export function samHeadsSettings(cfg: Sam2ModelConfig): SamHeadsSettings {
  return {
    imageSize: cfg.image_size,
    embeddingSize: cfg.image_size / cfg.backbone_stride,
    dim: cfg.image_encoder.neck.d_model,
    predObjScores: cfg.pred_obj_scores,
    useObjPtrsInEncoder: cfg.use_obj_ptrs_in_encoder,
    useMlpForObjPtrProj: cfg.use_mlp_for_obj_ptr_proj,
    fixedNoObjPtr: cfg.fixed_no_obj_ptr,
    softNoObjPtr: cfg.soft_no_obj_ptr,
  };
}

export type SamHeadsInputs = {
  /** [B, h, w, C] */
  backboneFeatures: tf.Tensor4D;
  /** Absent: one padding point per item. */
  pointInputs?: PointPrompt;
  /** [B, H, W, 1] mask logits (or 0/1), resized to 4h × 4w if needed. */
  maskInputs?: tf.Tensor4D;
  /** [s0 [B, 4h, 4w, C/8], s1 [B, 2h, 2w, C/4]] (batch 1 is shared) */
  highResFeatures?: [tf.Tensor4D, tf.Tensor4D];
  multimaskOutput: boolean;
}

export interface SamHeadsOptions {
  /** Also return one hard-gated pointer per output token (SAM2Long keeps one per candidate mask). */
  allPointers?: boolean;
  /**
   * Also upsample the masks to the image size (default true). Trackers leave it off and hand the low-res
   * masks to Sam2Model.encodeMemory, which upsamples them a few rows at a time: B × 3 image-size masks
   * need not fit one tensor.
   */
  highRes?: boolean;
}

export type SamHeadsOutput = {
  /** [B, M, 4h, 4w]; M = 3 with multimask output, else 1 */
  lowResMultimasks: tf.Tensor4D;
  /** [B, M, S, S] */
  highResMultimasks: tf.Tensor4D;
  /** [B, M] */
  ious: tf.Tensor2D;
  /** [B, 1, 4h, 4w]: the best-IoU mask */
  lowResMasks: tf.Tensor4D;
  /** [B, 1, S, S] */
  highResMasks: tf.Tensor4D;
  /** [B, C] */
  objPtr: tf.Tensor2D;
  /** [B, 1] */
  objectScoreLogits: tf.Tensor2D;
  /** [B, T, C] with `allPointers` (T: the decoder's samTokensOut count): pointer if the object is present, else no_obj_ptr. */
  objPtrAll?: tf.Tensor3D;
}

/** SamHeadsOutput without the image-size masks (`highRes: false`). */
export type LowResHeadsOutput = Omit<SamHeadsOutput, 'highResMultimasks' | 'highResMasks'>;

export class SamHeads {
  readonly settings: SamHeadsSettings;
  readonly promptEncoder: PromptEncoder;
  readonly maskDecoder: MaskDecoder;
  /** obj_ptr_proj; null when the model keeps no pointers (identity). */
  private readonly objPtrProj: Mlp | Linear | null;
  /** [1, C] */
  private readonly noObjPtr: tf.Tensor2D | null;
  /** mask_downsample: turns a binary mask input into a low-res mask prompt for the pointer (mask-as-output path). */
  readonly maskDownsample: Conv2d | null;

  /** `weights`: the root scope of the SAM 2 state dict. */
  constructor(weights: WeightScope, cfg: Sam2ModelConfig) {
    const s = samHeadsSettings(cfg);
    this.settings = s;
    this.promptEncoder = new PromptEncoder(weights.scope('sam_prompt_encoder'), promptEncoderSizes(cfg));
    this.maskDecoder = new MaskDecoder(weights.scope('sam_mask_decoder'), maskDecoderSettings(cfg));
    this.objPtrProj = !s.useObjPtrsInEncoder ? null
      : s.useMlpForObjPtrProj ? new Mlp(weights.scope('obj_ptr_proj'), { inDim: s.dim, hiddenDim: s.dim, outDim: s.dim, numLayers: 3 })
        : new Linear(weights, { name: 'obj_ptr_proj', inDim: s.dim, outDim: s.dim });
    this.noObjPtr = s.predObjScores && s.useObjPtrsInEncoder ? weights.tensor('no_obj_ptr', [1, s.dim]) as tf.Tensor2D : null;
    this.maskDownsample = s.useObjPtrsInEncoder ? new Conv2d(weights, { name: 'mask_downsample', inDim: 1, outDim: 1, kernel: 4, stride: 4 }) : null;
  }

  call(inputs: SamHeadsInputs, options: SamHeadsOptions & { highRes: false }): LowResHeadsOutput;
  call(inputs: SamHeadsInputs, options?: SamHeadsOptions): SamHeadsOutput;
  call(inputs: SamHeadsInputs, options: SamHeadsOptions = {}): SamHeadsOutput | LowResHeadsOutput {
    const { dim, embeddingSize: e, imageSize } = this.settings;
    assertShape('backboneFeatures', inputs.backboneFeatures.shape, [-1, e, e, dim]);
    const batch = inputs.backboneFeatures.shape[0];
    if (inputs.maskInputs) assertShape('maskInputs', inputs.maskInputs.shape, [batch, -1, -1, 1]);
    if (inputs.pointInputs) assertShape('pointInputs.coords', inputs.pointInputs.coords.shape, [batch, -1, 2]);
    return tf.tidy(() => {
      // No prompt (a tracked frame): SAM 2 passes one padding point per row and no mask, whose embeddings never change.
      const points = inputs.pointInputs ?? (inputs.maskInputs ? pointPrompt(new Array(batch * 2).fill(0), new Array(batch).fill(POINT_LABEL.padding), batch) : null);
      const { sparse, dense } = points
        ? this.promptEncoder.call({ points, masks: inputs.maskInputs && this.maskPrompt(inputs.maskInputs) })
        : this.promptEncoder.emptyPrompt(batch);
      const decoded = this.maskDecoder.call({
        imageEmbeddings: inputs.backboneFeatures,
        imagePe: this.promptEncoder.densePe(),
        sparse,
        dense,
        multimaskOutput: inputs.multimaskOutput,
        highResFeatures: inputs.highResFeatures,
      });
      const { iouPred: ious, samTokensOut, objectScoreLogits } = decoded;
      const isObjAppearing = tf.greater(objectScoreLogits, 0);
      const lowResMultimasks = this.settings.predObjScores ? markAbsent(decoded.masks, objectScoreLogits) : decoded.masks;
      const highResMultimasks = (options.highRes ?? true) ? upsampleMasks(lowResMultimasks, imageSize) : null;

      let lowResMasks = lowResMultimasks;
      let highResMasks = highResMultimasks;
      let token = tf.reshape(tf.slice(samTokensOut, [0, 0, 0], [-1, 1, -1]), [batch, dim]) as tf.Tensor2D;
      if (inputs.multimaskOutput) {
        const best = tf.argMax(ious, -1) as tf.Tensor1D;
        lowResMasks = pickPerItem(lowResMultimasks, best);
        if (highResMultimasks) highResMasks = pickPerItem(highResMultimasks, best);
        if (samTokensOut.shape[1] > 1) token = tf.reshape(pickPerItem(samTokensOut, best), [batch, dim]);
      }

      const lambda = this.settings.softNoObjPtr ? tf.sigmoid(objectScoreLogits) : tf.cast(isObjAppearing, 'float32');
      const out: LowResHeadsOutput & Partial<SamHeadsOutput> = {
        lowResMultimasks,
        ...(highResMultimasks ? { highResMultimasks } : {}),
        ious,
        lowResMasks,
        ...(highResMasks ? { highResMasks } : {}),
        objPtr: this.gatePointer(this.projectPointer(token), lambda, this.settings.fixedNoObjPtr),
        objectScoreLogits,
      };
      if (options.allPointers) {
        const hard = tf.reshape(tf.cast(isObjAppearing, 'float32'), [batch, 1, 1]);
        out.objPtrAll = this.gatePointer(this.projectPointer(samTokensOut), hard, true);
      }
      return out;
    });
  }

  /**
   * Bytes of the largest tensor `call` makes per batch row: the upscaled image tokens [4h, 4w, C/8], the four
   * masks [4, 4h, 4w], or with `highRes` the masks at the image size [M, S, S].
   */
  rowBytes(multimask: boolean, highRes: boolean): number {
    const { embeddingSize: e, dim, imageSize } = this.settings;
    const lowRes = (4 * e) ** 2;
    const masks = highRes ? (multimask ? MASK_DECODER_CONSTANTS.numMultimaskOutputs : 1) * imageSize ** 2 : 0;
    return FLOAT_BYTES * Math.max(lowRes * Math.max(dim / 8, MASK_DECODER_CONSTANTS.numMultimaskOutputs + 1), masks);
  }

  /** obj_ptr_proj (identity for a model without pointers). */
  // [..., C] → [..., C]
  projectPointer<T extends tf.Tensor>(tokens: T): T {
    return (this.objPtrProj ? this.objPtrProj.call(tokens) : tf.clone(tokens)) as T;
  }

  /**
   * Occlusion handling: mixes in no_obj_ptr by (1 − λ), λ the presence (hard or soft); `scale` also
   * multiplies the pointer by λ (fixed_no_obj_ptr). Pointers pass unchanged when the model has no object scores.
   */
  // ptr [B, ..., C], lambda [B, ..., 1] → [B, ..., C]
  gatePointer<T extends tf.Tensor>(ptr: T, lambda: tf.Tensor, scale: boolean): T {
    if (!this.settings.predObjScores || !this.noObjPtr) return ptr;
    const noObjPtr = this.noObjPtr;
    if (fusedKernelsOn() && lambda.size === ptr.size / ptr.shape[ptr.rank - 1]) {
      return fusedElementwise(scale ? 'v1 * v0 + (1.0 - v1) * v2' : 'v0 + (1.0 - v1) * v2', ptr.shape, [[ptr, 'full'], [lambda, 'token'], [noObjPtr, 'channel']]) as T;
    }
    return tf.tidy(() => {
      const kept = scale ? tf.mul(lambda, ptr) : ptr;
      return tf.add(kept, tf.mul(tf.sub(1, lambda), noObjPtr)) as T;
    });
  }

  /** The mask prompt at the prompt encoder's size. */
  // [B, H, W, 1] → [B, 4h, 4w, 1]
  private maskPrompt(masks: tf.Tensor4D): tf.Tensor4D {
    const size = this.promptEncoder.maskInputSize;
    const m = tf.cast(masks, 'float32') as tf.Tensor4D;
    return m.shape[1] === size && m.shape[2] === size ? m : resizeBilinearAntialias(m, size, size);
  }
}

export type MaskAsOutputInputs = {
  /** [B, h, w, C] */
  backboneFeatures: tf.Tensor4D;
  highResFeatures?: [tf.Tensor4D, tf.Tensor4D];
  /** [B, H, W, 1] binary mask (bool, or float 0/1) at the image size */
  maskInputs: tf.Tensor4D;
}

/**
 * SAM2Base._use_mask_as_output: a mask input becomes the output directly (logits ±10), with IoU 1; the
 * pointer still comes from the SAM heads prompted with the downsampled mask, and presence is "any pixel on".
 * `objPtrAll` is not set (SAM2Long keeps no per-candidate pointers for such frames).
 */
export function useMaskAsOutput(heads: SamHeads, inputs: MaskAsOutputInputs): SamHeadsOutput {
  const batch = inputs.backboneFeatures.shape[0];
  assertShape('maskInputs', inputs.maskInputs.shape, [batch, -1, -1, 1]);
  const [, h, w] = inputs.maskInputs.shape;
  return tf.tidy(() => {
    const mask = tf.cast(inputs.maskInputs, 'float32') as tf.Tensor4D;
    const highRes = tf.add(tf.mul(mask, MASK_AS_OUTPUT_SCALE), MASK_AS_OUTPUT_BIAS) as tf.Tensor4D;
    const lowRes = resizeBilinearAntialias(highRes, Math.floor(h / 4), Math.floor(w / 4));
    let objPtr: tf.Tensor2D;
    if (!heads.maskDownsample) {
      objPtr = tf.zeros([batch, heads.settings.dim]);
    } else {
      const prompted = heads.call({
        backboneFeatures: inputs.backboneFeatures,
        maskInputs: heads.maskDownsample.call(mask),
        highResFeatures: inputs.highResFeatures,
        multimaskOutput: false,
      });
      objPtr = prompted.objPtr;
    }
    const present = tf.cast(tf.any(tf.greater(tf.reshape(mask, [batch, -1]), 0), -1, true), 'float32') as tf.Tensor2D;
    const lowResMasks = toMaskStack(lowRes);
    const highResMasks = toMaskStack(highRes);
    return {
      lowResMultimasks: lowResMasks,
      highResMultimasks: highResMasks,
      ious: tf.ones([batch, 1]) as tf.Tensor2D,
      lowResMasks,
      highResMasks,
      objPtr: heads.gatePointer(objPtr, present, heads.settings.fixedNoObjPtr),
      objectScoreLogits: tf.add(tf.mul(present, MASK_AS_OUTPUT_SCALE), MASK_AS_OUTPUT_BIAS) as tf.Tensor2D,
    };
  });
}

/** NO_OBJ_SCORE everywhere in the masks of items whose object score is not positive. */
// masks [B, M, H, W], scores [B, 1] → [B, M, H, W]
function markAbsent(masks: tf.Tensor4D, scores: tf.Tensor2D): tf.Tensor4D {
  if (fusedKernelsOn()) {
    return fusedElementwise(`select(${wgslFloat(NO_OBJ_SCORE)}, v0, v1 > 0.0)`, masks.shape, [[masks, 'full'], [scores, 'row']]) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    // Full-shape operands: tf.where would broadcast with a slow tile on wasm.
    const present = tf.greater(broadcastByAdd(tf.reshape(scores, [-1, 1, 1, 1]), masks.shape), 0);
    return tf.where(present, masks, tf.fill(masks.shape, NO_OBJ_SCORE));
  });
}

// [B, H, W, 1] → [B, 1, H, W]
function toMaskStack(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w] = x.shape;
  return tf.reshape(x, [b, 1, h, w]);
}
