/**
 * One memory-attention call of SAM 2.1 tiny at 1024 px (d_model 256, 4 layers, FFN 2048, mem_dim 64): 4096
 * queries, 7 memory frames + 16 pointers of 4 tokens = 28,736 keys. Random weights (bench/synthetic.ts).
 * Also times one cross-attention with values projected after the attention product (what the model does)
 * against projecting them first.
 *   npx tsx bench/memory-attention.ts          (SAM2LONG_BACKEND=cpu|wasm to pick the backend)
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/node/backend.js';
import { derivedSizes } from '../src/config.js';
import { multiHeadAttention } from '../src/model/common.js';
import { fullBank, randomTinyModel } from './synthetic.js';

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
  const model = randomTinyModel(1024);
  const attention = model.memoryAttention;
  const { memoryTokensPerFrame: hw, hiddenDim: dModel, memDim } = derivedSizes(model.config);
  const { tokens: nmem, pointerTokens: numPtrTokens, frames: numFrames } = fullBank(model.config);
  const curr = tf.randomNormal([1, hw, dModel], 0, 1, 'float32', 1) as tf.Tensor3D;
  const currPos = tf.randomNormal([1, hw, dModel], 0, 1, 'float32', 2) as tf.Tensor3D;
  const memory = tf.randomNormal([1, nmem, memDim], 0, 1, 'float32', 3) as tf.Tensor3D;
  const memoryPos = tf.randomNormal([1, nmem, memDim], 0, 1, 'float32', 4) as tf.Tensor3D;
  console.log(`backend ${backend}; HW ${hw}, keys ${nmem}, C ${dModel}, mem_dim ${memDim}, ${attention.layers.length} layers`);

  await timed('memory attention call', () => attention.call({ curr, currPos, memory, memoryPos, numObjPtrTokens: numPtrTokens }));

  const cross = attention.layers[0].crossAttn;
  const keyInput = tf.add(memory, memoryPos) as tf.Tensor3D;
  await timed('one cross-attention (values projected after)', () =>
    cross.call({ q: curr, k: keyInput, v: memory, numKExcludeRope: numPtrTokens }));
  const q = cross.q.call(curr, hw);
  const k = cross.k.call(keyInput, hw, numFrames * hw);
  await timed('  attention product alone, 64-wide values', () => multiHeadAttention(q, k, memory, 1));
  await timed('  attention product alone, 256-wide values (values projected first)', () =>
    tf.tidy(() => multiHeadAttention(q, k, cross.v.call(memory) as tf.Tensor3D, 1)));
  tf.dispose([curr, currPos, memory, memoryPos, keyInput, q, k]);
  model.dispose();
}

await main();
