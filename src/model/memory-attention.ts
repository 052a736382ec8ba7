/**
 * SAM 2's memory attention: the current frame's tokens attend to themselves, then to the memory bank
 * (spatial memories of past frames and object-pointer tokens), through layers of RoPE attention.
 *
 * Batch-first throughout. The memory sequence of one batch row is
 *   [frame tokens (whole frames of HW tokens, padding frames allowed) | pointer tokens (padding allowed)]
 * and the last `numObjPtrTokens` keys are the pointer block, which RoPE leaves alone. Padding tokens are
 * masked out with `keyValid`; because padding comes in whole frames, every frame block still lines up
 * with the repeated RoPE table. Rows of a batch can so carry different numbers of memory frames/pointers
 * (SAM2Long paths) in one call.
 *
 * Cost at the full model's size (4096 queries, 28,736 keys, C 256, mem_dim 64) is dominated by the score
 * product Q·Kᵀ and its softmax. Three exact rewrites keep the rest small:
 * - values carry no RoPE and softmax rows sum to 1 (masked keys get weight exactly 0), so
 *   A·(M·W_v + b_v) = (A·M)·W_v + b_v: attention runs on mem_dim-wide values and v_proj is applied to
 *   the HW attended rows instead of the Nmem memory rows (4× less work in A·V at full size);
 * - RoPE needs each channel pair swapped; the swap is folded into a pair-swapped copy of the q/k
 *   projection weights, so rotating is one more 2-D matMul and three elementwise ops (no strided slices);
 * - the SAM2Long key re-weighting and the pos encoding are applied once to the key inputs, shared by
 *   every layer.
 * Folding k_proj into the queries is not possible for frame keys: the RoPE rotation sits between k_proj
 * and the dot product and depends on the key's position. Only pointer keys could take it, too few to matter.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MemoryAttentionConfig, MemoryAttentionLayerConfig, RoPEAttentionConfig } from '../config.js';
import { assertShape, InputError, ShapeError } from '../errors.js';
import { LayerNorm, Linear, multiHeadAttention, type Activation, type LinearOptions } from './common.js';
import { AxialRope, pairSwap } from './rope.js';
import type { WeightScope } from './weights.js';
import { FLOAT_BYTES } from '../ops/row-chunks.js';
import { sliceAxis1 } from '../ops/take-rows.js';
import { fusedElementwise, type OperandAt } from '../ops/webgpu/elementwise.js';
import { fusedKernelsOn } from '../ops/webgpu/fused.js';
import { fusedLinear } from '../ops/webgpu/linear.js';

/** A score bias that takes a masked key's softmax weight to exactly 0 (exp underflows) and stays finite. */
const MASKED_KEY_BIAS = -1e30;

export interface RopeAttentionInputs {
  /** [B, Nq, C], or [1, Nq, C] when every row has the same queries */
  q: tf.Tensor3D;
  /** [B, Nk, kvInDim] */
  k: tf.Tensor3D;
  /** [B, Nk, kvInDim] */
  v: tf.Tensor3D;
  /** Trailing keys left unrotated (object-pointer tokens). */
  numKExcludeRope?: number;
  /** Additive score bias per key (0 or MASKED_KEY_BIAS). [B, Nk] */
  keyBias?: tf.Tensor2D;
  /** Added to the output (the layer's skip connection; by the output projection's kernel on WebGPU). [B, Nq, C] */
  residual?: tf.Tensor3D;
}

/**
 * A linear projection whose output is rotated by RoPE. The rotation needs every pair swapped as well;
 * a second copy of the weights with the pair columns exchanged gives it as one more plain matMul (on WebGPU
 * the fused rotation reads the swapped pair in place instead).
 */
export class RotaryProjection {
  readonly linear: Linear;
  /** [in, out], columns pair-swapped */
  private readonly swappedW: tf.Tensor2D;
  /** [out], pair-swapped */
  private readonly swappedB: tf.Tensor1D;

  readonly rope: AxialRope;

  constructor(weights: WeightScope, { rope, ...linear }: LinearOptions & { rope: AxialRope }) {
    const { outDim } = linear;
    this.rope = rope;
    this.linear = new Linear(weights, linear);
    const order = tf.tensor1d(pairSwap(outDim), 'int32');
    this.swappedW = weights.store.own(tf.gather(this.linear.w, order, 1));
    this.swappedB = weights.store.own(tf.gather(this.linear.b!, order));
    order.dispose();
  }

  /** Projects `x`; its first `numRotated` tokens (whole grids of `gridLength`) are rotated, the rest kept. */
  // x [B, N, in] → [B, N, out]
  call(x: tf.Tensor3D, gridLength: number, numRotated = x.shape[1]): tf.Tensor3D {
    // WebGPU: one kernel projects every token and rotates the leading ones (ops/webgpu/rope.ts).
    if (fusedKernelsOn()) return this.rope.projectRotated(x, this.linear.w, this.linear.b, gridLength, numRotated);
    return tf.tidy(() => {
      const [batch, n, inDim] = x.shape;
      const head = sliceAxis1(x, 0, numRotated);
      const swapped = tf.add(tf.matMul(tf.reshape(head, [-1, inDim]), this.swappedW), this.swappedB);
      const rotated = this.rope.rotate(this.linear.call(head) as tf.Tensor3D,
        tf.reshape(swapped, [batch, numRotated, -1]) as tf.Tensor3D, gridLength);
      if (numRotated === n) return rotated;
      const tail = this.linear.call(sliceAxis1(x, numRotated, n - numRotated)) as tf.Tensor3D;
      return tf.concat([rotated, tail], 1) as tf.Tensor3D;
    });
  }
}

/** Attention with axial RoPE on queries and keys (SAM 2's RoPEAttention). */
export class RopeAttention {
  readonly q: RotaryProjection;
  readonly k: RotaryProjection;
  readonly v: Linear;
  readonly out: Linear;
  readonly rope: AxialRope;
  readonly numHeads: number;
  readonly internalDim: number;
  readonly kvInDim: number;
  readonly ropeKRepeat: boolean;
  /**
   * v_proj as a block-diagonal [H·kvInDim, internalDim] matrix, when the values are narrower than the
   * projected ones: attention then runs on the raw values (tiled per head) and this projects after.
   */
  private readonly valueProjectionAfter: tf.Tensor2D | null;

  constructor(weights: WeightScope, cfg: RoPEAttentionConfig) {
    const embed = cfg.embedding_dim;
    this.kvInDim = cfg.kv_in_dim ?? embed;
    this.internalDim = embed / cfg.downsample_rate;
    this.numHeads = cfg.num_heads;
    if (this.internalDim % this.numHeads !== 0) {
      throw new ShapeError(`RoPE attention: ${this.numHeads} heads do not divide ${this.internalDim} channels`);
    }
    this.ropeKRepeat = cfg.rope_k_repeat;
    this.rope = new AxialRope({ headDim: this.internalDim / this.numHeads, numHeads: this.numHeads, theta: cfg.rope_theta, featSizes: cfg.feat_sizes }, weights.store);
    this.q = new RotaryProjection(weights, { name: 'q_proj', inDim: embed, outDim: this.internalDim, rope: this.rope });
    this.k = new RotaryProjection(weights, { name: 'k_proj', inDim: this.kvInDim, outDim: this.internalDim, rope: this.rope });
    this.v = new Linear(weights, { name: 'v_proj', inDim: this.kvInDim, outDim: this.internalDim });
    this.out = new Linear(weights, { name: 'out_proj', inDim: this.internalDim, outDim: embed });
    const narrowValues = this.numHeads * this.kvInDim < this.internalDim;
    this.valueProjectionAfter = !narrowValues ? null
      : this.numHeads === 1 ? this.v.w : weights.store.own(blockDiagonalHeads(this.v.w, this.numHeads));
  }

  // → [B, Nq, C]
  call({ q, k, v, numKExcludeRope = 0, keyBias, residual }: RopeAttentionInputs): tf.Tensor3D {
    return tf.tidy(() => {
      const nq = q.shape[1];
      const numRope = k.shape[1] - numKExcludeRope;
      if (numRope !== nq && !this.ropeKRepeat) {
        throw new ShapeError(`RoPE attention: ${numRope} rotated keys for ${nq} queries needs rope_k_repeat`);
      }
      const qr = this.q.call(q, nq);
      const kr = this.k.call(k, nq, numRope);
      const attended = this.valueProjectionAfter
        ? this.attendThenProjectValues(qr, kr, v, keyBias)
        : multiHeadAttention(qr, kr, this.v.call(v) as tf.Tensor3D, this.numHeads, { keyBias });
      return this.out.call(attended, undefined, residual) as tf.Tensor3D;
    });
  }

  // → [B, Nq, internalDim]
  private attendThenProjectValues(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, keyBias?: tf.Tensor2D): tf.Tensor3D {
    const [batch, nq] = [v.shape[0], q.shape[1]];
    const perHead = this.numHeads === 1 ? v : tf.tile(v, [1, 1, this.numHeads]) as tf.Tensor3D;
    const mixed = multiHeadAttention(q, k, perHead, this.numHeads, { keyBias });
    if (fusedKernelsOn()) return fusedLinear(mixed, this.valueProjectionAfter!, this.v.b) as tf.Tensor3D;
    const projected = tf.add(tf.matMul(tf.reshape(mixed, [-1, this.numHeads * this.kvInDim]), this.valueProjectionAfter!), this.v.b!);
    return tf.reshape(projected, [batch, nq, this.internalDim]);
  }
}

/**
 * Head h's output columns of v_proj read only head h's copy of the values: a [H·in, out] matrix whose
 * block (h, h) is W_v's columns of head h and whose other blocks are 0.
 */
// w [in, out] → [H·in, out]
function blockDiagonalHeads(w: tf.Tensor2D, numHeads: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [inDim, outDim] = w.shape;
    const headDim = outDim / numHeads;
    const rowHead = tf.reshape(tf.floorDiv(tf.range(0, numHeads * inDim, 1, 'int32'), inDim), [-1, 1]);
    const colHead = tf.reshape(tf.floorDiv(tf.range(0, outDim, 1, 'int32'), headDim), [1, -1]);
    return tf.mul(tf.tile(w, [numHeads, 1]), tf.cast(tf.equal(rowHead, colHead), 'float32')) as tf.Tensor2D;
  });
}

/** Inputs of one memory-attention layer; `keyInput` is the cross-attention key input, already encoded/weighted. */
interface LayerInputs {
  /** [B, HW, C], or [1, HW, C] when every row has the same current frame (then the self-attention runs once) */
  x: tf.Tensor3D;
  /** [B or 1, HW, C] */
  currPos: tf.Tensor3D;
  /** [B, Nmem, memDim] */
  memory: tf.Tensor3D;
  /** [B, Nmem, memDim] */
  keyInput: tf.Tensor3D;
  numObjPtrTokens: number;
  keyBias?: tf.Tensor2D;
}

/** Pre-norm layer: RoPE self-attention, RoPE cross-attention to the memory, FFN. */
export class MemoryAttentionLayer {
  readonly selfAttn: RopeAttention;
  readonly crossAttn: RopeAttention;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly activation: Activation;

  constructor(weights: WeightScope, readonly cfg: MemoryAttentionLayerConfig) {
    const d = cfg.d_model;
    this.selfAttn = new RopeAttention(weights.scope('self_attn'), cfg.self_attention);
    this.crossAttn = new RopeAttention(weights.scope('cross_attn_image'), cfg.cross_attention);
    this.norm1 = new LayerNorm(weights, { name: 'norm1', dim: d });
    this.norm2 = new LayerNorm(weights, { name: 'norm2', dim: d });
    this.norm3 = new LayerNorm(weights, { name: 'norm3', dim: d });
    this.linear1 = new Linear(weights, { name: 'linear1', inDim: d, outDim: cfg.dim_feedforward });
    this.linear2 = new Linear(weights, { name: 'linear2', inDim: cfg.dim_feedforward, outDim: d });
    this.activation = cfg.activation;
  }

  // → [B, HW, C]
  call({ x, currPos, memory, keyInput, numObjPtrTokens, keyBias }: LayerInputs): tf.Tensor3D {
    return tf.tidy(() => {
      const selfIn = this.norm1.call(x) as tf.Tensor3D;
      const selfQk = this.cfg.pos_enc_at_attn ? tf.add(selfIn, currPos) as tf.Tensor3D : selfIn;
      let out = this.selfAttn.call({ q: selfQk, k: selfQk, v: selfIn, residual: x });

      const crossIn = this.norm2.call(out) as tf.Tensor3D;
      const crossQ = this.cfg.pos_enc_at_cross_attn_queries ? tf.add(crossIn, currPos) as tf.Tensor3D : crossIn;
      // A current frame of batch 1 shared by every row of memory: its skip connection broadcasts, added apart.
      const fuse = out.shape[0] === memory.shape[0];
      const crossOut = this.crossAttn.call({ q: crossQ, k: keyInput, v: memory, numKExcludeRope: numObjPtrTokens, keyBias, residual: fuse ? out : undefined });
      out = fuse ? crossOut : tf.add(out, crossOut) as tf.Tensor3D;

      const hidden = this.linear1.call(this.norm3.call(out), this.activation);
      return this.linear2.call(hidden, undefined, out) as tf.Tensor3D;
    });
  }
}

export interface MemoryAttentionInputs {
  /**
   * Current frame tokens. [B, HW, C], or [1, HW, C] for one frame shared by every row (SAM2Long's paths,
   * several objects): the first layer's self-attention and query projection then run once, not B times.
   */
  curr: tf.Tensor3D;
  /** [B or 1, HW, C], as curr */
  currPos: tf.Tensor3D;
  /** Memory tokens: frame tokens, then `numObjPtrTokens` pointer tokens. [B, Nmem, memDim] */
  memory: tf.Tensor3D;
  /** [B, Nmem, memDim] */
  memoryPos: tf.Tensor3D;
  numObjPtrTokens: number;
  /** SAM2Long's per-token weights on the cross-attention key inputs (memory + pos, before k_proj). [B, Nmem] */
  keyWeights?: tf.Tensor2D | null;
  /** 1 for real memory tokens, 0 for padding (which gets exactly zero attention); a row needs one real token. [B, Nmem] */
  keyValid?: tf.Tensor2D | null;
  /**
   * Sees each layer's output [B, HW, C] (before the final norm). The tensor is freed after the call unless
   * the callback `tf.keep`s it.
   */
  onLayerOutput?: (layer: number, output: tf.Tensor3D) => void;
}

/** Stack of memory-attention layers and the final LayerNorm (scope 'memory_attention'). */
export class MemoryAttention {
  readonly layers: MemoryAttentionLayer[];
  readonly norm: LayerNorm;
  readonly dModel: number;
  readonly memDim: number;

  constructor(weights: WeightScope, readonly cfg: MemoryAttentionConfig) {
    this.dModel = cfg.d_model;
    this.memDim = cfg.layer.cross_attention.kv_in_dim ?? cfg.d_model;
    this.layers = Array.from({ length: cfg.num_layers }, (_, i) => new MemoryAttentionLayer(weights.scope(`layers.${i}`), cfg.layer));
    this.norm = new LayerNorm(weights, { name: 'norm', dim: cfg.d_model });
  }

  // → [B, HW, C]
  call(inputs: MemoryAttentionInputs): tf.Tensor3D {
    const { curr, currPos, memory, memoryPos, numObjPtrTokens, keyWeights, keyValid, onLayerOutput } = inputs;
    this.check(inputs);
    return tf.tidy(() => {
      let x = this.cfg.pos_enc_at_input ? this.withInputPosition(curr, currPos) : curr;
      const keyInput = this.keyInput(memory, memoryPos, keyWeights ?? null);
      const keyBias = keyValid ? tf.mul(tf.sub(1, keyValid), MASKED_KEY_BIAS) as tf.Tensor2D : undefined;
      this.layers.forEach((layer, i) => {
        x = layer.call({ x, currPos, memory, keyInput, numObjPtrTokens, keyBias });
        onLayerOutput?.(i, x);
      });
      return this.norm.call(x) as tf.Tensor3D;
    });
  }

  /** curr + 0.1 · currPos (one program on WebGPU, ops/webgpu/elementwise.ts). */
  // [B or 1, HW, C] → same
  private withInputPosition(curr: tf.Tensor3D, currPos: tf.Tensor3D): tf.Tensor3D {
    if (fusedKernelsOn() && curr.size === currPos.size) return fusedElementwise('v0 + v1 * 0.1', curr.shape, [[curr, 'full'], [currPos, 'full']]) as tf.Tensor3D;
    return tf.add(curr, tf.mul(currPos, 0.1)) as tf.Tensor3D;
  }

  /** The cross-attention key inputs: memory (+ its position encoding), weighted per token by SAM2Long. */
  // memory, memoryPos [B, Nmem, memDim], keyWeights [B, Nmem] → [B, Nmem, memDim]
  private keyInput(memory: tf.Tensor3D, memoryPos: tf.Tensor3D, keyWeights: tf.Tensor2D | null): tf.Tensor3D {
    const withPos = this.cfg.layer.pos_enc_at_cross_attn_keys;
    if (fusedKernelsOn() && keyWeights) {
      const operands: [tf.Tensor, OperandAt][] = withPos ? [[memory, 'full'], [memoryPos, 'full'], [keyWeights, 'token']] : [[memory, 'full'], [keyWeights, 'token']];
      return fusedElementwise(withPos ? '(v0 + v1) * v2' : 'v0 * v1', memory.shape, operands) as tf.Tensor3D;
    }
    const encoded = withPos ? tf.add(memory, memoryPos) as tf.Tensor3D : memory;
    return keyWeights ? tf.mul(encoded, tf.expandDims(keyWeights, 2)) as tf.Tensor3D : encoded;
  }

  /**
   * Bytes of the largest tensor `call` makes per batch row for `hw` current-frame tokens and `nmem` memory
   * tokens, score blocks aside (multiHeadAttention chunks those itself): the FFN's hidden layer or the
   * rotated keys, at full size [4096, 2048] and [28736, 256].
   */
  rowBytes(hw: number, nmem: number): number {
    const { selfAttn, crossAttn } = this.layers[0];
    const memoryWidth = Math.max(crossAttn.internalDim, crossAttn.numHeads * crossAttn.kvInDim);
    const tokenWidth = Math.max(this.dModel, this.cfg.layer.dim_feedforward, selfAttn.internalDim, memoryWidth);
    return FLOAT_BYTES * Math.max(hw * tokenWidth, nmem * memoryWidth);
  }

  private check({ curr, currPos, memory, memoryPos, numObjPtrTokens, keyWeights, keyValid }: MemoryAttentionInputs): void {
    const [batch, nmem] = memory.shape;
    const [currBatch, hw] = curr.shape;
    assertShape('memory attention curr', curr.shape, [currBatch === 1 ? 1 : batch, -1, this.dModel]);
    assertShape('memory attention currPos', currPos.shape, [currBatch, hw, this.dModel]);
    assertShape('memory attention memory', memory.shape, [batch, -1, this.memDim]);
    assertShape('memory attention memoryPos', memoryPos.shape, [batch, nmem, this.memDim]);
    if (keyWeights) assertShape('memory attention keyWeights', keyWeights.shape, [batch, nmem]);
    if (keyValid) assertShape('memory attention keyValid', keyValid.shape, [batch, nmem]);
    if (!Number.isInteger(numObjPtrTokens) || numObjPtrTokens < 0 || numObjPtrTokens > nmem) {
      throw new InputError(`memory attention: numObjPtrTokens ${numObjPtrTokens} is not in 0..${nmem}`);
    }
  }
}
