import * as assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, useBackend, type BackendName } from '../src/node/backend.js';
import { BackendError } from '../src/errors.js';
import { Conv2d, LayerNorm, Linear } from '../src/model/common.js';
import { WeightStore } from '../src/model/weights.js';
import { diff, restoreBackendAfterSuite } from './helpers/golden.js';
import { blockWeights, seededValues } from './helpers/ops.js';

const WEIGHTS = blockWeights(24);

/** matMul (Linear), conv2d (3×3 stride 2 and depthwise 7×7) and layer norm (40 and 4 channels), on the current backend. */
function runOps(): Record<string, Float32Array> {
  const store = new WeightStore(WEIGHTS);
  const w = store.scope('');
  const layers = {
    linear: new Linear(w, { name: 'lin', inDim: 40, outDim: 24 }),
    conv: new Conv2d(w, { name: 'conv', inDim: 8, outDim: 16, kernel: 3, stride: 2, padding: 1 }),
    depthwise: new Conv2d(w, { name: 'dw', inDim: 8, outDim: 8, kernel: 7, stride: 1, padding: 3, groups: 8 }),
    norm: new LayerNorm(w, { name: 'norm', dim: 40, eps: 1e-6 }),
    norm4: new LayerNorm(w, { name: 'norm4', dim: 4, eps: 1e-6 }),
  };
  store.finish();
  const seq = tf.tensor3d(seededValues(2 * 33 * 40, 9), [2, 33, 40]);
  const map = tf.tensor4d(seededValues(2 * 15 * 13 * 8, 10), [2, 15, 13, 8]);
  const mask = tf.tensor4d(seededValues(2 * 64 * 64 * 4, 14), [2, 64, 64, 4]);
  const outputs = [layers.linear.call(seq), layers.conv.call(map), layers.depthwise.call(map), layers.norm.call(seq), layers.norm4.call(mask)];
  const result = Object.fromEntries(['linear', 'conv', 'depthwise', 'norm', 'norm4'].map((k, i) => [k, outputs[i].dataSync() as Float32Array]));
  tf.dispose([seq, map, mask, ...outputs]);
  store.dispose();
  return result;
}

/** LayerNorm over the last axis in float64, the textbook way. */
function layerNormReference(x: Float32Array, c: number, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length; r += c) {
    const row = Array.from(x.subarray(r, r + c));
    const mean = row.reduce((s, v) => s + v, 0) / c;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / c;
    row.forEach((v, i) => { out[r + i] = ((v - mean) / Math.sqrt(variance + eps)) * w[i] + b[i]; });
  }
  return out;
}

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('backends', () => {
  const original = restoreBackendAfterSuite();

  it('cpu and wasm give the same matMul, conv2d and layer norm (common.ts layers)', async () => {
    await useBackend('cpu');
    const before = tf.memory().numTensors;
    const cpu = runOps();
    assert.equal(tf.memory().numTensors, before);
    await useBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    const wasm = runOps();
    const d4 = diff(wasm.norm4, layerNormReference(seededValues(2 * 64 * 64 * 4, 14), 4, WEIGHTS.get('norm4.weight')!.data, WEIGHTS.get('norm4.bias')!.data, 1e-6));
    console.log(`      norm4: max|Δ| wasm vs float64 reference ${d4.maxAbs.toExponential(2)} (tol 1e-5)`);
    assert.ok(d4.maxAbs <= 1e-5, `norm4 vs reference: ${d4.maxAbs}`);
    for (const op of Object.keys(cpu)) {
      const d = diff(wasm[op], cpu[op]);
      console.log(`      ${op}: max|Δ| cpu vs wasm ${d.maxAbs.toExponential(2)} (tol 1e-5)`);
      assert.ok(d.maxAbs <= 1e-5, `${op}: ${d.maxAbs}`);
    }
  });

  it('depthwise kernels over 5×5 (5×5 tiles on wasm) give the cpu backend\'s direct convolution, any padding', async () => {
    const cases = [{ k: 7, pad: 3 }, { k: 7, pad: 2 }, { k: 7, pad: 0 }, { k: 9, pad: 4 }, { k: 11, pad: 5 }];
    const run = () => cases.map(({ k, pad }, i) => {
      const store = new WeightStore(new Map([
        ['dw.weight', { shape: [6, 1, k, k], data: seededValues(6 * k * k, 20 + i) }],
        ['dw.bias', { shape: [6], data: seededValues(6, 40 + i) }],
      ]));
      const conv = new Conv2d(store.scope(''), { name: 'dw', inDim: 6, outDim: 6, kernel: k, stride: 1, padding: pad, groups: 6 });
      store.finish();
      const out = tf.tidy(() => conv.call(tf.tensor4d(seededValues(2 * 17 * 12 * 6, 60 + i), [2, 17, 12, 6])));
      const result = { shape: out.shape, data: out.dataSync() as Float32Array };
      out.dispose();
      store.dispose();
      return result;
    });
    await useBackend('cpu');
    const cpu = run();
    await useBackend('wasm');
    const wasm = run();
    cases.forEach(({ k, pad }, i) => {
      assert.deepEqual(wasm[i].shape, cpu[i].shape);
      const d = diff(wasm[i].data, cpu[i].data);
      console.log(`      ${k}×${k} pad ${pad}: max|Δ| cpu vs wasm ${d.maxAbs.toExponential(2)} (tol 1e-5)`);
      assert.ok(d.maxAbs <= 1e-5, `${k}×${k} pad ${pad}: ${d.maxAbs}`);
    });
  });

  it('an unknown backend name is a BackendError, from the argument or from SAM2LONG_BACKEND', async () => {
    await assert.rejects(initBackend('metal' as BackendName), (e: unknown) => e instanceof BackendError && /unknown backend 'metal'/.test((e as Error).message));
    const saved = process.env.SAM2LONG_BACKEND;
    process.env.SAM2LONG_BACKEND = 'gpu-please';
    try {
      await assert.rejects(initBackend(), (e: unknown) => e instanceof BackendError && /unknown backend 'gpu-please': choose one of/.test((e as Error).message));
    } finally {
      if (saved === undefined) delete process.env.SAM2LONG_BACKEND;
      else process.env.SAM2LONG_BACKEND = saved;
    }
    assert.equal(tf.getBackend(), original());
  });

  // Node has no WebGL context even with the package installed; tfjs-node is not installed here (its install needs
  // a download), so forcing either must fail loudly instead of falling back.
  for (const name of ['tensorflow', 'webgl'] as const) {
    it(`SAM2LONG_BACKEND=${name} where it cannot start is a BackendError, not a fallback`, async function () {
      if (name === 'tensorflow') assert.ok(!installed('@tensorflow/tfjs-node') && !installed('@tensorflow/tfjs-node-gpu'), 'this test assumes tfjs-node is not installed');
      const saved = process.env.SAM2LONG_BACKEND;
      process.env.SAM2LONG_BACKEND = name;
      try {
        await assert.rejects(initBackend(), (e: unknown) => e instanceof BackendError && new RegExp(`backend '${name}' is not available`).test((e as Error).message));
      } finally {
        if (saved === undefined) delete process.env.SAM2LONG_BACKEND;
        else process.env.SAM2LONG_BACKEND = saved;
      }
      assert.equal(tf.getBackend(), original());
    });
  }
});
