/**
 * Axial 2-D rotary position encoding (RoPE) of SAM 2's memory attention.
 *
 * Each head's channels are read as d/2 complex pairs (x[2j], x[2j+1]). The first d/4 pairs turn with the
 * token's column, the last d/4 with its row, at frequencies θ^(-4j/d). Tokens are row-major (y·W + x).
 * The complex product is written out as real ops on the two halves of each pair.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';
import { fusedRotaryLinear } from '../ops/webgpu/rope.js';
import type { WeightStore } from './weights.js';

/** cos and sin of every token's angles, row-major tokens, x angles then y angles. */
export interface RopeTable {
  /** [endX·endY, headDim/2] */
  cos: Float32Array;
  /** [endX·endY, headDim/2] */
  sin: Float32Array;
  length: number;
  halfDim: number;
}

/**
 * The angle table for a endX × endY grid, rounded at each step to float32 as the reference computes it
 * (frequencies, then position × frequency, then cos/sin), so it matches to a few ulp.
 */
export function axialRopeTable(headDim: number, endX: number, endY: number, theta: number): RopeTable {
  if (headDim % 4 !== 0) throw new ShapeError(`axial RoPE needs a head dim divisible by 4, found ${headDim}`);
  const quarter = headDim / 4;
  const halfDim = headDim / 2;
  const freqs = Array.from({ length: quarter }, (_, j) =>
    Math.fround(1 / Math.fround(theta ** Math.fround((4 * j) / headDim))));
  const length = endX * endY;
  const cos = new Float32Array(length * halfDim);
  const sin = new Float32Array(length * halfDim);
  for (let t = 0; t < length; t++) {
    const coords = [t % endX, Math.floor(t / endX)];
    coords.forEach((pos, axis) => {
      freqs.forEach((f, j) => {
        const angle = Math.fround(pos * f);
        const at = t * halfDim + axis * quarter + j;
        cos[at] = Math.cos(angle);
        sin[at] = Math.sin(angle);
      });
    });
  }
  return { cos, sin, length, halfDim };
}

/**
 * Rotates token sequences by their grid position, for `numHeads` heads of `headDim` channels.
 *
 * For a pair (x0, x1) the rotation is (x0·c − x1·s, x0·s + x1·c) = x ⊙ (c, c) + swap(x) ⊙ (−s, s), with
 * swap(x) = (x1, x0). Callers pass swap(x) alongside x (a projection computes it directly with its weight
 * columns swapped, see `pairSwap`), so rotating is three elementwise ops on contiguous tensors instead of
 * strided slices of the pair halves.
 *
 * Tables are built for the sequence being rotated: the configured grid when its size matches, otherwise
 * a square grid of side √length (the reference recomputes its table the same way when the length changes).
 */
export class AxialRope {
  private readonly factors = new Map<number, { cos: Float32Array; sin: Float32Array }>();
  /** The configured grid's factors as tensors, owned by the model's store (absent without one). */
  private readonly gridTensors: { cos: tf.Tensor2D; sin: tf.Tensor2D } | null = null;

  readonly headDim: number;
  readonly numHeads: number;
  readonly theta: number;
  readonly featSizes: readonly [number, number];

  /**
   * With `store`, the configured grid's cos/sin factors are made once as tensors the model owns, shared by
   * every layer of this shape (at 1024 px SAM 2.1 tiny's are 8 MB, which would otherwise be uploaded on
   * each of a frame's 16 rotations); other grid lengths are uploaded for the call.
   */
  constructor(options: { headDim: number; numHeads: number; theta: number; featSizes: readonly [number, number] }, store?: WeightStore) {
    ({ headDim: this.headDim, numHeads: this.numHeads, theta: this.theta, featSizes: this.featSizes } = options);
    if (store) {
      const length = this.featSizes[0] * this.featSizes[1];
      const key = `rope ${this.numHeads}×${this.headDim} θ=${this.theta} ${this.featSizes.join('×')}`;
      const channels = this.numHeads * this.headDim;
      // Computed only by the first layer of this shape, and not kept on the host once uploaded.
      let host: { cos: Float32Array; sin: Float32Array } | undefined;
      const factors = () => (host ??= this.computeFactors(length));
      this.gridTensors = {
        cos: store.constant(`${key} cos`, () => tf.tensor2d(factors().cos, [length, channels])),
        sin: store.constant(`${key} sin`, () => tf.tensor2d(factors().sin, [length, channels])),
      };
    }
  }

  /** The angle table for a grid of `length` tokens. */
  table(length: number): RopeTable {
    const [w, h] = this.featSizes;
    if (w * h === length) return axialRopeTable(this.headDim, w, h, this.theta);
    const side = Math.round(Math.sqrt(length));
    if (side * side !== length) {
      throw new ShapeError(`RoPE: ${length} tokens are neither the configured ${w}×${h} grid nor a square grid`);
    }
    return axialRopeTable(this.headDim, side, side, this.theta);
  }

  /** Per-channel factors (c, c) and (−s, s) for every pair of every head. [length, H·d] each */
  private computeFactors(length: number): { cos: Float32Array; sin: Float32Array } {
    const { cos, sin, halfDim } = this.table(length);
    const channels = this.numHeads * this.headDim;
    const f = { cos: new Float32Array(length * channels), sin: new Float32Array(length * channels) };
    for (let t = 0; t < length; t++) {
      for (let c = 0; c < channels; c += 2) {
        const at = t * halfDim + (c % this.headDim) / 2;
        f.cos[t * channels + c] = f.cos[t * channels + c + 1] = cos[at];
        f.sin[t * channels + c] = -sin[at];
        f.sin[t * channels + c + 1] = sin[at];
      }
    }
    return f;
  }

  /** `computeFactors`, kept per length for the grids uploaded on every call. */
  private channelFactors(length: number): { cos: Float32Array; sin: Float32Array } {
    let f = this.factors.get(length);
    if (!f) {
      f = this.computeFactors(length);
      this.factors.set(length, f);
    }
    return f;
  }

  /**
   * `fn` of the factors for grids of `length` tokens as tensors [length, H·d]: the store's for the configured
   * grid, else uploaded for the call (and freed after it).
   */
  private withFactors<T extends tf.Tensor>(length: number, fn: (cos: tf.Tensor2D, sin: tf.Tensor2D) => T): T {
    const grid = this.gridTensors;
    if (grid && grid.cos.shape[0] === length) return tf.tidy(() => fn(grid.cos, grid.sin));
    const channels = this.numHeads * this.headDim;
    const { cos, sin } = this.channelFactors(length);
    return tf.tidy(() => fn(tf.tensor2d(cos, [length, channels]), tf.tensor2d(sin, [length, channels])));
  }

  /**
   * Rotates `x`, whose tokens are `gridLength`-token grids laid end to end (one grid for queries, one per
   * memory frame for keys: every frame repeats the same positions). `swapped` is `x` with each pair swapped.
   */
  // x, swapped [B, r·gridLength, H·d] → [B, r·gridLength, H·d]
  rotate(x: tf.Tensor3D, swapped: tf.Tensor3D, gridLength: number): tf.Tensor3D {
    const [batch, length, channels] = x.shape;
    this.checkShape(channels, length, gridLength);
    return this.withFactors(gridLength, (cos, sin) => {
      const grids = [batch * (length / gridLength), gridLength, channels];
      const rotated = tf.add(tf.mul(tf.reshape(x, grids), cos), tf.mul(tf.reshape(swapped, grids), sin));
      return tf.reshape(rotated, [batch, length, channels]) as tf.Tensor3D;
    });
  }

  /**
   * x · w + b, then `rotate` for its first `numRotated` tokens of every item (whole grids), the others kept:
   * one WebGPU kernel whose rotation reads swap(x) in place (ops/webgpu/rope.ts; webgpu backend only).
   */
  // x [B, N, in], w [in, H·d], b [H·d] → [B, N, H·d]
  projectRotated(x: tf.Tensor3D, w: tf.Tensor2D, b: tf.Tensor1D | null, gridLength: number, numRotated: number): tf.Tensor3D {
    this.checkShape(w.shape[1], numRotated, gridLength);
    return this.withFactors(gridLength, (cos, sin) => fusedRotaryLinear(x, w, b, cos, sin, numRotated));
  }

  private checkShape(channels: number, length: number, gridLength: number): void {
    if (channels !== this.numHeads * this.headDim) {
      throw new ShapeError(`RoPE: ${channels} channels, expected ${this.numHeads}×${this.headDim}`);
    }
    if (length % gridLength !== 0) {
      throw new ShapeError(`RoPE: ${length} tokens are not whole grids of ${gridLength} tokens`);
    }
  }
}

/** Channel order that swaps the two halves of every pair: [1, 0, 3, 2, ...]. */
export function pairSwap(channels: number): number[] {
  return Array.from({ length: channels }, (_, c) => c ^ 1);
}
