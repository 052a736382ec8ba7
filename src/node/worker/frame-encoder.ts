/**
 * The part of SAM 2 that turns an image into FrameFeatures (image encoder + the mask decoder's conv_s0/conv_s1),
 * built from its own checkpoint keys only: what the encoder worker holds.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Sam2ModelConfig } from '../../config.js';
import { ImageEncoder } from '../../model/image-encoder.js';
import { MaskDecoder, maskDecoderSettings } from '../../model/mask-decoder.js';
import { encodeFrame, type FrameFeatures } from '../../model/sam2.js';
import { WeightStore, type HostArray } from '../../model/weights.js';

/** The checkpoint keys a FrameEncoder reads (the whole decoder is built so every key it sends is checked). */
export const FRAME_ENCODER_PREFIXES = ['image_encoder.', 'sam_mask_decoder.'] as const;

export class FrameEncoder {
  private constructor(
    private readonly imageEncoder: ImageEncoder,
    private readonly maskDecoder: MaskDecoder,
    private readonly store: WeightStore,
  ) {}

  /** Throws CheckpointKeyError when `stateDict` is not exactly the FRAME_ENCODER_PREFIXES keys of `config`. */
  static fromStateDict(config: Sam2ModelConfig, stateDict: ReadonlyMap<string, HostArray>): FrameEncoder {
    const store = new WeightStore(stateDict);
    const root = store.scope('');
    const encoder = new FrameEncoder(
      new ImageEncoder(root.scope('image_encoder'), config.image_encoder),
      new MaskDecoder(root.scope('sam_mask_decoder'), maskDecoderSettings(config)),
      store,
    );
    store.finish('encoder worker weights');
    encoder.imageEncoder.prepare(config.image_size);
    return encoder;
  }

  // image [1, S, S, 3] (ImageNet-normalised) → FrameFeatures
  call(image: tf.Tensor4D): FrameFeatures {
    return encodeFrame(this.imageEncoder, this.maskDecoder, image);
  }

  dispose(): void {
    this.store.dispose();
  }
}
