/**
 * SAM 2's image encoder: Hiera trunk → FPN neck, minus the `scalp` coarsest levels. The mask decoder's
 * conv_s0/conv_s1 projections of the two finest levels are not applied here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ImageEncoderConfig } from '../config.js';
import { ConfigError, assertShape } from '../errors.js';
import { FpnNeck } from './fpn-neck.js';
import { Hiera, type HieraOptions } from './hiera.js';
import type { WeightScope } from './weights.js';

export interface ImageEncoderOutput {
  /** FPN levels after scalp, highest resolution first; the last is the image embedding. [B, h_i, w_i, d_model] */
  backboneFpn: tf.Tensor4D[];
  /** Their sine position encodings, same order. [B, h_i, w_i, d_model] */
  visionPosEnc: tf.Tensor4D[];
}

export class ImageEncoder {
  readonly trunk: Hiera;
  readonly neck: FpnNeck;

  constructor(weights: WeightScope, readonly cfg: ImageEncoderConfig, options: HieraOptions = {}) {
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

  /** Makes once what every image of side `side` shares (the trunk's position embedding). */
  prepare(side: number): void {
    this.trunk.prepare(side);
  }

  // image [B, S, S, 3] (NHWC, ImageNet-normalised) → ImageEncoderOutput
  call(image: tf.Tensor4D): ImageEncoderOutput {
    assertShape('image encoder input', image.shape, [-1, -1, -1, 3]);
    return tf.tidy(() => {
      const { features, pos } = this.neck.call(this.trunk.call(image));
      const keep = features.length - this.cfg.scalp;
      return { backboneFpn: features.slice(0, keep), visionPosEnc: pos.slice(0, keep) };
    });
  }
}
