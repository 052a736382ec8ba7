/**
 * Hiera's window partition and its inverse. On WebGPU one program each (ops/webgpu/window-partition.ts);
 * elsewhere the compositions below, which are also their reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { fusedKernelsOn } from './webgpu/fused.js';
import { fusedWindowPartition, fusedWindowUnpartition, type WindowGrid } from './webgpu/window-partition.js';

/** Window geometry of one attention call: windows of wh×ww tokens tiling the zero-padded map. */
export interface Windows {
  batch: number;
  wh: number;
  ww: number;
  /** Windows per column / row. */
  ny: number;
  nx: number;
}

/**
 * Zero-pads to whole windows and orders tokens window-position-major: token (i, j) of window n is row
 * (i·ww + j)·N + n. A linear layer acts per token, so it commutes with this reordering. Done as two
 * rank-4 transposes that keep channels innermost: the cheap kind on wasm (one rank-5 transpose costs ~50×).
 */
// [B, H, W, C] → [wh·ww, B·ny·nx, C]
export function partitionWindows(x: tf.Tensor4D, win: Windows): tf.Tensor3D {
  const [b, h, w, c] = x.shape;
  const { wh, ww, ny, nx } = win;
  if (fusedKernelsOn()) return fusedWindowPartition(x, { batch: b, h, w, c, wh, ww, ny, nx });
  return tf.tidy(() => {
    const padded = ny * wh > h || nx * ww > w ? tf.pad(x, [[0, 0], [0, ny * wh - h], [0, nx * ww - w], [0, 0]]) : x;
    const rowsFirst = tf.transpose(tf.reshape(padded, [b * ny, wh, nx, ww * c]), [1, 0, 2, 3]);
    const tokens = tf.transpose(tf.reshape(rowsFirst, [wh, b * ny * nx, ww, c]), [0, 2, 1, 3]);
    return tf.reshape(tokens, [wh * ww, b * ny * nx, c]) as tf.Tensor3D;
  });
}

/** Inverse of `partitionWindows` (for windows of wh×ww tokens), cropped to h×w, plus `residual` if given. */
// tokens [wh·ww, B·ny·nx, C], residual [B, h, w, C] → [B, h, w, C]
export function unpartitionWindows(tokens: tf.Tensor3D, win: Windows, h: number, w: number, residual?: tf.Tensor4D): tf.Tensor4D {
  const { batch, wh, ww, ny, nx } = win;
  if (ny * wh < h || nx * ww < w) throw new ShapeError(`Hiera: ${ny}×${nx} windows of ${wh}×${ww} do not cover a ${h}×${w} map`);
  const c = tokens.shape[2];
  if (fusedKernelsOn()) return fusedWindowUnpartition(tokens, { batch, h, w, c, wh, ww, ny, nx } satisfies WindowGrid, residual);
  return tf.tidy(() => {
    const rowMajor = tf.transpose(tf.reshape(tokens, [wh, ww, batch * ny * nx, c]), [0, 2, 1, 3]);
    const image = tf.transpose(tf.reshape(rowMajor, [wh, batch * ny, nx, ww * c]), [1, 0, 2, 3]);
    const grid = tf.reshape(image, [batch, ny * wh, nx * ww, c]) as tf.Tensor4D;
    const map = ny * wh > h || nx * ww > w ? tf.slice(grid, [0, 0, 0, 0], [batch, h, w, c]) : grid;
    return residual ? tf.add(residual, map) : map;
  });
}
