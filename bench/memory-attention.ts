/**
 * One memory-attention call at the full model's size (SAM 2.1 hiera_t/s/b+: d_model 256, 4 layers, FFN 2048,
 * mem_dim 64): 4096 queries, 7 memory frames + 16 pointers of 4 tokens = 28,736 keys. Random weights.
 * Also times one cross-attention with values projected after the attention product (what the model does)
 * against projecting them first.
 *   npx tsx bench/memory-attention.ts          (SAM2LONG_BACKEND=cpu|wasm to pick the backend)
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend.js';
import type { MemoryAttentionConfig, RoPEAttentionConfig } from '../src/config.js';
import { multiHeadAttention } from '../src/model/common.js';
import { MemoryAttention } from '../src/model/memory-attention.js';
import { WeightStore, type HostArray } from '../src/model/weights.js';

const D_MODEL = 256;
const MEM_DIM = 64;
const SIDE = 64;
const HW = SIDE * SIDE;
const NUM_FRAMES = 7;
const NUM_PTR_TOKENS = 16 * (D_MODEL / MEM_DIM);

const rope = (kvInDim: number | null): RoPEAttentionConfig => ({
  rope_theta: 10000, feat_sizes: [SIDE, SIDE], rope_k_repeat: kvInDim !== null, embedding_dim: D_MODEL,
  num_heads: 1, downsample_rate: 1, dropout: 0, kv_in_dim: kvInDim,
});

const CONFIG: MemoryAttentionConfig = {
  d_model: D_MODEL,
  pos_enc_at_input: true,
  num_layers: 4,
  layer: {
    activation: 'relu', dim_feedforward: 2048, dropout: 0, pos_enc_at_attn: false, d_model: D_MODEL,
    pos_enc_at_cross_attn_keys: true, pos_enc_at_cross_attn_queries: false,
    self_attention: rope(null), cross_attention: rope(MEM_DIM),
  },
};

/** Deterministic values in [-scale, scale). */
function randomArray(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 * 2 - 1) * scale;
  });
}

function randomStateDict(cfg: MemoryAttentionConfig): Map<string, HostArray> {
  const sd = new Map<string, HostArray>();
  let seed = 1;
  const put = (name: string, shape: number[], scale = 1 / Math.sqrt(shape[shape.length - 1])) =>
    sd.set(name, { shape, data: randomArray(shape.reduce((a, b) => a * b, 1), seed++, scale) });
  const d = cfg.d_model;
  const ff = cfg.layer.dim_feedforward;
  for (let i = 0; i < cfg.num_layers; i++) {
    const p = `memory_attention.layers.${i}`;
    for (const [attn, kv] of [['self_attn', d], ['cross_attn_image', MEM_DIM]] as const) {
      put(`${p}.${attn}.q_proj.weight`, [d, d]);
      put(`${p}.${attn}.k_proj.weight`, [d, kv]);
      put(`${p}.${attn}.v_proj.weight`, [d, kv]);
      put(`${p}.${attn}.out_proj.weight`, [d, d]);
      for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) put(`${p}.${attn}.${proj}.bias`, [d], 0.02);
    }
    put(`${p}.linear1.weight`, [ff, d]);
    put(`${p}.linear1.bias`, [ff], 0.02);
    put(`${p}.linear2.weight`, [d, ff]);
    put(`${p}.linear2.bias`, [d], 0.02);
    for (const n of ['norm1', 'norm2', 'norm3']) {
      put(`${p}.${n}.weight`, [d], 1);
      put(`${p}.${n}.bias`, [d], 0.1);
    }
  }
  put('memory_attention.norm.weight', [d], 1);
  put('memory_attention.norm.bias', [d], 0.1);
  return sd;
}

async function timed<T extends tf.Tensor>(label: string, fn: () => T): Promise<number> {
  const start = performance.now();
  const out = fn();
  await out.data();
  const ms = performance.now() - start;
  out.dispose();
  console.log(`${label}: ${ms.toFixed(0)} ms`);
  return ms;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const store = new WeightStore(randomStateDict(CONFIG));
  const attention = new MemoryAttention(CONFIG, store.scope('memory_attention'));
  store.finish('bench');
  const nmem = NUM_FRAMES * HW + NUM_PTR_TOKENS;
  const curr = tf.randomNormal([1, HW, D_MODEL], 0, 1, 'float32', 1) as tf.Tensor3D;
  const currPos = tf.randomNormal([1, HW, D_MODEL], 0, 1, 'float32', 2) as tf.Tensor3D;
  const memory = tf.randomNormal([1, nmem, MEM_DIM], 0, 1, 'float32', 3) as tf.Tensor3D;
  const memoryPos = tf.randomNormal([1, nmem, MEM_DIM], 0, 1, 'float32', 4) as tf.Tensor3D;
  console.log(`backend ${backend}; HW ${HW}, keys ${nmem}, C ${D_MODEL}, mem_dim ${MEM_DIM}, ${CONFIG.num_layers} layers`);

  await timed('memory attention call', () => attention.call({ curr, currPos, memory, memoryPos, numObjPtrTokens: NUM_PTR_TOKENS }));

  const cross = attention.layers[0].crossAttn;
  const keyInput = tf.add(memory, memoryPos) as tf.Tensor3D;
  await timed('one cross-attention (values projected after)', () =>
    cross.call({ q: curr, k: keyInput, v: memory, numKExcludeRope: NUM_PTR_TOKENS }));
  const q = cross.q.call(curr, HW);
  const k = cross.k.call(keyInput, HW, NUM_FRAMES * HW);
  await timed('  attention product alone, 64-wide values', () => multiHeadAttention(q, k, memory, 1));
  await timed('  attention product alone, 256-wide values (values projected first)', () =>
    tf.tidy(() => multiHeadAttention(q, k, cross.v.call(memory) as tf.Tensor3D, 1)));
  tf.dispose([curr, currPos, memory, memoryPos, keyInput, q, k]);
  store.dispose();
}

await main();
