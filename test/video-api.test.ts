/** The video predictor's other entry points: mask prompts, streamed frames, reverse tracking, objects × paths. */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { upsampledMaskBytes } from '../src/predictor/transforms.js';
import { VideoPredictor } from '../src/predictor/video-predictor.js';
import { countCalls } from './helpers/model-calls.js';
import { golden, goldenJson, setupBackend } from './helpers/golden.js';
import { GoldenFrames, collect, compareRun, maskIou, miniModel } from './helpers/video.js';

describe('video predictor API', () => {
  before(setupBackend);

  it('addMask: the mask prompt is the prompt frame output (through the low-res mask), and tracking goes on', async () => {
    const predictor = new VideoPredictor(miniModel('sam21_mini_b'));
    const state = await predictor.initState(new GoldenFrames('video2', 6));
    // A smooth disk survives the official mask → low-res logits → video-res round trip almost exactly.
    const mask = Uint8Array.from({ length: 256 * 256 }, (_, i) => (Math.hypot((i % 256) - 46, Math.floor(i / 256) - 128) <= 28 ? 1 : 0));
    const prompt = await predictor.addMask(state, { frame: 0, objId: 1, mask });
    const iou = maskIou(prompt.masks[0], mask);
    assert.ok(iou >= 0.97, `mask prompt comes back as the frame-0 mask (IoU ${iou})`);
    assert.equal(prompt.objectScores[0], 10, 'a non-empty mask prompt scores +10 (object present)');
    const results = await collect(predictor.propagate(state));
    assert.deepEqual(results.map((r) => r.frame), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(results[0].masks[0], prompt.masks[0]);
    await assert.rejects(predictor.addMask(state, { frame: 0, objId: 1, mask: new Uint8Array(10) }), /pixels/);
    state.dispose();
  });

  it('streamed frames (an async iterable of pixels) give the same masks as random access', async () => {
    const base = new GoldenFrames('video1');
    const t = golden('video1/frames.safetensors').read('frames_rgb_u8');
    const [n, h, w] = t.shape;
    async function* stream() {
      for (let i = 0; i < n; i++) yield { width: w, height: h, data: (t.data as Uint8Array).subarray(i * h * w * 3, (i + 1) * h * w * 3) };
    }
    const predictor = new VideoPredictor(miniModel('sam21_mini'));
    const state = await predictor.initState(stream());
    assert.equal(state.numFrames, Infinity, 'a stream does not know its length up front');
    await predictor.addPoints(state, { frame: 0, objId: 1, points: [[46, 128]], labels: [1] });
    const results = await collect(predictor.propagate(state));
    assert.equal(results.length, base.numFrames);
    compareRun('video1/sam21_mini.sam2_greedy.point.safetensors', results, { logitTol: 5e-3, scoreTol: 5e-2 });
    state.dispose();
  });

  it('reverse tracking visits frames backwards from the prompt frame', async () => {
    const predictor = new VideoPredictor(miniModel('sam21_mini_b'));
    const state = await predictor.initState(new GoldenFrames('video2', 8));
    await predictor.addPoints(state, { frame: 5, objId: 1, points: [[46, 128]], labels: [1] });
    const results = await collect(predictor.propagate(state, { reverse: true }));
    assert.deepEqual(results.map((r) => r.frame), [5, 4, 3, 2, 1, 0]);
    results.forEach((r) => assert.equal(r.masks[0].length, 256 * 256));
    state.dispose();
  });

  it('tree mode with two objects: objects × paths in one batch, each object its own tree', async () => {
    const model = miniModel('sam21_mini_b');
    const predictor = new VideoPredictor(model, { tree: { pathways: 3 } });
    const state = await predictor.initState(new GoldenFrames('video2'));
    const multi = goldenJson<{ objects: { obj_id: number; frame: number; points: [number, number][]; labels: number[] }[] }>('video2/prompt_multi.json');
    for (const o of multi.objects) await predictor.addPoints(state, { frame: o.frame, objId: o.obj_id, points: o.points, labels: o.labels });
    const calls = countCalls(model);
    const before = calls.decoder;
    const results = await collect(predictor.propagate(state));
    const finals = results.filter((r) => r.final).sort((a, b) => a.frame - b.frame);
    assert.equal(calls.decoder - before, 31, 'one decoder call per tracked frame for both objects and all paths');
    // Object 1 alone is the golden SAM2Long point run.
    compareRun('video2/sam21_mini_b.sam2long_P3.point.safetensors', finals, { logitTol: 5e-3, scoreTol: 5e-2 });
    state.dispose();
  });

  it('makes a result\'s video-size masks on first read only, from its low-res logits, after the run too', async () => {
    const model = miniModel('sam21_mini');
    const predictor = new VideoPredictor(model, { tree: { pathways: 3 } });
    const frames = new GoldenFrames('video1', 8);
    const state = await predictor.initState(frames);
    await predictor.addPoints(state, { frame: 0, objId: 1, points: [[46, 128]], labels: [1] });
    const results = await collect(predictor.propagate(state));
    state.dispose();
    const provisional = results.find((r) => !r.final);
    assert.ok(provisional, 'the tree yields provisional results');
    const tensors = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      const first = provisional.masks;
      assert.equal(provisional.masks, first, 'read twice: the same arrays');
    });
    assert.ok(profile.kernels.length > 0, 'the first read makes the masks');
    assert.equal((await tf.profile(() => void provisional.masks)).kernels.length, 0, 'a second read makes nothing');
    assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
    const h4 = model.sizes.lowResSize;
    const logits = tf.tensor4d(provisional.lowResLogits[0], [1, h4, h4, 1]);
    assert.deepEqual(provisional.masks[0], upsampledMaskBytes(logits, frames.height, frames.width)[0]);
    logits.dispose();
  });
});
