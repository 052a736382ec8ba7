import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { resolveModelConfig, type Sam2ModelConfig } from '../src/config.js';
import { useBackend, type BackendName } from '../src/node/backend.js';
import { multiHeadAttention } from '../src/model/common.js';
import { MemoryAttention, RopeAttention, type MemoryAttentionInputs } from '../src/model/memory-attention.js';
import { axialRopeTable, type RopeTable } from '../src/model/rope.js';
import type { WeightStore } from '../src/model/weights.js';
import { assertClose, goldenJson, goldenTensor, setupBackend } from './helpers/golden.js';
import { scopedStore } from './helpers/scoped-store.js';

const MODELS = ['sam21_mini', 'sam2_mini'] as const;

function build(model: string): { attention: MemoryAttention; store: WeightStore; cfg: Sam2ModelConfig } {
  const cfg = resolveModelConfig(goldenJson(`${model}.config.json`));
  const store = scopedStore(model, ['memory_attention']);
  const attention = new MemoryAttention(store.scope('memory_attention'), cfg.memory_attention);
  store.finish('memory_attention');
  return { attention, store, cfg };
}

/** The golden inputs, sequence-first [N, B, C] turned batch-first [B, N, C]. */
function goldenInputs(model: string): MemoryAttentionInputs {
  const rel = `modules/${model}.memory_attention.safetensors`;
  const batchFirst = (name: string) => tf.tidy(() => tf.transpose(goldenTensor(rel, name), [1, 0, 2]) as tf.Tensor3D);
  return {
    curr: batchFirst('input.curr'),
    currPos: batchFirst('input.curr_pos'),
    memory: batchFirst('input.memory'),
    memoryPos: batchFirst('input.memory_pos'),
    numObjPtrTokens: goldenTensor(rel, 'input.num_obj_ptr_tokens').dataSync()[0],
  };
}

function disposeInputs(inputs: MemoryAttentionInputs): void {
  tf.dispose([inputs.curr, inputs.currPos, inputs.memory, inputs.memoryPos]);
}

/** RoPE as the reference writes it: each pair a complex number, multiplied by e^{iθ} of its token. */
// x [B, r·N, H·d] → [B, r·N, H·d]
function textbookRotate(x: tf.Tensor3D, table: RopeTable): tf.Tensor3D {
  return tf.tidy(() => {
    const [batch, length, channels] = x.shape;
    const pairs = tf.reshape(x, [batch * (length / table.length), table.length, channels / 2, 2]);
    const re = tf.slice(pairs, [0, 0, 0, 0], [-1, -1, -1, 1]);
    const im = tf.slice(pairs, [0, 0, 0, 1], [-1, -1, -1, 1]);
    const heads = channels / 2 / table.halfDim;
    const cos = tf.tile(tf.tensor3d(table.cos, [table.length, table.halfDim, 1]), [1, heads, 1]);
    const sin = tf.tile(tf.tensor3d(table.sin, [table.length, table.halfDim, 1]), [1, heads, 1]);
    const out = tf.concat([tf.sub(tf.mul(re, cos), tf.mul(im, sin)), tf.add(tf.mul(re, sin), tf.mul(im, cos))], 3);
    return tf.reshape(out, [batch, length, channels]) as tf.Tensor3D;
  });
}

/** Textbook RoPE cross-attention: values projected first, the key weights already in the key inputs. */
// → [B, Nq, C]
function referenceCrossAttention(attn: RopeAttention, q: tf.Tensor3D, memory: tf.Tensor3D, keyInput: tf.Tensor3D, numPtr: number): tf.Tensor3D {
  return tf.tidy(() => {
    const nq = q.shape[1];
    const nk = keyInput.shape[1];
    const table = attn.rope.table(nq);
    const qr = textbookRotate(attn.q.linear.call(q) as tf.Tensor3D, table);
    const kp = attn.k.linear.call(keyInput) as tf.Tensor3D;
    const kr = tf.concat([textbookRotate(tf.slice(kp, [0, 0, 0], [-1, nk - numPtr, -1]), table), tf.slice(kp, [0, nk - numPtr, 0], [-1, numPtr, -1])], 1) as tf.Tensor3D;
    return attn.out.call(multiHeadAttention(qr, kr, attn.v.call(memory) as tf.Tensor3D, attn.numHeads)) as tf.Tensor3D;
  });
}

describe('memory attention', function () {
  before(async () => {
    await setupBackend();
  });

  for (const model of MODELS) {
    describe(model, () => {
      it('RoPE table matches freqs_cis', () => {
        const { cfg } = build(model);
        const sa = cfg.memory_attention.layer.self_attention;
        const [w, h] = sa.feat_sizes;
        const table = axialRopeTable(sa.embedding_dim / sa.num_heads, w, h, sa.rope_theta);
        const rel = `modules/${model}.memory_attention.safetensors`;
        tf.tidy(() => {
          const shape = [table.length, table.halfDim];
          assertClose('freqs_cis_real', tf.tensor(table.cos, shape), goldenTensor(rel, 'rope.freqs_cis_real'), 1e-5);
          assertClose('freqs_cis_imag', tf.tensor(table.sin, shape), goldenTensor(rel, 'rope.freqs_cis_imag'), 1e-5);
        });
      });

      it('per-layer outputs and output match the golden run; no tensor leaks', () => {
        const { attention, store } = build(model);
        const rel = `modules/${model}.memory_attention.safetensors`;
        const inputs = goldenInputs(model);
        const layerOutputs: tf.Tensor3D[] = [];
        const before = tf.memory().numTensors;
        const out = attention.call({ ...inputs, onLayerOutput: (_, x) => layerOutputs.push(tf.keep(x)) });
        layerOutputs.forEach((x, i) => {
          tf.tidy(() => { assertClose(`layer${i}_out`, x, goldenTensor(rel, `output.layer${i}_out_bsc`), 1e-4); });
        });
        tf.tidy(() => { assertClose('output', tf.transpose(out, [1, 0, 2]), goldenTensor(rel, 'output.output'), 1e-4); });
        tf.dispose([out, ...layerOutputs]);
        assert.equal(tf.memory().numTensors, before, 'tensors leaked by the call');
        disposeInputs(inputs);
        store.dispose();
      });

      it('RoPE tables are made with the model, once for all its layers: a call uploads none', () => {
        const { attention, store } = build(model);
        const inputs = goldenInputs(model);
        // Every tensor made from host values goes through the backend's write (tf.tensor, tf.scalar, ...); wasm
        // also allocates kernel outputs through it, without values.
        const backend = tf.backend() as unknown as { write: (...args: unknown[]) => unknown };
        const write = backend.write;
        const uploads: number[] = [];
        backend.write = function (values, ...rest) {
          if (values) uploads.push((values as ArrayLike<number>).length);
          return write.call(this, values, ...rest);
        };
        try {
          tf.dispose(attention.call(inputs));
        } finally {
          delete (backend as Partial<typeof backend>).write;
        }
        // A table holds every channel of every token of the configured grid (the golden inputs use that grid).
        const tables = new Set(attention.layers.flatMap((layer) => [layer.selfAttn, layer.crossAttn]).map(({ rope }) =>
          rope.featSizes[0] * rope.featSizes[1] * rope.numHeads * rope.headDim));
        assert.deepEqual(uploads.filter((n) => tables.has(n)), [], `uploads of a RoPE table's size during the call: ${uploads}`);
        disposeInputs(inputs);
        store.dispose();
      });
    });
  }

  it('runs on the cpu backend too', async () => {
    const previous = tf.getBackend() as BackendName;
    await useBackend('cpu');
    try {
      const { attention, store } = build('sam21_mini');
      const inputs = goldenInputs('sam21_mini');
      tf.tidy(() => {
        assertClose('output (cpu)', tf.transpose(attention.call(inputs), [1, 0, 2]),
          goldenTensor('modules/sam21_mini.memory_attention.safetensors', 'output.output'), 1e-4);
      });
      disposeInputs(inputs);
      store.dispose();
    } finally {
      await useBackend(previous);
    }
  });

  it('masks padded frames and pointers exactly: a padded row equals the same row alone', () => {
    const { attention, store, cfg } = build('sam21_mini');
    const inputs = goldenInputs('sam21_mini');
    const hw = inputs.curr.shape[1];
    const numPtr = inputs.numObjPtrTokens;
    const tokensPerPointer = cfg.image_encoder.neck.d_model / cfg.memory_encoder.out_dim;
    const numFrames = (inputs.memory.shape[1] - numPtr) / hw;
    tf.tidy(() => {
      // Row 1 drops its middle frame and its last pointer; both become padding (zeros, keyValid 0).
      const shortRow = (t: tf.Tensor3D) => tf.concat([
        tf.slice(t, [0, 0, 0], [1, hw, -1]),
        tf.slice(t, [0, 2 * hw, 0], [1, (numFrames - 2) * hw + numPtr - tokensPerPointer, -1]),
      ], 1) as tf.Tensor3D;
      const padRow = (t: tf.Tensor3D) => {
        const s = shortRow(t);
        return tf.concat([
          tf.slice(s, [0, 0, 0], [1, (numFrames - 1) * hw, -1]), tf.zeros([1, hw, t.shape[2]]),
          tf.slice(s, [0, (numFrames - 1) * hw, 0], [1, -1, -1]), tf.zeros([1, tokensPerPointer, t.shape[2]]),
        ], 1) as tf.Tensor3D;
      };
      const validRow = [
        ...Array((numFrames - 1) * hw).fill(1), ...Array(hw).fill(0),
        ...Array(numPtr - tokensPerPointer).fill(1), ...Array(tokensPerPointer).fill(0),
      ];
      const twice = (t: tf.Tensor3D) => tf.concat([t, t]) as tf.Tensor3D;
      const batched = attention.call({
        curr: twice(inputs.curr),
        currPos: twice(inputs.currPos),
        memory: tf.concat([inputs.memory, padRow(inputs.memory)]) as tf.Tensor3D,
        memoryPos: tf.concat([inputs.memoryPos, padRow(inputs.memoryPos)]) as tf.Tensor3D,
        numObjPtrTokens: numPtr,
        keyValid: tf.tensor2d([Array(validRow.length).fill(1), validRow]),
      });
      const alone = attention.call({
        ...inputs,
        memory: shortRow(inputs.memory),
        memoryPos: shortRow(inputs.memoryPos),
        numObjPtrTokens: numPtr - tokensPerPointer,
      });
      const full = attention.call(inputs);
      assertClose('padded row 0 vs unpadded', tf.slice(batched, [0, 0, 0], [1, -1, -1]), full, 1e-5);
      assertClose('padded row 1 vs alone', tf.slice(batched, [1, 0, 0], [1, -1, -1]), alone, 1e-5);
    });
    disposeInputs(inputs);
    store.dispose();
  });

  for (const numHeads of [1, 2]) {
    it(`cross-attention with ${numHeads} head(s) equals the textbook form (values projected first)`, () => {
      const cfg = resolveModelConfig(goldenJson('sam21_mini.config.json'));
      const store = scopedStore('sam21_mini', ['memory_attention.layers.0.cross_attn_image']);
      const cross = new RopeAttention(store.scope('memory_attention.layers.0.cross_attn_image'),
        { ...cfg.memory_attention.layer.cross_attention, num_heads: numHeads });
      store.finish('cross_attn_image');
      const inputs = goldenInputs('sam21_mini');
      tf.tidy(() => {
        const weights = tf.randomUniform([1, inputs.memory.shape[1]], 0.95, 1.05, 'float32', 7) as tf.Tensor2D;
        const keyInput = tf.mul(tf.add(inputs.memory, inputs.memoryPos), tf.expandDims(weights, 2)) as tf.Tensor3D;
        const expected = referenceCrossAttention(cross, inputs.curr, inputs.memory, keyInput, inputs.numObjPtrTokens);
        const actual = cross.call({ q: inputs.curr, k: keyInput, v: inputs.memory, numKExcludeRope: inputs.numObjPtrTokens });
        assertClose(`${numHeads}-head cross-attention vs textbook`, actual, expected, 1e-5);
      });
      disposeInputs(inputs);
      store.dispose();
    });
  }

  it('key weights reach the output; all-one weights change nothing', () => {
    const { attention, store } = build('sam21_mini');
    const inputs = goldenInputs('sam21_mini');
    const nmem = inputs.memory.shape[1];
    tf.tidy(() => {
      const unweighted = attention.call(inputs);
      const ones = attention.call({ ...inputs, keyWeights: tf.ones([1, nmem]) as tf.Tensor2D });
      const weighted = attention.call({ ...inputs, keyWeights: tf.randomUniform([1, nmem], 0.95, 1.05, 'float32', 7) as tf.Tensor2D });
      assertClose('all-one weights', ones, unweighted, 0);
      assert.ok(tf.max(tf.abs(tf.sub(weighted, unweighted))).dataSync()[0] > 1e-3, 'weights have an effect');
    });
    disposeInputs(inputs);
    store.dispose();
  });

  it('rejects inconsistent shapes', () => {
    const { attention, store } = build('sam2_mini');
    const inputs = goldenInputs('sam2_mini');
    assert.throws(() => attention.call({ ...inputs, currPos: tf.slice(inputs.curr, [0, 0, 0], [1, 10, -1]) }), { name: 'ShapeError' });
    assert.throws(() => attention.call({ ...inputs, numObjPtrTokens: 5 }), { name: 'ShapeError' });
    assert.throws(() => attention.call({ ...inputs, numObjPtrTokens: -1 }), { name: 'InputError' });
    disposeInputs(inputs);
    store.dispose();
  });
});
