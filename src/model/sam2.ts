/**
 * SAM 2 wired together: encode an image once, then run prompt steps (conditioning frames) and tracking
 * steps (memory-conditioned) on a batch of items — objects in greedy SAM 2, objects × paths in SAM2Long.
 * No notion of videos, files or trees here: the caller chooses what each batch row remembers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { derivedSizes, type DerivedSizes, type Sam2ModelConfig } from '../config.js';
import { ImageEncoder } from './image-encoder.js';
import type { MaskDecoder } from './mask-decoder.js';
import { MemoryAttention } from './memory-attention.js';
import { MemoryEncoder, roundToBfloat16 } from './memory-encoder.js';
import { MemoryPrompt, type ItemMemory } from './memory-prompt.js';
import { SamHeads, useMaskAsOutput, type LowResHeadsOutput, type SamHeadsOutput } from './sam-heads.js';
import { sinePositionEncoding } from './position-encoding.js';
import type { PointPrompt, Prompts } from './prompt-encoder.js';
import type { MaskDecoderOutput } from './mask-decoder.js';
import { WeightStore, type HostArray } from './weights.js';
import { FLOAT_BYTES, mapRowChunks } from '../ops/row-chunks.js';
import { repeatRows } from '../ops/layout.js';
import { upsampleMasks } from '../ops/resize.js';

/** What the encoder gives for one frame (batch 1; shared by every row of a tracking step). */
export interface FrameFeatures {
  /** Lowest-resolution FPN level (stride 16). [1, h, w, C] */
  visionFeats: tf.Tensor4D;
  /** Its sine position encoding, the same for every frame (also where the features of a batch are). [1, h, w, C] */
  visionPos: tf.Tensor4D;
  /** conv_s0 / conv_s1 projections of the two finer levels. [[1, 4h, 4w, C/8], [1, 2h, 2w, C/4]] */
  highRes: [tf.Tensor4D, tf.Tensor4D];
}

export function disposeFeatures(f: FrameFeatures): void {
  tf.dispose([f.visionFeats, f.visionPos, ...f.highRes]);
}

/**
 * The image encoder, then the mask decoder's conv_s0/conv_s1 on the two finest FPN levels: all a frame needs
 * before tracking. Shared by Sam2Model and the encoder worker, so both compute exactly the same features.
 */
// image [1, S, S, 3] (ImageNet-normalised) → FrameFeatures
export function encodeFrame(encoder: ImageEncoder, decoder: MaskDecoder, image: tf.Tensor4D): FrameFeatures {
  return tf.tidy(() => {
    const { backboneFpn } = encoder.call(image, { positions: false });
    const last = backboneFpn.length - 1;
    const highRes = decoder.projectHighResFeatures(backboneFpn[0], backboneFpn[1]);
    const [, h, w] = backboneFpn[last].shape;
    return { visionFeats: backboneFpn[last], visionPos: encoder.embeddingPosition(h, w), highRes };
  });
}

export type { PointPrompt };

export interface Prompt {
  points?: PointPrompt;
  /** Mask logits fed to the prompt encoder (e.g. the previous prediction, clamped to ±32). [B, 4h, 4w, 1] */
  maskInputs?: tf.Tensor4D;
}

export interface StepOptions {
  multimask: boolean;
  /** Also return one hard-gated pointer per candidate mask (SAM2Long). */
  allPointers?: boolean;
  /** Also return the masks at the image size (default true); see trackStep. */
  highRes?: boolean;
}

export class Sam2Model {
  readonly sizes: DerivedSizes;
  readonly imageEncoder: ImageEncoder;
  readonly heads: SamHeads;
  readonly memoryAttention: MemoryAttention;
  readonly memoryEncoder: MemoryEncoder;
  readonly memoryPrompt: MemoryPrompt;
  /** [1, C] added to the features of a conditioning frame (directly_add_no_mem_embed). */
  readonly noMemEmbed: tf.Tensor2D;
  /** Position encoding of a memory frame at each t_pos (the spatial part is the same for every frame), made once. num_maskmem × [HW, memDim] */
  private readonly framePositions: tf.Tensor2D[];

  constructor(readonly config: Sam2ModelConfig, private readonly store: WeightStore) {
    this.sizes = derivedSizes(config);
    const root = store.scope('');
    this.imageEncoder = new ImageEncoder(root.scope('image_encoder'), config.image_encoder);
    this.heads = new SamHeads(root, config);
    this.memoryAttention = new MemoryAttention(root.scope('memory_attention'), config.memory_attention);
    this.memoryEncoder = new MemoryEncoder(root, config);
    this.memoryPrompt = new MemoryPrompt(root, config);
    this.noMemEmbed = tf.reshape(root.tensor('no_mem_embed', [1, 1, this.sizes.hiddenDim]), [1, this.sizes.hiddenDim]);
    store.own(this.noMemEmbed);
    // In every checkpoint, but read only without directly_add_no_mem_embed (a dummy memory token), which no official config uses.
    root.tensor('no_mem_pos_enc', [1, 1, this.sizes.hiddenDim]);
    // What depends on the configuration alone, made once.
    this.imageEncoder.prepare(config.image_size);
    const { embedSize: h, memDim } = this.sizes;
    const spatial = tf.tidy(() => tf.reshape(sinePositionEncoding(config.memory_encoder.position_encoding, h, h), [h * h, memDim]) as tf.Tensor2D);
    this.framePositions = this.memoryPrompt.framePositions(spatial).map((t) => store.own(t));
    spatial.dispose();
  }

  /** Builds the model from a state dict; throws CheckpointKeyError listing every key problem. */
  static fromStateDict(config: Sam2ModelConfig, stateDict: ReadonlyMap<string, HostArray>, context = 'checkpoint'): Sam2Model {
    const store = new WeightStore(stateDict);
    const model = new Sam2Model(config, store);
    store.finish(context);
    return model;
  }

  get numParameters(): number {
    return this.store.numParameters;
  }

  dispose(): void {
    this.store.dispose();
  }

  /** Image → features for the SAM heads and memory attention. */
  // image [1, S, S, 3] (ImageNet-normalised)
  encodeImage(image: tf.Tensor4D): FrameFeatures {
    return encodeFrame(this.imageEncoder, this.heads.maskDecoder, image);
  }

  /**
   * Several frames' features from one batched run of the encoder (it does not depend on memory). Each frame's
   * features equal its own encodeImage up to float rounding (a product over more rows may take another
   * program on WebGPU); on the CPU backends they are the same values.
   */
  // images [k, S, S, 3] (ImageNet-normalised) → k × FrameFeatures
  encodeImages(images: tf.Tensor4D): FrameFeatures[] {
    const all = this.encodeImage(images);
    const frame = <T extends tf.Tensor4D>(t: T, i: number) => tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1]) as T;
    const frames = Array.from({ length: images.shape[0] }, (_, i): FrameFeatures => ({
      visionFeats: frame(all.visionFeats, i),
      visionPos: tf.clone(all.visionPos),
      highRes: [frame(all.highRes[0], i), frame(all.highRes[1], i)],
    }));
    disposeFeatures(all);
    return frames;
  }

  /**
   * Bytes of the largest tensor the image encoder makes per frame (the first stage's MLP hidden layer, 4× its
   * width, at a quarter of the image side): what a batch of frames multiplies against the binding limit.
   */
  encoderBytesPerFrame(): number {
    const side = this.config.image_size / 4;
    return side * side * this.config.image_encoder.trunk.embed_dim * 4 * FLOAT_BYTES;
  }

  /**
   * A single image's features as SAM2ImagePredictor keeps them: encoded, with no_mem_embed added to the lowest
   * level once (directly_add_no_mem_embed), ready for any number of decodeImage calls.
   */
  // image [1, S, S, 3] (ImageNet-normalised)
  encodeSingleImage(image: tf.Tensor4D): FrameFeatures {
    const raw = this.encodeImage(image);
    const visionFeats = tf.tidy(() => this.addNoMemEmbed(raw.visionFeats));
    raw.visionFeats.dispose();
    return { ...raw, visionFeats };
  }

  /** Single-image decoding (SAM2ImagePredictor._predict): prompts → candidate masks and their IoUs, no memory. */
  // features from encodeSingleImage; points [1, N, 2], masks [1, 4h, 4w, 1] → masks [1, M, 4h, 4w], iouPred [1, M]
  decodeImage(features: FrameFeatures, prompt: Pick<Prompts, 'points' | 'masks'>, multimask: boolean): Pick<MaskDecoderOutput, 'masks' | 'iouPred'> {
    return tf.tidy(() => {
      const { promptEncoder, maskDecoder } = this.heads;
      const { sparse, dense } = promptEncoder.call(prompt);
      const { masks, iouPred } = maskDecoder.call({
        imageEmbeddings: features.visionFeats,
        imagePe: promptEncoder.densePe(),
        sparse,
        dense,
        multimaskOutput: multimask,
        highResFeatures: features.highRes,
      });
      return { masks, iouPred };
    });
  }

  /** The checkpoint arrays under the given key prefixes (an encoder worker builds its own copy from them). */
  hostWeights(prefixes: readonly string[]): Map<string, HostArray> {
    return this.store.entries(prefixes);
  }

  /**
   * Whether a step decodes several candidate masks (SAM2Base._use_multimask): on a prompt frame, or on a
   * tracked frame when multimask_output_for_tracking, and only for a point count in [min, max] (0 when tracking).
   */
  useMultimask(isInit: boolean, numPoints: number): boolean {
    const c = this.config;
    return c.multimask_output_in_sam && (isInit || c.multimask_output_for_tracking)
      && c.multimask_min_pt_num <= numPoints && numPoints <= c.multimask_max_pt_num;
  }

  /** A conditioning frame: no memory, only `no_mem_embed` added (directly_add_no_mem_embed). */
  promptStep(features: FrameFeatures, batch: number, prompt: Prompt, opts: StepOptions & { highRes: false }): LowResHeadsOutput;
  promptStep(features: FrameFeatures, batch: number, prompt: Prompt, opts: StepOptions): SamHeadsOutput;
  promptStep(features: FrameFeatures, batch: number, prompt: Prompt, opts: StepOptions): SamHeadsOutput | LowResHeadsOutput {
    return tf.tidy(() => {
      const pix = this.addNoMemEmbed(features.visionFeats);
      return this.heads.call({
        backboneFeatures: batch > 1 ? repeatRows(pix, batch) : pix,
        pointInputs: prompt.points,
        maskInputs: prompt.maskInputs,
        highResFeatures: features.highRes,
        multimaskOutput: opts.multimask,
      }, { allPointers: opts.allPointers, highRes: opts.highRes });
    });
  }

  /**
   * A tracking frame: each row attends to its own memory, then decodes (with prompts when correcting a tracked
   * frame). Rows run in groups when one batch would make a tensor over the backend's binding limit; the
   * outputs are the groups' rows concatenated. With `highRes: false` no image-size masks are made (pass the
   * low-res masks to encodeMemory), so any number of rows fits.
   */
  // memories: B rows → SamHeadsOutput with batch B (features are batch 1, shared)
  trackStep(features: FrameFeatures, memories: ItemMemory[], maxObjPtrs: number, opts: StepOptions & { highRes: false }, prompt?: Prompt): LowResHeadsOutput;
  trackStep(features: FrameFeatures, memories: ItemMemory[], maxObjPtrs: number, opts: StepOptions, prompt?: Prompt): SamHeadsOutput;
  trackStep(features: FrameFeatures, memories: ItemMemory[], maxObjPtrs: number, opts: StepOptions, prompt: Prompt = {}): SamHeadsOutput | LowResHeadsOutput {
    const { embedSize: h } = this.sizes;
    const rowBytes = Math.max(
      this.memoryAttention.rowBytes(h * h, this.memoryPrompt.tokens(memories, h * h)),
      this.heads.rowBytes(opts.multimask, opts.highRes ?? true),
    );
    return mapRowChunks(memories.length, rowBytes, ({ start, count, take }) => {
      const rowPrompt: Prompt = {
        points: prompt.points && { coords: take(prompt.points.coords), labels: take(prompt.points.labels) },
        maskInputs: prompt.maskInputs && take(prompt.maskInputs),
      };
      return this.trackRows(features, memories.slice(start, start + count), maxObjPtrs, opts, rowPrompt);
    });
  }

  /** trackStep on one group of rows. */
  // memories: b rows → SamHeadsOutput with batch b
  private trackRows(features: FrameFeatures, memories: ItemMemory[], maxObjPtrs: number, opts: StepOptions, prompt: Prompt): SamHeadsOutput | LowResHeadsOutput {
    return tf.tidy(() => {
      const b = memories.length;
      const { embedSize: h, hiddenDim: c } = this.sizes;
      const batch = this.memoryPrompt.build(memories, this.framePositions, maxObjPtrs);
      // Every row sees the same frame: memory attention broadcasts it.
      const conditioned = this.memoryAttention.call({
        curr: tf.reshape(features.visionFeats, [1, h * h, c]) as tf.Tensor3D,
        currPos: tf.reshape(features.visionPos, [1, h * h, c]) as tf.Tensor3D,
        memory: batch.memory,
        memoryPos: batch.memoryPos,
        numObjPtrTokens: batch.numObjPtrTokens,
        keyWeights: batch.keyWeights ?? undefined,
        keyValid: batch.keyValid ?? undefined,
      });
      return this.heads.call({
        backboneFeatures: tf.reshape(conditioned, [b, h, h, c]) as tf.Tensor4D,
        pointInputs: prompt.points,
        maskInputs: prompt.maskInputs,
        highResFeatures: features.highRes,
        multimaskOutput: opts.multimask,
      }, { allPointers: opts.allPointers, highRes: opts.highRes });
    });
  }

  /** A mask prompt used directly as the output (use_mask_input_as_output_without_sam). */
  // mask [B, S, S, 1] binary
  maskAsOutput(features: FrameFeatures, mask: tf.Tensor4D): SamHeadsOutput {
    return tf.tidy(() => {
      const b = mask.shape[0];
      return useMaskAsOutput(this.heads, {
        backboneFeatures: b > 1 ? repeatRows(features.visionFeats, b) : features.visionFeats,
        highResFeatures: features.highRes,
        maskInputs: mask,
      });
    });
  }

  /**
   * New memory features for each row from its mask logits, rounded to bfloat16 as the official predictor
   * stores them. Low-res masks (a tracking step's) are upsampled to the image size here, bilinearly as the
   * SAM heads do, so the values are the same; rows run in groups that keep every tensor under the binding limit.
   */
  // masks [B, S, S, 1] or [B, S/4, S/4, 1], objectScores [B, 1] → [B, HW, memDim]
  encodeMemory(features: FrameFeatures, masks: tf.Tensor4D, objectScores: tf.Tensor2D, fromPoints: boolean): tf.Tensor3D {
    return tf.tidy(() => {
      const b = masks.shape[0];
      const { embedSize: h, memDim } = this.sizes;
      const s = this.config.image_size;
      const mem = mapRowChunks(b, this.memoryEncoder.rowBytes(s, h, h), ({ take }) => {
        const rows = take(masks);
        return this.memoryEncoder.newMemoryFeatures({
          pixFeat: features.visionFeats, highResMasks: rows.shape[1] === s ? rows : upsampleMaskMap(rows, s),
          objectScoreLogits: take(objectScores), isMaskFromPts: fromPoints,
        });
      });
      return tf.reshape(roundToBfloat16(mem), [b, h * h, memDim]) as tf.Tensor3D;
    });
  }

  /** Features of a frame without memory: no_mem_embed added (directly_add_no_mem_embed). */
  // [1, h, w, C] → same
  private addNoMemEmbed(visionFeats: tf.Tensor4D): tf.Tensor4D {
    return tf.add(visionFeats, tf.reshape(this.noMemEmbed, [1, 1, 1, -1]));
  }

}

/** A one-channel NHWC mask map upsampled as SamHeads upsamples its masks (same values). */
// [B, h, w, 1] → [B, size, size, 1]
function upsampleMaskMap(masks: tf.Tensor4D, size: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w] = masks.shape;
    return tf.reshape(upsampleMasks(tf.reshape(masks, [b, 1, h, w]), size), [b, size, size, 1]);
  });
}
