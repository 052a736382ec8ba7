/**
 * SAM 2's image encoder: Hiera trunk → FPN neck, minus the `scalp` coarsest levels. The mask decoder's
 * conv_s0/conv_s1 projections of the two finest levels are not applied here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ImageEncoderConfig } from '../config.js';
import { ConfigError, assertShape } from '../errors.js';
import { FpnNeck } from './fpn-neck.js';
import { Hiera, type HieraOptions } from './hiera.js';
import { sinePositionEncoding } from './position-encoding.js';
import type { WeightScope, WeightStore } from './weights.js';

export interface ImageEncoderOutput {
  /** FPN levels after scalp, highest resolution first; the last is the image embedding. [B, h_i, w_i, d_model] */
  backboneFpn: tf.Tensor4D[];
  /** Their sine position encodings, same order (empty when not asked for). [B, h_i, w_i, d_model] */
  visionPosEnc: tf.Tensor4D[];
}

export class ImageEncoder {
  readonly trunk: Hiera;
  readonly neck: FpnNeck;
  /** The image embedding's position encoding at the prepared image side (`prepare`). [1, h, w, d_model] */
  private preparedEmbeddingPosition: tf.Tensor4D | null = null;
  private readonly store: WeightStore;

  constructor(weights: WeightScope, readonly cfg: ImageEncoderConfig, options: HieraOptions = {}) {
    this.store = weights.store;
    this.trunk = new Hiera(weights.scope('trunk'), cfg.trunk, options);
    this.neck = new FpnNeck(weights.scope('neck'), cfg.neck);
    const trunkChannels = this.trunk.channelList.join(', ');
    if (trunkChannels !== cfg.neck.backbone_channel_list.join(', ')) {
      throw new ConfigError(`image encoder: trunk channels [${trunkChannels}] do not match the neck's backbone_channel_list [${cfg.neck.backbone_channel_list.join(', ')}]`);
    }
    if (cfg.scalp < 0 || cfg.scalp >= this.trunk.outputBlocks.length) {
      throw new ConfigError(`image encoder: scalp ${cfg.scalp} leaves no level of ${this.trunk.outputBlocks.length}`);
    }
  }

  /**
   * Makes once what every image of side `side` shares: the trunk's position embedding and the image
   * embedding's position encoding (the one level of the neck's encodings that tracking reads).
   */
  prepare(side: number): void {
    this.trunk.prepare(side);
    const sides = this.trunk.outputSides(side);
    const h = sides[sides.length - 1 - this.cfg.scalp];
    this.preparedEmbeddingPosition = this.store.constant(`image embedding position ${h}×${h}`,
      () => sinePositionEncoding(this.cfg.neck.position_encoding, h, h));
  }

  /** The position encoding of an h × w image embedding, the same for every image (a fresh handle). */
  // → [1, h, w, d_model]
  embeddingPosition(h: number, w: number): tf.Tensor4D {
    const prepared = this.preparedEmbeddingPosition;
    if (prepared && prepared.shape[1] === h && prepared.shape[2] === w) return tf.clone(prepared);
    return sinePositionEncoding(this.cfg.neck.position_encoding, h, w);
  }

  /** With `positions: false` no position encodings are made (`visionPosEnc` is empty): see embeddingPosition. */
  // image [B, S, S, 3] (NHWC, ImageNet-normalised) → ImageEncoderOutput
  call(image: tf.Tensor4D, { positions = true } = {}): ImageEncoderOutput {
    assertShape('image encoder input', image.shape, [-1, -1, -1, 3]);
    return tf.tidy(() => {
      const { features, pos } = this.neck.call(this.trunk.call(image), { positions });
      const keep = features.length - this.cfg.scalp;
      return { backboneFpn: features.slice(0, keep), visionPosEnc: pos.slice(0, keep) };
    });
  }
}
