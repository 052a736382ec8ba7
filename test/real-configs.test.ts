/**
 * The official architectures, built from the eight official checkpoints' keys and shapes (the skeleton files)
 * with zero weights: every key is consumed with its shape, and the real tiny and large models run with the
 * output shapes SAM 2 gives (tiny at image_size 1024; large at 256 to keep the test small: its weights do not
 * depend on the image size). Real-size timings are in the benchmark, not here.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { resolveModelConfig, type Sam2ModelConfig } from '../src/config.js';
import { openTorchCheckpoint } from '../src/node/files.js';
import { Sam2Model } from '../src/model/sam2.js';
import type { HostArray } from '../src/model/weights.js';
import { detectVariant } from '../src/presets/detect.js';
import { officialModelSection } from '../src/presets/official.js';
import { fixturePath, setupBackend } from './helpers/golden.js';

const VARIANTS = ['sam2_hiera_tiny', 'sam2_hiera_small', 'sam2_hiera_base_plus', 'sam2_hiera_large',
  'sam2.1_hiera_tiny', 'sam2.1_hiera_small', 'sam2.1_hiera_base_plus', 'sam2.1_hiera_large'];

/** A zero state dict with the skeleton's keys and shapes; all tensors view one shared zero buffer. */
async function zeroStateDict(variant: string): Promise<{ shapes: Map<string, number[]>; stateDict: Map<string, HostArray> }> {
  const ckpt = await openTorchCheckpoint(fixturePath(`skeletons/${variant}.skeleton.pt`));
  const shapes = ckpt.shapes();
  ckpt.close();
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const zeros = new Float32Array(Math.max(...[...shapes.values()].map(size)));
  return { shapes, stateDict: new Map([...shapes].map(([k, s]) => [k, { shape: s, data: zeros.subarray(0, size(s)) }])) };
}

async function build(variant: string, imageSize?: number): Promise<Sam2Model> {
  const { shapes, stateDict } = await zeroStateDict(variant);
  const v = detectVariant(shapes);
  const config: Sam2ModelConfig = resolveModelConfig({ model: officialModelSection(v.version, v.size) });
  return Sam2Model.fromStateDict(imageSize ? { ...config, image_size: imageSize } : config, stateDict, variant);
}

function checkForward(model: Sam2Model): void {
  const { image_size: s } = model.config;
  const { hiddenDim: c, memDim, embedSize: h } = model.sizes;
  const run = () => tf.tidy(() => {
    const features = model.encodeImage(tf.zeros([1, s, s, 3]));
    assert.deepEqual(features.visionFeats.shape, [1, h, h, c]);
    assert.deepEqual(features.highRes[0].shape, [1, 4 * h, 4 * h, c / 8]);
    assert.deepEqual(features.highRes[1].shape, [1, 2 * h, 2 * h, c / 4]);
    const prompt = model.promptStep(features, 1, { points: { coords: tf.tensor3d([[[s / 2, s / 2]]]), labels: tf.tensor2d([[1]], [1, 1], 'int32') } }, { multimask: true });
    assert.deepEqual(prompt.lowResMultimasks.shape, [1, 3, 4 * h, 4 * h]);
    assert.deepEqual(prompt.highResMasks.shape, [1, 1, s, s]);
    assert.deepEqual(prompt.objPtr.shape, [1, c]);
    const memory = model.encodeMemory(features, tf.transpose(prompt.highResMasks, [0, 2, 3, 1]) as tf.Tensor4D, prompt.objectScoreLogits, true);
    assert.deepEqual(memory.shape, [1, h * h, memDim]);
    const frame = tf.squeeze(memory, [0]) as tf.Tensor2D;
    const pointer = tf.squeeze(prompt.objPtr, [0]) as tf.Tensor1D;
    const step = model.trackStep(features, [{ frames: [{ features: frame, tpos: 0 }, { features: frame, tpos: 6 }], pointers: [{ pointer, tdiff: 1 }, { pointer, tdiff: 2 }] }], 16, { multimask: true });
    assert.deepEqual(step.lowResMasks.shape, [1, 1, 4 * h, 4 * h]);
    assert.deepEqual(step.ious.shape, [1, 3]);
  });
  const before = tf.memory().numTensors;
  run();
  // Only the memory frame position encodings (one per t_pos), cached by the model on first use, may remain.
  const cached = tf.memory().numTensors - before;
  assert.ok(cached <= model.config.num_maskmem, `${cached} tensors left behind`);
  run();
  assert.equal(tf.memory().numTensors - before, cached, 'a second run leaves tensors behind');
}

describe('official architectures (skeleton checkpoints, zero weights)', () => {
  before(setupBackend);

  for (const variant of VARIANTS.filter((v) => !v.endsWith('large'))) {
    it(`${variant}: the model consumes every key of the official checkpoint with its shape`, async () => {
      const model = await build(variant);
      console.log(`      ${variant}: ${model.numParameters.toLocaleString('en-US')} parameters`);
      model.dispose();
    });
  }

  it('sam2.1_hiera_tiny at 1024 px: every output has SAM 2\'s shape', async () => {
    const model = await build('sam2.1_hiera_tiny');
    checkForward(model);
    model.dispose();
  });

  for (const variant of ['sam2_hiera_large', 'sam2.1_hiera_large']) {
    it(`${variant}: consumes every key, and runs (at 256 px) with SAM 2's output shapes`, async () => {
      const model = await build(variant, 256);
      console.log(`      ${variant}: ${model.numParameters.toLocaleString('en-US')} parameters`);
      if (variant.startsWith('sam2.1')) checkForward(model);
      model.dispose();
    });
  }
});
