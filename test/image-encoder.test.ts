/**
 * Image encoder (Hiera trunk + FPN neck + sine position encoding) against the golden module vectors.
 *
 * Windowed attention on wasm, one call at the 1024-px tiny stage-1 shape (1024 windows × 64 tokens, 1 head,
 * d 96; busy 2-core box): per-window 2-D matMuls (gather) 7.0 s, batched matMul 1.5 s (transposeB 0.96 s),
 * block-diagonal 2-D products over 4 windows 6.6 s, depthwise-convolution form 0.91 s; with per-window
 * tf.slice it was 43–300 s, because wasm's slice copies the whole source. Stage-2 shape (window 4, 2 heads):
 * 0.17 s vs 0.51 s batched; stage-3 (25 windows of 196, 4 heads): 0.24 s vs 0.63 s. Hence `groupedAttention`.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, type BackendName } from '../src/node/backend.js';
import { resolveModelConfig, type HieraConfig, type ImageEncoderConfig } from '../src/config.js';
import { ShapeError } from '../src/errors.js';
import { groupedAttention, multiHeadAttention } from '../src/model/common.js';
import { Hiera, hieraBlockSpecs } from '../src/model/hiera.js';
import { ImageEncoder } from '../src/model/image-encoder.js';
import { sinePositionEncoding } from '../src/model/position-encoding.js';
import { WeightStore, type HostArray } from '../src/model/weights.js';
import { assertClose, diff, goldenJson, goldenTensor, setupBackend } from './helpers/golden.js';
import { scopedStore } from './helpers/scoped-store.js';
import { toNHWC } from '../src/ops/layout.js';
import { bicubicResize } from '../src/ops/resize.js';

const FEATURE_TOL = 1e-4;
const POS_ENC_TOL = 1e-5;
const MODELS = ['sam21_mini', 'sam2_mini'] as const;

function encoderConfig(model: string): ImageEncoderConfig {
  return resolveModelConfig(goldenJson(`${model}.config.json`)).image_encoder;
}

function build(model: string): { encoder: ImageEncoder; store: WeightStore } {
  const store = scopedStore(model, ['image_encoder']);
  const encoder = new ImageEncoder(store.scope('image_encoder'), encoderConfig(model));
  store.finish('image_encoder');
  return { encoder, store };
}

/** A golden NCHW map as NHWC. */
function goldenMap(rel: string, name: string): tf.Tensor4D {
  return tf.tidy(() => toNHWC(goldenTensor(rel, name) as tf.Tensor4D));
}

describe('image encoder', () => {
  before(setupBackend);

  describe('building blocks', () => {
    it('bicubic resize keeps a constant map and equals a direct 4×4-tap evaluation', () => {
      tf.tidy(() => {
        const constant = bicubicResize(tf.fill([1, 3, 5, 2], 1.5) as tf.Tensor4D, 7, 4);
        assert.deepEqual(constant.shape, [1, 7, 4, 2]);
        assert.ok(diff(constant, new Float32Array(56).fill(1.5)).maxAbs < 1e-6);
        // Upsample a 3×3 ramp ×2: output (1, 2) samples source (0.25, 0.75) with border-clamped taps.
        const src = [0, 1, 2, 10, 11, 12, 20, 21, 22];
        const out = bicubicResize(tf.tensor4d(src, [1, 3, 3, 1]), 6, 6).dataSync();
        const a = -0.75;
        const taps = (t: number) => {
          const near = (x: number) => ((a + 2) * x - (a + 3)) * x * x + 1;
          const far = (x: number) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
          return [far(t + 1), near(t), near(1 - t), far(2 - t)];
        };
        const clamp = (i: number) => Math.min(Math.max(i, 0), 2);
        const [wy, wx] = [taps(0.25), taps(0.75)];
        let expected = 0;
        for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expected += wy[i] * wx[j] * src[clamp(-1 + i) * 3 + clamp(-1 + j)];
        assert.ok(Math.abs(out[1 * 6 + 2] - expected) < 1e-5, `${out[8]} vs ${expected}`);
      });
    });

    it('grouped attention equals softmax(q·kᵀ/√d)·v per group, with and without query chunks', () => {
      tf.tidy(() => {
        const [tq, tk, groups, d, dv] = [5, 7, 3, 4, 2];
        const q = tf.randomNormal([tq, groups, d], 0, 1, 'float32', 1) as tf.Tensor3D;
        const k = tf.randomNormal([tk, groups, d], 0, 1, 'float32', 2) as tf.Tensor3D;
        const v = tf.randomNormal([tk, groups, dv], 0, 1, 'float32', 3) as tf.Tensor3D;
        const expected = tf.stack(Array.from({ length: groups }, (_, g) => {
          const pick = (t: tf.Tensor3D) => tf.squeeze(tf.gather(t, [g], 1), [1]) as tf.Tensor2D;
          return tf.matMul(tf.softmax(tf.div(tf.matMul(pick(q), pick(k), false, true), Math.sqrt(d))), pick(v));
        }), 1);
        assert.ok(diff(groupedAttention(q, k, v), expected).maxAbs < 1e-5);
        assert.ok(diff(groupedAttention(q, k, v, groups * tk * 2), expected).maxAbs < 1e-5);
      });
    });

    it('multi-head attention, small (grouped) and large (2-D blocks): textbook values, key bias, shared queries', () => {
      tf.tidy(() => {
        const textbook = (q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, bias?: tf.Tensor2D) => {
          const [batch, , c] = k.shape;
          const [d, dv] = [c / heads, v.shape[2] / heads];
          const head = (t: tf.Tensor3D, b: number, h: number, w: number) => tf.squeeze(tf.slice(t, [Math.min(b, t.shape[0] - 1), 0, h * w], [1, -1, w]), [0]) as tf.Tensor2D;
          return tf.stack(Array.from({ length: batch }, (_, b) => tf.concat(Array.from({ length: heads }, (_, h) => {
            const scores = tf.div(tf.matMul(head(q, b, h, d), head(k, b, h, d), false, true), Math.sqrt(d));
            const biased = bias ? tf.add(scores, tf.slice(bias, [b, 0], [1, -1])) : scores;
            return tf.matMul(tf.softmax(biased), head(v, b, h, dv));
          }), 1)));
        };
        // [9 × 30] scores per problem take the grouped path, [200 × 300] the 2-D blocks.
        for (const [nq, nk] of [[9, 30], [200, 300]]) {
          const [batch, heads, c] = [3, 2, 8];
          const q = tf.randomNormal([batch, nq, c], 0, 1, 'float32', 4) as tf.Tensor3D;
          const k = tf.randomNormal([batch, nk, c], 0, 1, 'float32', 5) as tf.Tensor3D;
          const v = tf.randomNormal([batch, nk, c], 0, 1, 'float32', 6) as tf.Tensor3D;
          const bias = tf.mul(tf.cast(tf.greater(tf.randomUniform([batch, nk], 0, 1, 'float32', 7), 0.7), 'float32'), -1e30) as tf.Tensor2D;
          const shared = tf.slice(q, [1, 0, 0], [1, -1, -1]) as tf.Tensor3D;
          for (const [what, got, want] of [
            ['plain', multiHeadAttention(q, k, v, heads), textbook(q, k, v, heads)],
            ['key bias', multiHeadAttention(q, k, v, heads, { keyBias: bias }), textbook(q, k, v, heads, bias)],
            ['queries of batch 1', multiHeadAttention(shared, k, v, heads, { keyBias: bias }), textbook(shared, k, v, heads, bias)],
          ] as const) {
            assert.ok(diff(got, want).maxAbs < 1e-5, `[${nq} × ${nk}] ${what}: max|Δ| ${diff(got, want).maxAbs}`);
          }
        }
      });
    });

    it('block layout of the real tiny and large configs (windows lag a block, pooled stage starts)', () => {
      const tiny = hieraBlockSpecs(tinyTrunk());
      assert.deepEqual(tiny.stageEnds, [0, 2, 9, 11]);
      assert.deepEqual(tiny.blocks.map((b) => b.windowSize), [8, 8, 4, 4, 14, 0, 14, 0, 14, 0, 14, 7]);
      assert.deepEqual(tiny.blocks.map((b) => b.dimOut), [96, 192, 192, 384, 384, 384, 384, 384, 384, 384, 768, 768]);
      assert.deepEqual(tiny.blocks.flatMap((b, i) => (b.qStride ? [i] : [])), [1, 3, 10]);
      const large = hieraBlockSpecs(largeTrunk());
      assert.deepEqual(large.blocks.map((b) => b.numHeads).filter((h, i, all) => all.indexOf(h) === i), [2, 4, 8, 16]);
      assert.equal(large.blocks.length, 48);
    });
  });

  for (const model of MODELS) {
    describe(model, () => {
      const rel = `modules/${model}.image_encoder.safetensors`;
      let encoder: ImageEncoder;
      let store: WeightStore;
      let image: tf.Tensor4D;
      before(() => {
        ({ encoder, store } = build(model));
        image = goldenMap(rel, 'input.image');
      });
      after(() => {
        image.dispose();
        store.dispose();
      });

      it('patch embedding and the resized position embedding match', () => {
        tf.tidy(() => {
          const patches = encoder.trunk.patchEmbed.call(image);
          assertClose('patch_embed', patches, goldenTensor(rel, 'output.trunk.patch_embed_out_nhwc'), FEATURE_TOL);
          const [, h, w] = patches.shape;
          // Stored after _get_pos_embed's permute, i.e. NHWC despite its name.
          assertClose('pos_embed (bicubic + window)', encoder.trunk.positionEmbedding(h, w),
            goldenTensor(rel, 'output.trunk.pos_embed_resized_nchw'), FEATURE_TOL);
        });
      });

      it('every block and stage output matches', () => {
        tf.tidy(() => {
          const stages = encoder.trunk.call(image, (i, out) => {
            assertClose(`block ${i}`, out, goldenTensor(rel, `output.trunk.block${i}_out_nhwc`), FEATURE_TOL);
          });
          assert.equal(stages.length, 4);
          stages.forEach((s, i) => assertClose(`stage ${i}`, s, goldenMap(rel, `output.trunk.stage${i}_out_nchw`), FEATURE_TOL));
        });
      });

      it('backbone_fpn and vision_pos_enc match; no tensor leaks', () => {
        const before = tf.memory().numTensors;
        const { backboneFpn, visionPosEnc } = encoder.call(image);
        assert.equal(tf.memory().numTensors, before + 6, 'only the outputs stay');
        assert.equal(backboneFpn.length, 3);
        tf.tidy(() => {
          backboneFpn.forEach((f, i) => assertClose(`backbone_fpn.${i}`, f, goldenMap(rel, `output.backbone_fpn.${i}`), FEATURE_TOL));
          visionPosEnc.forEach((p, i) => assertClose(`vision_pos_enc.${i}`, p, goldenMap(rel, `output.vision_pos_enc.${i}`), POS_ENC_TOL));
        });
        tf.dispose([...backboneFpn, ...visionPosEnc]);
        assert.equal(tf.memory().numTensors, before);
      });

      it('prepared for its image side: the same levels, and the embedding position made once, not per call', () => {
        encoder.prepare(image.shape[1]);
        const before = tf.memory().numTensors;
        for (let call = 0; call < 2; call++) {
          const { backboneFpn, visionPosEnc } = encoder.call(image, { positions: false });
          assert.equal(visionPosEnc.length, 0);
          const last = backboneFpn[backboneFpn.length - 1];
          // A fresh handle each time: disposing it leaves the prepared encoding for the next call.
          const position = encoder.embeddingPosition(last.shape[1], last.shape[2]);
          tf.tidy(() => {
            backboneFpn.forEach((f, i) => assertClose(`backbone_fpn.${i}`, f, goldenMap(rel, `output.backbone_fpn.${i}`), FEATURE_TOL));
            assertClose('vision_pos_enc of the embedding', position, goldenMap(rel, `output.vision_pos_enc.${backboneFpn.length - 1}`), POS_ENC_TOL);
          });
          tf.dispose([...backboneFpn, position]);
          assert.equal(tf.memory().numTensors, before);
        }
      });

      it('sine position encoding alone matches each level', () => {
        const cfg = encoderConfig(model).neck.position_encoding;
        tf.tidy(() => {
          for (const i of [0, 1, 2]) {
            const expected = goldenMap(rel, `output.vision_pos_enc.${i}`);
            const [, h, w] = expected.shape;
            assertClose(`sine ${h}×${w}`, sinePositionEncoding(cfg, h, w), expected, POS_ENC_TOL);
          }
        });
      });
    });
  }

  it('sam2_mini on the cpu backend: FPN levels match', async () => {
    const previous = tf.getBackend() as BackendName;
    await useBackend('cpu');
    try {
      const { encoder, store } = build('sam2_mini');
      const rel = 'modules/sam2_mini.image_encoder.safetensors';
      tf.tidy(() => {
        const { backboneFpn, visionPosEnc } = encoder.call(goldenMap(rel, 'input.image'));
        backboneFpn.forEach((f, i) => assertClose(`backbone_fpn.${i} (cpu)`, f, goldenMap(rel, `output.backbone_fpn.${i}`), FEATURE_TOL));
        visionPosEnc.forEach((p, i) => assertClose(`vision_pos_enc.${i} (cpu)`, p, goldenMap(rel, `output.vision_pos_enc.${i}`), POS_ENC_TOL));
      });
      store.dispose();
    } finally {
      await useBackend(previous);
    }
  });

  it('rejects an image whose patch grid is not whole first-stage windows', () => {
    const { encoder, store } = build('sam2_mini');
    tf.tidy(() => assert.throws(() => encoder.call(tf.zeros([1, 100, 100, 3]) as tf.Tensor4D), ShapeError));
    store.dispose();
  });

  describe('real trunk configs with random weights', () => {
    for (const [name, trunk, size] of [['tiny', tinyTrunk(), 256], ['large', largeTrunk(), 128]] as const) {
      it(`${name}: stage output shapes at ${size} px`, () => {
        const store = new WeightStore(fakeTrunkWeights(trunk));
        const hiera = new Hiera(store.scope('trunk'), trunk);
        store.finish(`${name} trunk`);
        const image = tf.zeros([1, size, size, 3]) as tf.Tensor4D;
        const before = tf.memory().numTensors;
        const outs = hiera.call(image);
        const dims = hiera.channelList.slice().reverse();
        assert.deepEqual(outs.map((o) => o.shape), dims.map((c, i) => [1, size / 4 / 2 ** i, size / 4 / 2 ** i, c]));
        tf.dispose(outs);
        assert.equal(tf.memory().numTensors, before);
        image.dispose();
        store.dispose();
      });
    }
  });
});

function trunkConfig(overrides: Partial<HieraConfig>): HieraConfig {
  return resolveModelConfig({ ...goldenJson<{ model: object }>('sam21_mini.config.json').model,
    image_encoder: { ...encoderConfig('sam21_mini'), trunk: overrides } }).image_encoder.trunk;
}

function tinyTrunk(): HieraConfig {
  return trunkConfig({ embed_dim: 96, num_heads: 1, stages: [1, 2, 7, 2], global_att_blocks: [5, 7, 9], window_pos_embed_bkg_spatial_size: [7, 7] });
}

function largeTrunk(): HieraConfig {
  return trunkConfig({ embed_dim: 144, num_heads: 2, stages: [2, 6, 36, 4], global_att_blocks: [23, 33, 43],
    window_spec: [8, 4, 16, 8], window_pos_embed_bkg_spatial_size: [7, 7] });
}

/**
 * A state dict with every Hiera parameter at its shape. All tensors view one deterministic pattern (the
 * large trunk has ~210M parameters; shapes are what is checked).
 */
function fakeTrunkWeights(cfg: HieraConfig): Map<string, HostArray> {
  const shapes: [string, number[]][] = [];
  const linear = (name: string, inDim: number, outDim: number) => shapes.push([`${name}.weight`, [outDim, inDim]], [`${name}.bias`, [outDim]]);
  const e = cfg.embed_dim;
  shapes.push(['patch_embed.proj.weight', [e, 3, 7, 7]], ['patch_embed.proj.bias', [e]],
    ['pos_embed', [1, e, ...cfg.window_pos_embed_bkg_spatial_size]], ['pos_embed_window', [1, e, cfg.window_spec[0], cfg.window_spec[0]]]);
  hieraBlockSpecs(cfg).blocks.forEach((b, i) => {
    const p = `blocks.${i}`;
    shapes.push([`${p}.norm1.weight`, [b.dim]], [`${p}.norm1.bias`, [b.dim]], [`${p}.norm2.weight`, [b.dimOut]], [`${p}.norm2.bias`, [b.dimOut]]);
    linear(`${p}.attn.qkv`, b.dim, 3 * b.dimOut);
    linear(`${p}.attn.proj`, b.dimOut, b.dimOut);
    linear(`${p}.mlp.layers.0`, b.dimOut, 4 * b.dimOut);
    linear(`${p}.mlp.layers.1`, 4 * b.dimOut, b.dimOut);
    if (b.dim !== b.dimOut) linear(`${p}.proj`, b.dim, b.dimOut);
  });
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const pattern = Float32Array.from({ length: Math.max(...shapes.map(([, s]) => size(s))) }, (_, i) => 0.02 * Math.sin(i * 78.233));
  return new Map(shapes.map(([name, shape]) => [`trunk.${name}`, { shape, data: pattern.subarray(0, size(shape)) }]));
}
