/**
 * Results as the predictors read them: the bit-packed masks made on the device (what GPU backends read, in the
 * frame's one asynchronous read) equal the host path's masks and non-overlapping masks, ties and absent
 * objects included; and a consumer that stops early leaves no tensor behind while a read is in flight.
 * Runs on the default backend; `SAM2LONG_BACKEND=webgpu` (npm run test:webgpu) runs the GPU path.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { NO_OBJ_SCORE } from '../src/model/sam-heads.js';
import { nonOverlappingMasks } from '../src/predictor/non-overlap.js';
import { packedMaskBits, unpackMaskBits, upsampledLogits, upsampledMaskBytes } from '../src/predictor/transforms.js';
import { VideoPredictor } from '../src/predictor/video-predictor.js';
import { goldenJson, setupBackend } from './helpers/golden.js';
import { seededValues } from './helpers/ops.js';
import { GoldenFrames, miniModel } from './helpers/video.js';

describe('frame results', () => {
  before(async () => {
    await setupBackend();
  });

  it('packed masks made on the device equal the host masks and the non-overlap rule, ties and absent objects included', async () => {
    const h4 = 16;
    const [height, width] = [37, 45]; // H·W not a multiple of 16
    const a = seededValues(h4 * h4, 3);
    const rows: ArrayLike<number>[] = [a, a.slice(), seededValues(h4 * h4, 4), new Array(h4 * h4).fill(NO_OBJ_SCORE)];
    const lowRes = tf.tensor4d(rows.flatMap((r) => Array.from(r)), [rows.length, h4, h4, 1]);
    const before = tf.memory().numTensors;
    const bits = packedMaskBits(tf.clone(lowRes), height, width, true);
    assert.equal(bits.length, 2);
    const [masks, exclusive] = await Promise.all(bits.map((b) => b.data() as Promise<Float32Array>));
    tf.dispose(bits);
    assert.equal(tf.memory().numTensors, before, 'only the bits were left, and they are disposed');
    const pixels = height * width;
    assert.deepEqual(unpackMaskBits(masks, rows.length, pixels), upsampledMaskBytes(lowRes, height, width));
    const expected = nonOverlappingMasks(upsampledLogits(lowRes, height, width));
    assert.ok(expected[0].some((v) => v) && expected[1].every((v) => !v), 'the tie goes to the first object');
    assert.deepEqual(unpackMaskBits(exclusive, rows.length, pixels), expected);
    const [single] = packedMaskBits(tf.slice(lowRes, [2, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D, height, width, true);
    assert.deepEqual(unpackMaskBits(await single.data() as Float32Array, 1, pixels), [upsampledMaskBytes(lowRes, height, width)[2]]);
    tf.dispose([single, lowRes]);
  });

  it('a greedy propagation stopped after two results frees every tensor of the frames in flight', async () => {
    const predictor = new VideoPredictor(miniModel('sam21_mini'));
    const p = goldenJson<{ frame: number; points: [number, number][]; labels: number[] }>('video1/prompt_point.json');
    const start = async (frames: number) => {
      const state = await predictor.initState(new GoldenFrames('video1', frames));
      await predictor.addPoints(state, { frame: p.frame, objId: 1, points: p.points, labels: p.labels });
      return state;
    };
    // A first run makes what the model computes once and keeps (memory position encodings).
    const warm = await start(2);
    for await (const r of predictor.propagate(warm)) void r;
    warm.dispose();
    const tensors = tf.memory().numTensors;
    const state = await start(5);
    const seen: number[] = [];
    for await (const r of predictor.propagate(state)) {
      assert.equal(r.masks[0].length, state.frames.width * state.frames.height);
      seen.push(r.frame);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, [0, 1]);
    state.dispose();
    assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  });
});
