/**
 * The sine position encoding of DETR as SAM 2 uses it (PositionEmbeddingSine): the first half of the
 * channels encode the row, the second half the column, as alternating sin/cos of the (normalised)
 * 1-based position over a geometric ladder of frequencies.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PositionEncodingConfig } from '../config.js';
import { ConfigError, InputError } from '../errors.js';
import { broadcastByAdd } from '../ops/layout.js';

const f32 = Math.fround;
/** Keeps the normalisation finite; it is below float32 resolution for any real map size. */
const NORMALIZE_EPS = 1e-6;

/**
 * The encoding of positions 1..size along one axis: row p holds sin/cos of the position over each
 * frequency, as float32 does it (the reference computes in float32; rounding each step keeps us on it).
 */
// → [size, numPosFeats / 2]
function axisTable(cfg: PositionEncodingConfig, size: number): Float32Array {
  const half = cfg.num_pos_feats / 2;
  const scale = cfg.scale ?? 2 * Math.PI;
  const divisors = Array.from({ length: half }, (_, i) => f32(cfg.temperature ** f32(f32(2 * Math.floor(i / 2)) / half)));
  const table = new Float32Array(size * half);
  const last = f32(size + NORMALIZE_EPS);
  for (let p = 0; p < size; p++) {
    const position = cfg.normalize ? f32(f32(f32(p + 1) / last) * f32(scale)) : p + 1;
    for (let i = 0; i < half; i++) {
      const angle = f32(position / divisors[i]);
      table[p * half + i] = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return table;
}

/** PositionEmbeddingSine for an h×w map: channels [0, C/2) encode y, [C/2, C) encode x. */
// → [1, h, w, C]
export function sinePositionEncoding(cfg: PositionEncodingConfig, h: number, w: number): tf.Tensor4D {
  if (cfg.num_pos_feats % 2 !== 0) throw new ConfigError(`position encoding num_pos_feats must be even, found ${cfg.num_pos_feats}`);
  if (cfg.scale != null && !cfg.normalize) throw new ConfigError('position encoding: a scale needs normalize: true');
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw new InputError(`position encoding size must be positive integers, found ${h}×${w}`);
  const half = cfg.num_pos_feats / 2;
  return tf.tidy(() => {
    const rows = tf.tensor4d(axisTable(cfg, h), [1, h, 1, half]);
    const cols = tf.tensor4d(axisTable(cfg, w), [1, 1, w, half]);
    return tf.concat([broadcastByAdd(rows, [1, h, w, half]), broadcastByAdd(cols, [1, h, w, half])], 3);
  });
}
