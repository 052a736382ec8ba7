/**
 * Turns per-item memory selections (spatial memories with their temporal slot, object pointers with their
 * temporal distance) into the padded, batched key/value sequences that memory attention reads.
 * An "item" is one row of the batch: an object in greedy SAM 2, an (object, path) pair in SAM2Long.
 *
 * Layout of one row (N = maxFrames·HW + maxPointers·tokensPerPointer):
 *   [frame 0 tokens (HW) | frame 1 | ... | padding frames | pointer 0 tokens | pointer 1 | ... | padding pointers]
 * Padding is whole frames / whole pointers, so the RoPE frame repeat still lines up and `keyValid` masks it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Sam2ModelConfig } from '../config.js';
import { derivedSizes } from '../config.js';
import { InputError } from '../errors.js';
import { Linear } from './common.js';
import type { WeightScope } from './weights.js';

export interface MemoryFrameRef {
  /** Stored memory features of one frame (bf16-rounded values). [HW, memDim] */
  features: tf.Tensor2D;
  /** SAM 2's t_pos: 0 for conditioning frames, 1..num_maskmem-1 for recent frames (most recent = num_maskmem-1). */
  tpos: number;
  /** SAM2Long key weight (multiplies the key input tokens); 1 when absent. */
  keyWeight?: number;
}

export interface PointerRef {
  /** Object pointer of one frame. [C] */
  pointer: tf.Tensor1D;
  /** Temporal distance fed to the sine encoding (signed or not, as the caller decided). */
  tdiff: number;
  keyWeight?: number;
}

export interface ItemMemory {
  frames: MemoryFrameRef[];
  pointers: PointerRef[];
}

export interface MemoryBatch {
  /** [B, N, memDim] */
  memory: tf.Tensor3D;
  /** [B, N, memDim] */
  memoryPos: tf.Tensor3D;
  numObjPtrTokens: number;
  /** [B, N] 1 = real token, 0 = padding; null when no row is padded. */
  keyValid: tf.Tensor2D | null;
  /** [B, N] per-token key weights; null when every weight is 1. */
  keyWeights: tf.Tensor2D | null;
}

/** Sine encoding of scalar positions as in the Transformer paper: [sin(p/θ_i)…, cos(p/θ_i)…]. */
// positions [n] → [n, dim]
export function sinePositions1d(positions: number[], dim: number, temperature = 10000): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(positions.length * dim);
  for (let i = 0; i < half; i++) {
    const freq = Math.fround(temperature ** Math.fround((2 * Math.floor(i / 2)) / half));
    positions.forEach((p, n) => {
      const x = Math.fround(Math.fround(p) / freq);
      out[n * dim + i] = Math.sin(x);
      out[n * dim + half + i] = Math.cos(x);
    });
  }
  return tf.tensor2d(out, [positions.length, dim]);
}

export class MemoryPrompt {
  /** [num_maskmem, memDim] */
  readonly maskmemTposEnc: tf.Tensor2D;
  readonly objPtrTposProj: Linear | null;
  private readonly memDim: number;
  private readonly hiddenDim: number;
  private readonly tokensPerPointer: number;

  constructor(weights: WeightScope, private readonly cfg: Sam2ModelConfig) {
    const sizes = derivedSizes(cfg);
    this.memDim = sizes.memDim;
    this.hiddenDim = sizes.hiddenDim;
    this.tokensPerPointer = sizes.tokensPerPointer;
    this.maskmemTposEnc = tf.reshape(weights.tensor('maskmem_tpos_enc', [cfg.num_maskmem, 1, 1, this.memDim]), [cfg.num_maskmem, this.memDim]);
    weights.store.own(this.maskmemTposEnc);
    this.objPtrTposProj = cfg.proj_tpos_enc_in_obj_ptrs ? new Linear(weights, { name: 'obj_ptr_tpos_proj', inDim: this.hiddenDim, outDim: this.memDim }) : null;
  }

  /** Temporal encodings of pointers at distances `tdiffs`, normalised by the largest distance in use. */
  // → [n, memDim]
  pointerPositions(tdiffs: number[], maxObjPtrs: number): tf.Tensor2D {
    return tf.tidy(() => {
      if (!this.cfg.add_tpos_enc_to_obj_ptrs) return tf.zeros([tdiffs.length, this.memDim]);
      const tdiffMax = maxObjPtrs - 1;
      const dim = this.objPtrTposProj ? this.hiddenDim : this.memDim;
      const pe = sinePositions1d(tdiffs.map((t) => Math.fround(t / tdiffMax)), dim);
      return (this.objPtrTposProj ? this.objPtrTposProj.call(pe) : pe) as tf.Tensor2D;
    });
  }

  /** Memory tokens per row of the batch `build` makes for `items`, with `hw` tokens per frame. */
  tokens(items: ItemMemory[], hw: number): number {
    const most = (count: (m: ItemMemory) => number) => Math.max(...items.map(count));
    return most((m) => m.frames.length) * hw + most((m) => m.pointers.length) * this.tokensPerPointer;
  }

  /** The position encoding of a memory frame at each t_pos: the spatial encoding plus maskmem_tpos_enc. */
  // maskmemPosEnc [HW, memDim] → num_maskmem × [HW, memDim] (index t_pos)
  framePositions(maskmemPosEnc: tf.Tensor2D): tf.Tensor2D[] {
    return Array.from({ length: this.cfg.num_maskmem }, (_, tpos) => tf.tidy(() =>
      tf.add(maskmemPosEnc, tf.slice(this.maskmemTposEnc, [this.cfg.num_maskmem - tpos - 1, 0], [1, this.memDim])) as tf.Tensor2D));
  }

  /**
   * Batches the memories of `items` with padding. `framePositions` are the `framePositions` of the spatial
   * encoding every memory frame shares; `maxObjPtrs` = min(num_frames, max_obj_ptrs_in_encoder).
   */
  build(items: ItemMemory[], framePositions: readonly tf.Tensor2D[], maxObjPtrs: number): MemoryBatch {
    const hw = framePositions[0].shape[0];
    const maxPointers = Math.max(...items.map((m) => m.pointers.length));
    const t = tf.tidy(() => {
      const tpp = this.tokensPerPointer;
      const maxFrames = Math.max(...items.map((m) => m.frames.length));
      const padded = items.some((m) => m.frames.length < maxFrames || m.pointers.length < maxPointers);
      const weighted = items.some((m) => [...m.frames, ...m.pointers].some((r) => (r.keyWeight ?? 1) !== 1));
      const n = maxFrames * hw + maxPointers * tpp;
      const memParts: tf.Tensor2D[] = [];
      const posParts: tf.Tensor2D[] = [];
      for (const item of items) this.appendRow(item, framePositions, maxObjPtrs, maxFrames, maxPointers, memParts, posParts);
      // Every row is n tokens long, so the rows are one concatenation (no per-row copy, then a stack).
      const rows = (parts: tf.Tensor2D[]) => tf.reshape(tf.concat(parts, 0), [items.length, n, this.memDim]) as tf.Tensor3D;
      // One value per token: each frame's (or pointer's) value over its hw (or tpp) tokens, row after row.
      const tokenTable = (value: (item: ItemMemory, r: MemoryFrameRef | PointerRef | undefined) => number) => {
        const table = new Float32Array(items.length * n);
        items.forEach((item, i) => {
          let at = i * n;
          for (let f = 0; f < maxFrames; f++, at += hw) table.fill(value(item, item.frames[f]), at, at + hw);
          for (let p = 0; p < maxPointers; p++, at += tpp) table.fill(value(item, item.pointers[p]), at, at + tpp);
        });
        return tf.tensor2d(table, [items.length, n]);
      };
      return {
        memory: rows(memParts),
        memoryPos: rows(posParts),
        ...(padded ? { keyValid: tokenTable((_, r) => (r ? 1 : 0)) } : {}),
        ...(weighted ? { keyWeights: tokenTable((_, r) => r?.keyWeight ?? 1) } : {}),
      };
    }) as { memory: tf.Tensor3D; memoryPos: tf.Tensor3D; keyValid?: tf.Tensor2D; keyWeights?: tf.Tensor2D };
    return { ...t, keyValid: t.keyValid ?? null, keyWeights: t.keyWeights ?? null, numObjPtrTokens: maxPointers * this.tokensPerPointer };
  }

  /** Appends one row's memory and position parts ([tokens, memDim] each, n tokens in all) to the lists. */
  private appendRow(item: ItemMemory, framePositions: readonly tf.Tensor2D[], maxObjPtrs: number, maxFrames: number, maxPointers: number,
    memParts: tf.Tensor2D[], posParts: tf.Tensor2D[]): void {
    const hw = framePositions[0].shape[0];
    const tpp = this.tokensPerPointer;
    for (const f of item.frames) {
      if (!Number.isInteger(f.tpos) || !framePositions[f.tpos]) {
        throw new InputError(`memory frame t_pos ${f.tpos} is not in 0..${framePositions.length - 1}`);
      }
      memParts.push(f.features);
      posParts.push(framePositions[f.tpos]);
    }
    const padFrames = maxFrames - item.frames.length;
    if (padFrames > 0) {
      memParts.push(tf.zeros([padFrames * hw, this.memDim]));
      posParts.push(tf.zeros([padFrames * hw, this.memDim]));
    }
    if (item.pointers.length) {
      // A pointer of C channels becomes C/memDim consecutive tokens; its position repeats for each.
      const ptrs = tf.reshape(tf.stack(item.pointers.map((p) => p.pointer)), [item.pointers.length * tpp, this.memDim]) as tf.Tensor2D;
      memParts.push(ptrs);
      const pos = this.pointerPositions(item.pointers.map((p) => p.tdiff), maxObjPtrs);
      posParts.push(tf.reshape(tf.tile(tf.expandDims(pos, 1), [1, tpp, 1]), [item.pointers.length * tpp, this.memDim]) as tf.Tensor2D);
    }
    const padPointers = maxPointers - item.pointers.length;
    if (padPointers > 0) {
      memParts.push(tf.zeros([padPointers * tpp, this.memDim]));
      posParts.push(tf.zeros([padPointers * tpp, this.memDim]));
    }
  }
}
