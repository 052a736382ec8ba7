import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { resolveModelConfig } from '../src/config.js';
import { MemoryEncoder, roundToBfloat16 } from '../src/model/memory-encoder.js';
import type { WeightStore } from '../src/model/weights.js';
import { assertClose, goldenJson, goldenTensor, setupBackend } from './helpers/golden.js';
import { scopedStore } from './helpers/scoped-store.js';
import { toNHWC } from '../src/ops/layout.js';

const MODELS = ['sam21_mini', 'sam2_mini'] as const;

function build(model: string): { encoder: MemoryEncoder; store: WeightStore } {
  const cfg = resolveModelConfig(goldenJson(`${model}.config.json`));
  const store = scopedStore(model, ['memory_encoder', 'no_obj_embed_spatial']);
  const encoder = new MemoryEncoder(store.scope(''), cfg);
  store.finish('memory_encoder');
  return { encoder, store };
}

/** A golden NCHW map as NHWC. */
function goldenMap(rel: string, name: string): tf.Tensor4D {
  return tf.tidy(() => toNHWC(goldenTensor(rel, name) as tf.Tensor4D));
}

describe('memory encoder', () => {
  before(async () => {
    await setupBackend();
  });

  for (const model of MODELS) {
    describe(model, () => {
      const rel = `modules/${model}.memory_encoder.safetensors`;
      let encoder: MemoryEncoder;
      let store: WeightStore;
      before(() => ({ encoder, store } = build(model)));
      after(() => store.dispose());

      it('memory_encoder(pix_feat, mask_for_mem, skip_mask_sigmoid) matches', () => {
        tf.tidy(() => {
          const out = encoder.call(goldenMap(rel, 'input.pix_feat'), goldenMap(rel, 'output.raw_memory_encoder.mask_for_mem'), true);
          assertClose('vision_features', out.features, goldenMap(rel, 'output.raw_memory_encoder.vision_features'), 1e-4);
          assertClose('vision_pos_enc', out.posEnc, goldenMap(rel, 'output.raw_memory_encoder.vision_pos_enc'), 1e-5);
        });
      });

      const cases = [
        { name: 'obj_present', score: 'input.object_score_pos', fromPts: false },
        { name: 'obj_absent', score: 'input.object_score_neg', fromPts: false },
        { name: 'from_points_binarized', score: 'input.object_score_pos', fromPts: true },
      ];
      for (const c of cases) {
        it(`_encode_new_memory ${c.name} matches; no tensor leaks`, () => {
          const pixFeat = goldenMap(rel, 'input.pix_feat');
          const highResMasks = goldenMap(rel, 'input.mask_logits_high_res');
          const objectScoreLogits = goldenTensor(rel, c.score) as tf.Tensor2D;
          const before = tf.memory().numTensors;
          const out = encoder.encodeNewMemory({ pixFeat, highResMasks, objectScoreLogits, isMaskFromPts: c.fromPts });
          assert.equal(tf.memory().numTensors, before + 2, 'only the two outputs stay');
          tf.tidy(() => {
            assertClose(`${c.name}.maskmem_features`, out.features, goldenMap(rel, `output.${c.name}.maskmem_features`), 1e-4);
            assertClose(`${c.name}.maskmem_pos_enc`, out.posEnc, goldenMap(rel, `output.${c.name}.maskmem_pos_enc`), 1e-5);
          });
          tf.dispose([out.features, out.posEnc, pixFeat, highResMasks, objectScoreLogits]);
        });
      }

      it('encodes a batch row by row (object scores of both signs)', () => {
        tf.tidy(() => {
          const pixFeat = goldenMap(rel, 'input.pix_feat');
          const masks = goldenMap(rel, 'input.mask_logits_high_res');
          const scores = tf.concat([goldenTensor(rel, 'input.object_score_pos'), goldenTensor(rel, 'input.object_score_neg')]) as tf.Tensor2D;
          const out = encoder.encodeNewMemory({
            pixFeat: tf.concat([pixFeat, pixFeat]) as tf.Tensor4D, highResMasks: tf.concat([masks, masks]) as tf.Tensor4D,
            objectScoreLogits: scores, isMaskFromPts: false,
          });
          const [present, absent] = tf.split(out.features, 2);
          assertClose('row 0 (present)', present, goldenMap(rel, 'output.obj_present.maskmem_features'), 1e-4);
          assertClose('row 1 (absent)', absent, goldenMap(rel, 'output.obj_absent.maskmem_features'), 1e-4);
        });
      });
    });
  }

  it('rejects a mask that does not downsample to the feature size', () => {
    const { encoder, store } = build('sam2_mini');
    const rel = 'modules/sam2_mini.memory_encoder.safetensors';
    tf.tidy(() => {
      assert.throws(() => encoder.call(goldenMap(rel, 'input.pix_feat'), tf.zeros([1, 128, 128, 1]), true), { name: 'ShapeError' });
    });
    store.dispose();
  });
});

describe('roundToBfloat16', () => {
  before(async () => {
    await setupBackend();
  });

  const bf16 = (x: number[]) => tf.tidy(() => Array.from(roundToBfloat16(tf.tensor1d(x)).dataSync()));

  it('rounds to nearest, ties to even, negatives symmetric', () => {
    const ulp = 2 ** -7; // bf16 spacing in [1, 2)
    assert.deepEqual(bf16([1 + ulp / 2, 1 + 1.5 * ulp, 1 + ulp / 2 + 2 ** -20, 1 + ulp / 2 - 2 ** -20]),
      [1, 1 + 2 * ulp, 1 + ulp, 1]);
    assert.deepEqual(bf16([-(1 + ulp / 2), -(1 + 1.5 * ulp), -3.0078125]), [-1, -(1 + 2 * ulp), -3]);
    assert.deepEqual(bf16([0, -0, 2 ** -130]), [0, -0, 2 ** -130]);
  });

  it('leaves NaN and ±Infinity alone; overflows to Infinity like a cast', () => {
    const [nan, inf, ninf, big] = bf16([NaN, Infinity, -Infinity, 3.4028234663852886e38]);
    assert.ok(Number.isNaN(nan));
    assert.deepEqual([inf, ninf, big], [Infinity, -Infinity, Infinity]);
  });

  it("turns track_step's f32 memory into the bf16 memory the predictor stored", () => {
    tf.tidy(() => {
      const f32 = goldenTensor('modules/sam21_mini.track_step.safetensors', 'output.maskmem_features');
      const stored = goldenTensor('video1/sam21_mini.sam2_greedy.point.safetensors', 'maskmem_features_bf16');
      assertClose('bf16(maskmem_features) vs stored frame 6', roundToBfloat16(f32), tf.slice(stored, [6, 0, 0, 0], [1, -1, -1, -1]), 0);
    });
  });
});
