import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/node/backend.js';
import { resolveModelConfig, type Sam2ModelConfig } from '../src/config.js';
import { InputError, ShapeError } from '../src/errors.js';
import { ConvTranspose2x2, MaskDecoder, maskDecoderSettings, type MaskDecoderInputs, type MaskDecoderOutput } from '../src/model/mask-decoder.js';
import { SamHeads, useMaskAsOutput } from '../src/model/sam-heads.js';
import { WeightStore } from '../src/model/weights.js';
import { assertClose, diff, goldenJson, goldenTensor, setupBackend } from './helpers/golden.js';
import { scopedStore } from './helpers/scoped-store.js';
import { toNCHW, toNHWC } from '../src/ops/layout.js';
import { antialiasBilinearWeights, resizeBilinearAntialias, upsampleMasks } from '../src/ops/resize.js';

const MASK_TOL = 1e-4;
const TOKEN_TOL = 1e-4;
const IOU_TOL = 1e-5;
const OBJ_PTR_TOL = 1e-4;
const HIGH_RES_FEATURE_TOL = 1e-4;
const OBJECT_SCORE_TOL: Record<string, number> = { sam21_mini: 1e-3, sam2_mini: 1e-4 };
const HEADS_KEYS = ['sam_prompt_encoder', 'sam_mask_decoder', 'obj_ptr_proj', 'no_obj_ptr', 'mask_downsample'];

describe('ConvTranspose2x2', () => {
  before(setupBackend);

  it('equals nn.ConvTranspose2d(k=2, s=2) computed naively', () => {
    const [inDim, outDim, b, h, w] = [3, 2, 2, 3, 4];
    const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.31 + i * 1.73) * 1.5);
    const weight = rand(inDim * outDim * 4, 1);
    const bias = rand(outDim, 2);
    const x = rand(b * h * w * inDim, 3);
    const store = new WeightStore(new Map([
      ['up.weight', { shape: [inDim, outDim, 2, 2], data: weight }],
      ['up.bias', { shape: [outDim], data: bias }],
    ]));
    const conv = new ConvTranspose2x2(store.scope(''), { name: 'up', inDim, outDim });
    store.finish();
    // PyTorch: out[n, o, 2i+dy, 2j+dx] = bias[o] + Σ_c x[n, c, i, j] · weight[c, o, dy, dx]; here NHWC.
    const expected = new Float32Array(b * 2 * h * 2 * w * outDim);
    for (let n = 0; n < b; n++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) for (let o = 0; o < outDim; o++) {
        let sum = bias[o];
        for (let c = 0; c < inDim; c++) sum += x[((n * h + i) * w + j) * inDim + c] * weight[((c * outDim + o) * 2 + dy) * 2 + dx];
        expected[((n * 2 * h + 2 * i + dy) * 2 * w + 2 * j + dx) * outDim + o] = sum;
      }
    }
    tf.tidy(() => {
      const y = conv.call(tf.tensor4d(x, [b, h, w, inDim]));
      assert.deepEqual(y.shape, [b, 2 * h, 2 * w, outDim]);
      assert.ok(diff(y, expected).maxAbs < 1e-5);
    });
    store.dispose();
  });
});

describe('mask resampling', () => {
  before(setupBackend);

  it('antialiased ×1/4 weights: the triangle filter of PyTorch, cut and renormalised at the border', () => {
    const w = antialiasBilinearWeights(8, 2);
    // Output 0 is centred at 2 in input units: taps 0..5 at distances 1.5, 0.5, ... → 1 − d/4, sum 3.5.
    const row0 = [0.625, 0.875, 0.875, 0.625, 0.375, 0.125, 0, 0].map((v) => v / 3.5);
    const row1 = [0, 0, 0.125, 0.375, 0.625, 0.875, 0.875, 0.625].map((v) => v / 3.5);
    assert.ok(diff(w, [...row0, ...row1]).maxAbs < 1e-7);
  });

  it('resizeBilinearAntialias applies the weights separably per channel', () => {
    tf.tidy(() => {
      const x = tf.tensor4d(Float32Array.from({ length: 2 * 8 * 8 * 2 }, (_, i) => (i * 37) % 11), [2, 8, 8, 2]);
      const y = resizeBilinearAntialias(x, 2, 2);
      const wy = antialiasBilinearWeights(8, 2);
      const xs = x.dataSync();
      const expected = new Float32Array(2 * 2 * 2 * 2);
      for (let n = 0; n < 2; n++) for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let c = 0; c < 2; c++) {
        let s = 0;
        for (let p = 0; p < 8; p++) for (let q = 0; q < 8; q++) s += wy[i * 8 + p] * wy[j * 8 + q] * xs[((n * 8 + p) * 8 + q) * 2 + c];
        expected[((n * 2 + i) * 2 + j) * 2 + c] = s;
      }
      assert.deepEqual(y.shape, [2, 2, 2, 2]);
      assert.ok(diff(y, expected).maxAbs < 1e-5);
    });
  });

  it('upsampleMasks is bilinear with half-pixel centres and edge clamping (align_corners=False)', () => {
    tf.tidy(() => {
      // 1-D along x: [0, 4] → 4 samples at source x = −0.25, 0.25, 0.75, 1.25 → clamp, 1, 3, clamp.
      const up = upsampleMasks(tf.tensor4d([0, 4, 0, 4], [1, 1, 2, 2]), 4);
      assert.deepEqual(Array.from(up.dataSync()).slice(0, 4), [0, 1, 3, 4]);
    });
  });
});

for (const model of ['sam21_mini', 'sam2_mini']) {
  describe(`MaskDecoder and SAM heads (${model})`, () => {
    const file = `modules/${model}.mask_decoder.safetensors`;
    const input = (name: string) => goldenTensor(file, `input.${name}`);
    const output = (name: string) => goldenTensor(file, `output.${name}`);
    let cfg: Sam2ModelConfig;
    let store: WeightStore;
    let heads: SamHeads;

    before(async () => {
      await setupBackend();
      cfg = resolveModelConfig(goldenJson(`${model}.config.json`));
      store = scopedStore(model, HEADS_KEYS);
      heads = new SamHeads(store.scope(''), cfg);
      store.finish(`${model} SAM heads`);
    });
    after(() => store.dispose());

    const highResFeatures = (): [tf.Tensor4D, tf.Tensor4D] =>
      [toNHWC(input('high_res_feat_s0') as tf.Tensor4D), toNHWC(input('high_res_feat_s1') as tf.Tensor4D)];
    const pointPrompt = (coords = 'points', labels = 'labels') =>
      ({ coords: input(coords) as tf.Tensor3D, labels: input(labels) as tf.Tensor2D });

    const firstPoint = ({ coords, labels }: ReturnType<typeof pointPrompt>) =>
      ({ coords: tf.slice(coords, [0, 0, 0], [-1, 1, -1]), labels: tf.slice(labels, [0, 0], [-1, 1]) });

    /** The golden decoder run: the two clicks, no mask, on vision features + no_mem_embed. */
    function decoderInputs(multimaskOutput: boolean): MaskDecoderInputs {
      const { sparse, dense } = heads.promptEncoder.call({ points: pointPrompt() });
      return {
        imageEmbeddings: toNHWC(input('image_embeddings') as tf.Tensor4D),
        imagePe: heads.promptEncoder.densePe(),
        sparse,
        dense,
        multimaskOutput,
        highResFeatures: highResFeatures(),
      };
    }

    function checkDecoder(label: string, out: MaskDecoderOutput, golden: string): void {
      assertClose(`${label}.low_res_masks`, out.masks, output(`${golden}.low_res_masks`), MASK_TOL);
      assertClose(`${label}.iou_pred`, out.iouPred, output(`${golden}.iou_pred`), IOU_TOL);
      assertClose(`${label}.sam_tokens_out`, out.samTokensOut, output(`${golden}.sam_tokens_out`), TOKEN_TOL);
      assertClose(`${label}.object_score_logits`, out.objectScoreLogits, output(`${golden}.object_score_logits`), OBJECT_SCORE_TOL[model]);
    }

    it('conv_s0 / conv_s1 project FPN levels 0 and 1 as forward_image does', () => {
      tf.tidy(() => {
        const enc = `modules/${model}.image_encoder.safetensors`;
        const fpn = (i: number) => toNHWC(goldenTensor(enc, `output.backbone_fpn.${i}`) as tf.Tensor4D);
        const [s0, s1] = heads.maskDecoder.projectHighResFeatures(fpn(0), fpn(1));
        assertClose('high_res_feat_s0', toNCHW(s0), goldenTensor(enc, 'output.high_res_feat_s0_after_conv_s0'), HIGH_RES_FEATURE_TOL);
        assertClose('high_res_feat_s1', toNCHW(s1), goldenTensor(enc, 'output.high_res_feat_s1_after_conv_s1'), HIGH_RES_FEATURE_TOL);
      });
    });

    for (const multimask of [true, false]) {
      const golden = multimask ? 'multimask' : 'single';
      it(`decoder, ${golden} output (single = dynamic multimask via stability)`, () => {
        tf.tidy(() => checkDecoder(golden, heads.maskDecoder.call(decoderInputs(multimask)), golden));
      });
    }

    it('decoder on the cpu backend too', async () => {
      await useBackend('cpu');
      try {
        tf.tidy(() => checkDecoder('cpu.multimask', heads.maskDecoder.call(decoderInputs(true)), 'multimask'));
      } finally {
        await useBackend('wasm');
      }
    });

    it('leaves no tensor behind', () => {
      const inputs = tf.tidy(() => decoderInputs(false));
      const before = tf.memory().numTensors;
      tf.dispose(heads.maskDecoder.call(inputs));
      tf.dispose(heads.call({ backboneFeatures: inputs.imageEmbeddings, highResFeatures: inputs.highResFeatures, multimaskOutput: true }, { allPointers: true }));
      const mask = tf.ones([1, cfg.image_size, cfg.image_size, 1]) as tf.Tensor4D;
      tf.dispose(useMaskAsOutput(heads, { backboneFeatures: inputs.imageEmbeddings, highResFeatures: inputs.highResFeatures, maskInputs: mask }));
      mask.dispose();
      assert.equal(tf.memory().numTensors, before);
      tf.dispose(inputs);
    });

    it('single-mask output: stable ⇒ the single-mask token, unstable ⇒ the best multimask output', () => {
      tf.tidy(() => {
        const settings = maskDecoderSettings(cfg);
        const stability = settings.dynamicMultimask!;
        const variant = (thresh: number | null) => new MaskDecoder(store.scope('sam_mask_decoder'),
          { ...settings, dynamicMultimask: thresh === null ? null : { ...stability, dynamic_multimask_stability_thresh: thresh } });
        const run = (thresh: number | null, multimask = false) => variant(thresh).call(decoderInputs(multimask));
        const plain = run(null);
        const alwaysStable = run(0);
        const neverStable = run(1.01);
        const multi = run(null, true);
        const best = tf.argMax(multi.iouPred, -1).dataSync()[0];
        assert.equal(diff(alwaysStable.masks, plain.masks).maxAbs, 0);
        assert.equal(diff(alwaysStable.iouPred, plain.iouPred).maxAbs, 0);
        assert.equal(diff(neverStable.masks, tf.slice(multi.masks, [0, best], [1, 1])).maxAbs, 0);
        assert.equal(diff(neverStable.iouPred, tf.slice(multi.iouPred, [0, best], [1, 1])).maxAbs, 0);
        assert.ok(diff(plain.masks, neverStable.masks).maxAbs > 0, 'the two branches must differ for this check to mean anything');
      });
    });

    it('a batch of prompt sets shares one image embedding and matches each set run alone', () => {
      tf.tidy(() => {
        const one = (coords: string, labels: string) => heads.promptEncoder.call({ points: pointPrompt(coords, labels) });
        const a = one('points', 'labels');
        const b = one('box_as_points', 'box_labels');
        const base = decoderInputs(true);
        const run = (p: { sparse: tf.Tensor3D; dense: tf.Tensor4D }) => heads.maskDecoder.call({ ...base, ...p });
        const both = run({ sparse: tf.concat([a.sparse, b.sparse]), dense: tf.concat([a.dense, b.dense]) });
        assert.equal(base.imageEmbeddings.shape[0], 1);
        for (const [i, single] of [run(a), run(b)].entries()) {
          const row = (t: tf.Tensor) => tf.slice(t, [i], [1]);
          assert.ok(diff(row(both.masks), single.masks).maxAbs < 1e-5);
          assert.ok(diff(row(both.iouPred), single.iouPred).maxAbs < 1e-6);
          assert.ok(diff(row(both.samTokensOut), single.samTokensOut).maxAbs < 1e-5);
          assert.ok(diff(row(both.objectScoreLogits), single.objectScoreLogits).maxAbs < 1e-4);
        }
      });
    });

    it('SAM heads on a batch of 2 match each item run alone', () => {
      tf.tidy(() => {
        const embedding = toNHWC(input('image_embeddings') as tf.Tensor4D);
        const prompts = [pointPrompt(), pointPrompt('box_as_points', 'box_labels')];
        const run = (backboneFeatures: tf.Tensor4D, pointInputs: ReturnType<typeof pointPrompt>, multimaskOutput: boolean) =>
          heads.call({ backboneFeatures, highResFeatures: highResFeatures(), pointInputs, multimaskOutput }, { allPointers: true });
        for (const multimask of [true, false]) {
          const both = run(tf.concat([embedding, embedding]), {
            coords: tf.concat(prompts.map((p) => p.coords)), labels: tf.concat(prompts.map((p) => p.labels)),
          }, multimask);
          prompts.forEach((p, i) => {
            const single = run(embedding, p, multimask);
            for (const key of Object.keys(single) as (keyof typeof single)[]) {
              assert.ok(diff(tf.slice(both[key]!, [i], [1]), single[key]!).maxAbs < 1e-4, `${key}, item ${i}, multimask ${multimask}`);
            }
          });
        }
      });
    });

    it('allPointers: one hard-gated pointer per output token', () => {
      tf.tidy(() => {
        const backboneFeatures = toNHWC(input('image_embeddings') as tf.Tensor4D);
        for (const pointInputs of [firstPoint(pointPrompt()), pointPrompt('box_as_points', 'box_labels')]) {
          const out = heads.call({ backboneFeatures, highResFeatures: highResFeatures(), pointInputs, multimaskOutput: true }, { allPointers: true });
          const all = out.objPtrAll!;
          assert.deepEqual(all.shape, [1, cfg.use_multimask_token_for_obj_ptr ? 3 : 1, cfg.image_encoder.neck.d_model]);
          const present = out.objectScoreLogits.dataSync()[0] > 0;
          const best = cfg.use_multimask_token_for_obj_ptr ? tf.argMax(out.ious, -1).dataSync()[0] : 0;
          assert.ok(diff(tf.slice(all, [0, best], [1, 1]), out.objPtr).maxAbs < 1e-6);
          if (!present) {
            const noObjPtr = goldenTensor(`modules/${model}.mask_decoder.safetensors`, 'output.heads_box.obj_ptr');
            for (let t = 0; t < all.shape[1]; t++) assert.ok(diff(tf.slice(all, [0, t], [1, 1]), noObjPtr).maxAbs < 1e-6);
          }
        }
      });
    });

    it('mask input as output: ±10 logits, IoU 1, pointer from the downsampled mask, presence = any pixel on', () => {
      tf.tidy(() => {
        const s = cfg.image_size;
        const backboneFeatures = toNHWC(input('image_embeddings') as tf.Tensor4D);
        const square = tf.pad(tf.ones([1, s / 2, s / 2, 1]), [[0, 0], [s / 4, s / 4], [s / 4, s / 4], [0, 0]]) as tf.Tensor4D;
        const empty = tf.zeros([1, s, s, 1]) as tf.Tensor4D;
        const withObject = useMaskAsOutput(heads, { backboneFeatures, highResFeatures: highResFeatures(), maskInputs: square });
        const low = withObject.lowResMasks.dataSync();
        const q = s / 4;
        assert.deepEqual(withObject.lowResMasks.shape, [1, 1, q, q]);
        assert.deepEqual(withObject.highResMasks.shape, [1, 1, s, s]);
        assert.ok(Math.abs(low[0] + 10) < 1e-5);
        assert.ok(Math.abs(low[(q / 2) * q + q / 2] - 10) < 1e-5);
        // The square's edge at input row s/4 lies on an output boundary: the ×1/4 antialias filter spreads it over two rows.
        assert.ok(low[(q / 4) * q + q / 2] > -10 && low[(q / 4) * q + q / 2] < 10);
        assert.deepEqual(Array.from(withObject.ious.dataSync()), [1]);
        assert.deepEqual(Array.from(withObject.objectScoreLogits.dataSync()), [10]);
        const prompted = heads.call({ backboneFeatures, highResFeatures: highResFeatures(), maskInputs: heads.maskDownsample!.call(square), multimaskOutput: false });
        assert.equal(diff(withObject.objPtr, prompted.objPtr).maxAbs, 0);

        const absent = useMaskAsOutput(heads, { backboneFeatures, highResFeatures: highResFeatures(), maskInputs: empty });
        assert.deepEqual(Array.from(absent.objectScoreLogits.dataSync()), [-10]);
        const noObjPtr = goldenTensor(`modules/${model}.mask_decoder.safetensors`, 'output.heads_box.obj_ptr');
        assert.ok(diff(absent.objPtr, noObjPtr).maxAbs < 1e-7);
      });
    });

    it('rejects bad inputs with typed errors', () => {
      tf.tidy(() => {
        const base = decoderInputs(true);
        const c = cfg.image_encoder.neck.d_model;
        assert.throws(() => heads.maskDecoder.call({ ...base, sparse: tf.zeros([1, 3, c + 1]) as tf.Tensor3D }), ShapeError);
        assert.throws(() => heads.maskDecoder.call({ ...base, highResFeatures: undefined }), InputError);
        assert.throws(() => heads.maskDecoder.call({ ...base, dense: tf.zeros([1, 8, 8, c]) as tf.Tensor4D }), ShapeError);
        assert.throws(() => heads.call({ backboneFeatures: tf.zeros([1, 8, 8, c]) as tf.Tensor4D, multimaskOutput: false }), ShapeError);
        const bad = { coords: tf.zeros([1, 1, 2]) as tf.Tensor3D, labels: tf.tensor2d([[7]], undefined, 'int32') };
        assert.throws(() => heads.call({ backboneFeatures: base.imageEmbeddings, highResFeatures: base.highResFeatures, pointInputs: bad, multimaskOutput: false }), InputError);
      });
    });

    const headsCases: [string, () => { pointInputs: ReturnType<typeof pointPrompt>; multimaskOutput: boolean }][] = [
      // "one click": the first of the two golden points.
      ['heads_point', () => ({ pointInputs: firstPoint(pointPrompt()), multimaskOutput: true })],
      ['heads_box', () => ({ pointInputs: pointPrompt('box_as_points', 'box_labels'), multimaskOutput: false })],
    ];
    for (const [name, prompt] of headsCases) {
      it(`_forward_sam_heads: ${name}`, () => {
        tf.tidy(() => {
          const out = heads.call({ backboneFeatures: toNHWC(input('image_embeddings') as tf.Tensor4D), highResFeatures: highResFeatures(), ...prompt() });
          assertClose(`${name}.low_res_multimasks`, out.lowResMultimasks, output(`${name}.low_res_multimasks`), MASK_TOL);
          assertClose(`${name}.ious`, out.ious, output(`${name}.ious`), IOU_TOL);
          assertClose(`${name}.low_res_masks`, out.lowResMasks, output(`${name}.low_res_masks`), MASK_TOL);
          assertClose(`${name}.high_res_masks`, out.highResMasks, output(`${name}.high_res_masks`), MASK_TOL);
          assertClose(`${name}.obj_ptr`, out.objPtr, output(`${name}.obj_ptr`), OBJ_PTR_TOL);
          assertClose(`${name}.object_score_logits`, out.objectScoreLogits, output(`${name}.object_score_logits`), OBJECT_SCORE_TOL[model]);
        });
      });
    }
  });
}
