/**
 * SAM 2's FPN neck: a lateral convolution per trunk level to d_model, a top-down path (×2 upsampling
 * from the next coarser level, summed or averaged) on the configured levels only, and a sine position
 * encoding per output level.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FpnNeckConfig } from '../config.js';
import { ConfigError, ShapeError } from '../errors.js';
import { Conv2d } from './common.js';
import { sinePositionEncoding } from './position-encoding.js';
import type { WeightScope } from './weights.js';
import { broadcastByAdd } from '../ops/layout.js';

export interface FpnNeckOutput {
  /** One map per trunk level, highest resolution first. [B, h_i, w_i, d_model] */
  features: tf.Tensor4D[];
  /** Their position encodings, same order (none when not asked for). [B, h_i, w_i, d_model] */
  pos: tf.Tensor4D[];
}

/** ×2 upsampling as F.interpolate(scale_factor=2) does it: nearest (src = dst // 2) or bilinear, align_corners=False. */
// [B, h, w, C] → [B, 2h, 2w, C]
function upsample2x(x: tf.Tensor4D, mode: FpnNeckConfig['fpn_interp_model']): tf.Tensor4D {
  const [, h, w] = x.shape;
  return mode === 'nearest'
    ? tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w], false, false)
    : tf.image.resizeBilinear(x, [2 * h, 2 * w], false, true);
}

export class FpnNeck {
  /** Lateral convolutions; convs[j] reads trunk level n − j (convs[0] takes the coarsest). */
  readonly convs: Conv2d[];
  readonly topDownLevels: number[];

  constructor(weights: WeightScope, readonly cfg: FpnNeckConfig) {
    if (cfg.fuse_type !== 'sum' && cfg.fuse_type !== 'avg') throw new ConfigError(`FpnNeck: unknown fuse_type '${cfg.fuse_type}'`);
    if (cfg.fpn_interp_model !== 'nearest' && cfg.fpn_interp_model !== 'bilinear') {
      throw new ConfigError(`FpnNeck: unsupported fpn_interp_model '${cfg.fpn_interp_model}' (nearest or bilinear)`);
    }
    this.convs = cfg.backbone_channel_list.map((dim, j) =>
      new Conv2d(weights, { name: `convs.${j}.conv`, inDim: dim, outDim: cfg.d_model, kernel: cfg.kernel_size, stride: cfg.stride, padding: cfg.padding }));
    this.topDownLevels = cfg.fpn_top_down_levels ?? cfg.backbone_channel_list.map((_, i) => i);
  }

  /**
   * Trunk levels (highest resolution first) → fused maps and, with `positions`, their position encodings
   * (the same for every image: a caller that needs one level's makes it once, see ImageEncoder.prepare).
   */
  // xs[i] [B, h_i, w_i, C_i] → FpnNeckOutput
  call(xs: tf.Tensor4D[], { positions = true } = {}): FpnNeckOutput {
    const n = this.convs.length - 1;
    if (xs.length !== this.convs.length) throw new ShapeError(`FpnNeck: ${xs.length} trunk levels, expected ${this.convs.length}`);
    return tf.tidy(() => {
      const features: tf.Tensor4D[] = new Array(xs.length);
      const pos: tf.Tensor4D[] = positions ? new Array(xs.length) : [];
      let previous: tf.Tensor4D | null = null;
      for (let i = n; i >= 0; i--) {
        const lateral = this.convs[n - i].call(xs[i]);
        let out = lateral;
        if (previous && this.topDownLevels.includes(i)) {
          const fused = tf.add(lateral, upsample2x(previous, this.cfg.fpn_interp_model)) as tf.Tensor4D;
          out = this.cfg.fuse_type === 'avg' ? tf.div(fused, 2) : fused;
        }
        features[i] = previous = out;
        if (!positions) continue;
        const [batch, h, w, c] = out.shape;
        const encoding = sinePositionEncoding(this.cfg.position_encoding, h, w);
        pos[i] = batch === 1 ? encoding : broadcastByAdd(encoding, [batch, h, w, c]);
      }
      return { features, pos };
    });
  }
}
