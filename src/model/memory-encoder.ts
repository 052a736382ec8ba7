/**
 * SAM 2's memory encoder: a frame's features fused with its predicted mask into the memory later frames
 * attend to (scope 'memory_encoder'), plus SAM2Base._encode_new_memory around it and the bfloat16 rounding
 * the predictors apply when they store memory features. NHWC throughout.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CXBlockConfig, MaskDownSamplerConfig, Sam2ModelConfig } from '../config.js';
import { derivedSizes } from '../config.js';
import { assertShape, ConfigError } from '../errors.js';
import { Conv2d, LayerNorm, Linear } from './common.js';
import { sinePositionEncoding } from './position-encoding.js';
import type { WeightScope } from './weights.js';
import { FLOAT_BYTES } from '../ops/row-chunks.js';
import { repeatRows } from '../ops/layout.js';
import { hostCopy } from '../ops/take-rows.js';
import { roundToBfloat16OnDevice } from '../ops/webgpu/bfloat16.js';
import { fusedDepthwiseNorm } from '../ops/webgpu/depthwise-norm.js';
import { fusedElementwise, wgslFloat, wgslSigmoid } from '../ops/webgpu/elementwise.js';
import { fusedKernelsOn } from '../ops/webgpu/fused.js';
import { fusedLinear } from '../ops/webgpu/linear.js';

/** LayerNorm2d's epsilon (channels of an NHWC map are its last axis, so it is a LayerNorm there). */
const LAYER_NORM_2D_EPS = 1e-6;

/**
 * Downsamples a mask by `total_stride`, `stride` at a time: each step is conv → LayerNorm2d → GELU with
 * channels ×stride², then a 1×1 conv to `embed_dim`. Parameters are named after the official nn.Sequential
 * indices (conv at 3i, norm at 3i+1; the GELU at 3i+2 has none).
 */
export class MaskDownSampler {
  readonly steps: { conv: Conv2d; norm: LayerNorm }[] = [];
  readonly out: Conv2d;

  constructor(weights: WeightScope, cfg: MaskDownSamplerConfig) {
    const numSteps = Math.round(Math.log2(cfg.total_stride) / Math.log2(cfg.stride));
    if (cfg.stride ** numSteps !== cfg.total_stride) {
      throw new ConfigError(`mask_downsampler: total_stride ${cfg.total_stride} is not a power of stride ${cfg.stride}`);
    }
    let channels = 1;
    for (let i = 0; i < numSteps; i++) {
      const next = channels * cfg.stride ** 2;
      this.steps.push({
        conv: new Conv2d(weights, { name: `encoder.${3 * i}`, inDim: channels, outDim: next, kernel: cfg.kernel_size, stride: cfg.stride, padding: cfg.padding }),
        norm: new LayerNorm(weights, { name: `encoder.${3 * i + 1}`, dim: next, eps: LAYER_NORM_2D_EPS }),
      });
      channels = next;
    }
    this.out = new Conv2d(weights, { name: `encoder.${3 * numSteps}`, inDim: channels, outDim: cfg.embed_dim, kernel: 1 });
  }

  /** Elements per batch row of the largest map for an S × S mask: a padded step input or a step output. */
  rowElements(size: number): number {
    let [side, channels, largest] = [size, 1, size * size];
    for (const { conv } of this.steps) {
      const padded = (side + 2 * conv.padding) ** 2 * channels;
      side = Math.floor((side + 2 * conv.padding - conv.kernel) / conv.stride) + 1;
      channels = conv.outDim;
      largest = Math.max(largest, padded, side * side * channels);
    }
    return largest;
  }

  // [B, S, S, 1] → [B, S/total_stride, S/total_stride, embed_dim]
  call(masks: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let x = masks;
      for (const { conv, norm } of this.steps) x = norm.callGelu(conv.call(x)) as tf.Tensor4D;
      return this.out.call(x);
    });
  }
}

/**
 * ConvNeXt block: depthwise conv → LayerNorm2d → Linear → GELU → Linear → layer scale, plus the input. On WebGPU
 * three kernels (ops/webgpu/depthwise-norm.ts, then the Linear kernel with GELU, then with the layer scale and
 * the input added in its epilogue); elsewhere the composition below, which is also their reference in tests.
 */
export class CXBlock {
  readonly dwconv: Conv2d;
  readonly norm: LayerNorm;
  readonly pwconv1: Linear;
  readonly pwconv2: Linear;
  readonly gamma: tf.Tensor1D | null;

  constructor(weights: WeightScope, cfg: CXBlockConfig) {
    const d = cfg.dim;
    this.dwconv = new Conv2d(weights, { name: 'dwconv', inDim: d, outDim: d, kernel: cfg.kernel_size, stride: 1, padding: cfg.padding, groups: cfg.use_dwconv ? d : 1 });
    this.norm = new LayerNorm(weights, { name: 'norm', dim: d, eps: LAYER_NORM_2D_EPS });
    this.pwconv1 = new Linear(weights, { name: 'pwconv1', inDim: d, outDim: 4 * d });
    this.pwconv2 = new Linear(weights, { name: 'pwconv2', inDim: 4 * d, outDim: d });
    this.gamma = cfg.layer_scale_init_value > 0 ? weights.tensor('gamma', [d]) as tf.Tensor1D : null;
  }

  // [B, H, W, C] → [B, H, W, C]
  call(x: tf.Tensor4D): tf.Tensor4D {
    const { dwconv, norm, pwconv1, pwconv2, gamma } = this;
    // Every SAM 2 config's block: a depthwise, stride-1 convolution that keeps the map's size.
    const fusable = dwconv.groups === dwconv.inDim && dwconv.stride === 1 && 2 * dwconv.padding === dwconv.kernel - 1;
    if (fusable && fusedKernelsOn()) {
      return tf.tidy(() => {
        const normed = fusedDepthwiseNorm(x, { filter: dwconv.w, filterBias: dwconv.b, padding: dwconv.padding, gamma: norm.w, beta: norm.b, eps: norm.eps });
        return fusedLinear(pwconv1.call(normed, 'gelu'), pwconv2.w, pwconv2.b, 'linear', { scale: gamma, residual: x }) as tf.Tensor4D;
      });
    }
    return tf.tidy(() => {
      const h = this.pwconv2.call(this.pwconv1.call(this.norm.call(this.dwconv.call(x)), 'gelu'));
      return tf.add(x, this.gamma ? tf.mul(h, this.gamma) : h) as tf.Tensor4D;
    });
  }
}

export interface MemoryEncoderOutput {
  /** [B, h, w, memDim] */
  features: tf.Tensor4D;
  /** Sine position encoding of the memory map, the same for every row. [B, h, w, memDim] */
  posEnc: tf.Tensor4D;
}

export interface NewMemoryInputs {
  /** The frame's top-level features. [B, h, w, C], or [1, h, w, C] shared by every mask (projected once) */
  pixFeat: tf.Tensor4D;
  /** Predicted mask logits at image resolution. [B, S, S, 1] */
  highResMasks: tf.Tensor4D;
  /** [B, 1] */
  objectScoreLogits: tf.Tensor2D;
  /** The mask comes from prompts on this frame (it is then binarized when the config asks). */
  isMaskFromPts: boolean;
}

/** Memory encoder (scope 'memory_encoder') and SAM2Base's `_encode_new_memory` around it. */
export class MemoryEncoder {
  readonly maskDownsampler: MaskDownSampler;
  readonly pixFeatProj: Conv2d;
  readonly fuserProj: Conv2d | null;
  readonly fuser: CXBlock[];
  readonly outProj: Conv2d | null;
  /** Added to the memory of frames whose object score is ≤ 0 (SAM 2.1's no_obj_embed_spatial). [1, memDim] */
  readonly noObjEmbedSpatial: tf.Tensor2D | null;
  readonly memDim: number;

  /** `root` is the model's top-level scope: `no_obj_embed_spatial` lives outside 'memory_encoder'. */
  constructor(root: WeightScope, readonly cfg: Sam2ModelConfig) {
    const me = cfg.memory_encoder;
    const weights = root.scope('memory_encoder');
    this.memDim = derivedSizes(cfg).memDim;
    this.maskDownsampler = new MaskDownSampler(weights.scope('mask_downsampler'), me.mask_downsampler);
    this.pixFeatProj = new Conv2d(weights, { name: 'pix_feat_proj', inDim: me.in_dim, outDim: me.in_dim, kernel: 1 });
    this.fuserProj = me.fuser.input_projection ? new Conv2d(weights, { name: 'fuser.proj', inDim: me.in_dim, outDim: me.in_dim, kernel: 1 }) : null;
    this.fuser = Array.from({ length: me.fuser.num_layers }, (_, i) => new CXBlock(weights.scope(`fuser.layers.${i}`), me.fuser.layer));
    this.outProj = me.out_dim !== me.in_dim ? new Conv2d(weights, { name: 'out_proj', inDim: me.in_dim, outDim: me.out_dim, kernel: 1 }) : null;
    this.noObjEmbedSpatial = cfg.no_obj_embed_spatial ? root.tensor('no_obj_embed_spatial', [1, this.memDim]) as tf.Tensor2D : null;
  }

  /**
   * Bytes of the largest tensor `encodeNewMemory` makes per batch row, for S × S masks and an h × w feature
   * map: the mask downsampler's maps (S² each at full size) or a fuser block's 4×-wide hidden layer.
   */
  rowBytes(maskSize: number, h: number, w: number): number {
    const c = this.cfg.memory_encoder.in_dim;
    const fuser = this.fuser.map(({ dwconv: { padding: p }, pwconv1 }) => Math.max((h + 2 * p) * (w + 2 * p) * c, h * w * pwconv1.outDim));
    return FLOAT_BYTES * Math.max(this.maskDownsampler.rowElements(maskSize), h * w * c, ...fuser);
  }

  /** MemoryEncoder.forward: mask (sigmoid unless skipped) downsampled and added to the projected features, fused. */
  // pixFeat [B or 1, h, w, C], masks [B, S, S, 1] → features/posEnc [B, h, w, memDim]
  call(pixFeat: tf.Tensor4D, masks: tf.Tensor4D, skipMaskSigmoid: boolean): MemoryEncoderOutput {
    return tf.tidy(() => {
      const features = this.fuse(pixFeat, masks, skipMaskSigmoid);
      return { features, posEnc: this.positionEncoding(features) };
    });
  }

  /**
   * SAM2Base._encode_new_memory: the mask becomes sigmoid(logits) (or logits > 0 for a prompted mask when
   * binarize_mask_from_pts_for_mem_enc), scaled and shifted by sigmoid_scale/bias_for_mem_enc, encoded
   * with the features; rows whose object score is ≤ 0 get no_obj_embed_spatial added.
   */
  // → features/posEnc [B, h, w, memDim]
  encodeNewMemory(inputs: NewMemoryInputs): MemoryEncoderOutput {
    return tf.tidy(() => {
      const features = this.newMemoryFeatures(inputs);
      return { features, posEnc: this.positionEncoding(features) };
    });
  }

  /**
   * encodeNewMemory's features alone: the position encoding is the same for every frame, so a caller that
   * stores memories (Sam2Model) keeps one copy of it instead of a new one per call.
   */
  // → [B, h, w, memDim]
  newMemoryFeatures({ pixFeat, highResMasks, objectScoreLogits, isMaskFromPts }: NewMemoryInputs): tf.Tensor4D {
    assertShape('objectScoreLogits', objectScoreLogits.shape, [highResMasks.shape[0], 1]);
    return tf.tidy(() => {
      const binarize = isMaskFromPts && this.cfg.binarize_mask_from_pts_for_mem_enc;
      const [scale, bias] = [this.cfg.sigmoid_scale_for_mem_enc, this.cfg.sigmoid_bias_for_mem_enc];
      // On WebGPU each chain is one program (ops/webgpu/elementwise.ts) with the composition's formulas.
      const maskForMem = (fusedKernelsOn()
        ? fusedElementwise(`${binarize ? 'select(0.0, 1.0, v0 > 0.0)' : wgslSigmoid('v0')} * ${wgslFloat(scale)} + ${wgslFloat(bias)}`, highResMasks.shape, [[highResMasks, 'full']])
        : tf.add(tf.mul(binarize ? tf.cast(tf.greater(highResMasks, 0), 'float32') : tf.sigmoid(highResMasks), scale), bias)) as tf.Tensor4D;
      const features = this.fuse(pixFeat, maskForMem, true);
      if (!this.noObjEmbedSpatial) return features;
      if (fusedKernelsOn()) {
        return fusedElementwise('v0 + select(0.0, 1.0, v1 <= 0.0) * v2', features.shape,
          [[features, 'full'], [objectScoreLogits, 'row'], [this.noObjEmbedSpatial, 'channel']]) as tf.Tensor4D;
      }
      const absent = tf.reshape(tf.cast(tf.lessEqual(objectScoreLogits, 0), 'float32'), [-1, 1, 1, 1]);
      const embed = tf.reshape(this.noObjEmbedSpatial, [1, 1, 1, this.memDim]);
      return tf.add(features, tf.mul(absent, embed)) as tf.Tensor4D;
    });
  }

  /** The memory map: downsampled mask + projected features, through the fuser and out_proj. */
  // pixFeat [B or 1, h, w, C], masks [B, S, S, 1] → [B, h, w, memDim]
  private fuse(pixFeat: tf.Tensor4D, masks: tf.Tensor4D, skipMaskSigmoid: boolean): tf.Tensor4D {
    const [pixBatch, h, w] = pixFeat.shape;
    const batch = masks.shape[0];
    assertShape('memory encoder pixFeat', pixFeat.shape, [pixBatch === 1 ? 1 : batch, -1, -1, this.cfg.memory_encoder.in_dim]);
    assertShape('memory encoder masks', masks.shape, [-1, -1, -1, 1]);
    return tf.tidy(() => {
      const maskFeatures = this.maskDownsampler.call(skipMaskSigmoid ? masks : tf.sigmoid(masks));
      assertShape('downsampled masks', maskFeatures.shape, [batch, h, w, -1]);
      let x = tf.add(this.pixFeatProj.call(pixFeat), maskFeatures) as tf.Tensor4D;
      if (this.fuserProj) x = this.fuserProj.call(x);
      for (const block of this.fuser) x = block.call(x);
      return this.outProj ? this.outProj.call(x) : x;
    });
  }

  /** The sine position encoding of a memory map, one copy per row. */
  // features [B, h, w, memDim] → [B, h, w, memDim]
  private positionEncoding(features: tf.Tensor4D): tf.Tensor4D {
    const [batch, h, w] = features.shape;
    return tf.tidy(() => repeatRows(sinePositionEncoding(this.cfg.memory_encoder.position_encoding, h, w), batch));
  }
}

/**
 * Rounds float32 values to the nearest bfloat16 (ties to even), kept as float32: what PyTorch's
 * `.to(torch.bfloat16)` stores. NaN and ±Infinity pass through unchanged. On the float's bits: one program on
 * the device on WebGPU (nothing read back), through host memory elsewhere.
 */
// [...] → [...]
export function roundToBfloat16(t: tf.Tensor): tf.Tensor {
  if (tf.getBackend() === 'webgpu') return roundToBfloat16OnDevice(t);
  const values = hostCopy(t) as Float32Array;
  const bits = new Uint32Array(values.buffer);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000) continue; // NaN or Inf
    bits[i] = ((b + 0x7fff + ((b >>> 16) & 1)) & 0xffff0000) >>> 0;
  }
  return tf.tensor(values, t.shape, 'float32');
}
