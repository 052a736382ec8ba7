import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { resolveModelConfig } from '../src/config.js';
import { InputError, ShapeError } from '../src/errors.js';
import { PromptEncoder, promptEncoderSizes, type Prompts } from '../src/model/prompt-encoder.js';
import { assertClose, goldenJson, goldenTensor, setupBackend } from './helpers/golden.js';
import { scopedStore } from './helpers/scoped-store.js';
import { toNCHW, toNHWC } from '../src/ops/layout.js';

const PROMPT_TOL = 1e-4;
const DENSE_PE_TOL = 1e-5;

for (const model of ['sam21_mini', 'sam2_mini']) {
  describe(`PromptEncoder (${model})`, () => {
    const file = `modules/${model}.prompt_encoder.safetensors`;
    const input = (name: string) => goldenTensor(file, `input.${name}`);
    let encoder: PromptEncoder;
    let disposeWeights: () => void;

    before(async () => {
      await setupBackend();
      const store = scopedStore(model, ['sam_prompt_encoder']);
      encoder = new PromptEncoder(store.scope('sam_prompt_encoder'), promptEncoderSizes(resolveModelConfig(goldenJson(`${model}.config.json`))));
      store.finish(`${model} prompt encoder`);
      disposeWeights = () => store.dispose();
    });
    after(() => disposeWeights());

    it('dense PE matches get_dense_pe()', () => {
      const pe = encoder.densePe();
      assertClose('dense_pe', toNCHW(pe), goldenTensor(file, 'output.dense_pe'), DENSE_PE_TOL);
      pe.dispose();
    });

    const points = (coords: string, labels: string) => ({ coords: input(coords) as tf.Tensor3D, labels: input(labels) as tf.Tensor2D });
    const cases: [string, () => Prompts][] = [
      ['points', () => ({ points: points('points', 'labels') })],
      ['box_as_points', () => ({ points: points('box_as_points', 'box_labels') })],
      ['box_plus_points', () => ({
        points: {
          coords: tf.concat([input('box_as_points'), input('points')], 1) as tf.Tensor3D,
          labels: tf.concat([input('box_labels'), input('labels')], 1) as tf.Tensor2D,
        },
      })],
      ['boxes_arg', () => ({ boxes: input('box_xyxy') as tf.Tensor2D })],
      ['mask_plus_pad_point', () => ({ points: points('pad_point', 'pad_label'), masks: toNHWC(input('mask') as tf.Tensor4D) })],
      ['no_prompt_pad_point', () => ({ points: points('pad_point', 'pad_label') })],
    ];
    for (const [name, prompts] of cases) {
      it(`${name}: sparse and dense embeddings`, () => {
        tf.tidy(() => {
          const { sparse, dense } = encoder.call(prompts());
          assertClose(`${name}.sparse`, sparse, goldenTensor(file, `output.${name}.sparse`), PROMPT_TOL);
          assertClose(`${name}.dense`, toNCHW(dense), goldenTensor(file, `output.${name}.dense`), PROMPT_TOL);
        });
      });
    }

    it('leaves no tensor behind', () => {
      const prompts = tf.tidy(() => cases.find(([n]) => n === 'mask_plus_pad_point')![1]());
      const before = tf.memory().numTensors;
      const out = encoder.call(prompts);
      tf.dispose(out);
      assert.equal(tf.memory().numTensors, before);
      tf.dispose(prompts);
    });

    it('rejects bad labels and shapes with typed errors', () => {
      tf.tidy(() => {
        const coords = tf.tensor3d([[[10, 20]]]);
        assert.throws(() => encoder.call({ points: { coords, labels: tf.tensor2d([[4]], undefined, 'int32') } }), InputError);
        assert.throws(() => encoder.call({ points: { coords, labels: tf.tensor2d([[-2]], undefined, 'int32') } }), InputError);
        assert.throws(() => encoder.call({ points: { coords, labels: tf.tensor2d([[1]]) } }), ShapeError);
        assert.throws(() => encoder.call({ points: { coords: tf.zeros([1, 1, 3]) as tf.Tensor3D, labels: tf.tensor2d([[1]], undefined, 'int32') } }), ShapeError);
        assert.throws(() => encoder.call({ points: { coords, labels: tf.tensor2d([[1, 1]], undefined, 'int32') } }), ShapeError);
        assert.throws(() => encoder.call({ boxes: tf.zeros([1, 3]) as tf.Tensor2D }), ShapeError);
        assert.throws(() => encoder.call({ masks: tf.zeros([1, 32, 32, 1]) as tf.Tensor4D }), ShapeError);
        assert.throws(() => encoder.call({ points: { coords, labels: tf.tensor2d([[1]], undefined, 'int32') }, boxes: tf.zeros([2, 4]) as tf.Tensor2D }), ShapeError);
      });
    });
  });
}
