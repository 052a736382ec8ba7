/**
 * Frame-batched image encoding (predictor/frame-batches.ts): each frame's features from a batch equal its
 * single-frame encoding, and propagation with batches gives the masks it gives without them, forward,
 * in reverse, over a stream, with maxFrames and an early break, leaving no tensor behind. Batches are forced
 * here (`encodeBatch`), so the CPU backends run them too; on WebGPU they are the default.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { setMaxTensorBytes } from '../src/backend-limits.js';
import { disposeFeatures } from '../src/model/sam2.js';
import { encodeBatchSize, MAX_ENCODE_BATCH } from '../src/predictor/frame-batches.js';
import { VideoPredictor, type FrameResult, type PropagateOptions } from '../src/predictor/video-predictor.js';
import { countCalls } from './helpers/model-calls.js';
import { diff, golden, goldenJson, setupBackend } from './helpers/golden.js';
import { GoldenFrames, maskIou, miniModel } from './helpers/video.js';

/**
 * A product over more rows may take another WebGPU matMul program (another summation order); the CPU
 * backends compute every row the same way whatever the batch.
 */
function featureTolerance(): number {
  return tf.getBackend() === 'webgpu' ? 1e-4 : 0;
}

const prompt = goldenJson<{ frame: number; points: [number, number][]; labels: number[] }>('video1/prompt_point.json');

interface Run {
  results: FrameResult[];
  encoded: number;
}

/** Propagation of video1's golden click over `frames` frames, with `encodeBatch` frames per encoder run. */
async function run(encodeBatch: number, frames: number, opts: PropagateOptions & { promptFrame?: number; take?: number; stream?: boolean } = {}): Promise<Run> {
  const model = miniModel('sam21_mini');
  const predictor = new VideoPredictor(model, { encodeBatch, pipeline: false });
  const state = await predictor.initState(opts.stream ? stream(frames) : new GoldenFrames('video1', frames));
  await predictor.addPoints(state, { frame: opts.promptFrame ?? prompt.frame, objId: 1, points: prompt.points, labels: prompt.labels });
  const calls = countCalls(model);
  const before = calls.imageEncoder;
  const results: FrameResult[] = [];
  for await (const r of predictor.propagate(state, opts)) {
    r.masks; // read while the state lives
    results.push(r);
    if (opts.take !== undefined && results.length >= opts.take) break;
  }
  const encoded = calls.imageEncoder - before;
  state.dispose();
  return { results, encoded };
}

/** video1's frames as an async iterable of pixels (no random access, length unknown up front). */
async function* stream(frames: number) {
  const t = golden('video1/frames.safetensors').read('frames_rgb_u8');
  const [, h, w] = t.shape;
  for (let i = 0; i < frames; i++) yield { width: w, height: h, data: (t.data as Uint8Array).subarray(i * h * w * 3, (i + 1) * h * w * 3) };
}

/** Same frames, same masks: logits within the feature tolerance's effect, IoU ≥ 0.99 (exact on the CPU backends). */
function assertSameRun(batched: Run, single: Run): void {
  assert.deepEqual(batched.results.map((r) => r.frame), single.results.map((r) => r.frame));
  let worst = 0;
  let minIou = 1;
  batched.results.forEach((r, i) => {
    const s = single.results[i];
    worst = Math.max(worst, diff(r.lowResLogits[0], s.lowResLogits[0]).maxAbs);
    minIou = Math.min(minIou, maskIou(r.masks[0], s.masks[0]));
  });
  console.log(`      ${batched.results.length} frames: logits max|Δ| ${worst.toExponential(2)}, min IoU ${minIou.toFixed(4)}`);
  if (featureTolerance() === 0) assert.equal(worst, 0, 'the same logits on the CPU backends');
  assert.ok(minIou >= 0.99, `mask IoU ${minIou}`);
}

describe('frame-batched image encoding', () => {
  before(setupBackend);

  it('each frame of a batch has its single-frame features', async () => {
    const model = miniModel('sam21_mini');
    const frames = new GoldenFrames('video1', 3);
    const inputs = await Promise.all([0, 1, 2].map((i) => frames.input(i)));
    const tensors = tf.memory().numTensors;
    const batch = tf.concat(inputs, 0) as tf.Tensor4D;
    const batched = model.encodeImages(batch);
    batch.dispose();
    assert.equal(batched.length, 3);
    inputs.forEach((input, i) => {
      const single = model.encodeImage(input);
      const parts = [['visionFeats', batched[i].visionFeats, single.visionFeats], ['visionPos', batched[i].visionPos, single.visionPos],
        ['highRes[0]', batched[i].highRes[0], single.highRes[0]], ['highRes[1]', batched[i].highRes[1], single.highRes[1]]] as const;
      for (const [name, b, s] of parts) {
        assert.deepEqual(b.shape, s.shape, name);
        const d = diff(b, s).maxAbs;
        if (i === 2) console.log(`      frame ${i} ${name}: max|Δ| ${d.toExponential(2)}`);
        assert.ok(d <= featureTolerance(), `frame ${i} ${name}: max|Δ| ${d}`);
      }
      disposeFeatures(single);
    });
    batched.forEach(disposeFeatures);
    assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
    tf.dispose(inputs);
  });

  it('the batch size: forced on any backend, from the binding limit on GPU backends, 1 on the CPU ones', () => {
    const model = miniModel('sam21_mini');
    assert.equal(encodeBatchSize(model, 3), 3);
    assert.equal(encodeBatchSize(model, 0), 1);
    const gpu = tf.getBackend() === 'webgpu';
    assert.equal(encodeBatchSize(model), gpu ? MAX_ENCODE_BATCH : 1);
    const perFrame = model.encoderBytesPerFrame();
    try {
      setMaxTensorBytes(2.5 * perFrame);
      assert.equal(encodeBatchSize(model), gpu ? 2 : 1, 'two frames fit under a 2.5-frame binding limit');
      setMaxTensorBytes(perFrame / 2);
      assert.equal(encodeBatchSize(model), 1, 'never below one frame');
    } finally {
      setMaxTensorBytes(undefined);
    }
  });

  it('propagation: the same masks with batches of 3, one encoder run per batch, nothing left behind', async () => {
    const single = await run(1, 8);
    const tensors = tf.memory().numTensors;
    const batched = await run(3, 8);
    assertSameRun(batched, single);
    // Frames 1..7 (frame 0's features come from the prompt): batches {1,2,3}, {4,5,6}, {7}.
    assert.equal(single.encoded, 7);
    assert.equal(batched.encoded, 3);
    assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  });

  it('reverse tracking with maxFrames, and an early break, free what was encoded ahead', async () => {
    const tensors = tf.memory().numTensors;
    const reverse = { reverse: true, maxFrames: 4, promptFrame: 6 };
    assertSameRun(await run(3, 8, reverse), await run(1, 8, reverse));
    const broken = await run(4, 8, { take: 3 });
    assert.equal(broken.results.length, 3);
    assertSameRun(broken, await run(1, 8, { take: 3 }));
    assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  });

  it('a stream (no random access, length unknown) is read forward once, in batches from max_obj_ptrs_in_encoder on', async () => {
    const tensors = tf.memory().numTensors;
    const frames = miniModel('sam21_mini').config.max_obj_ptrs_in_encoder + 2;
    const batched = await run(3, frames, { stream: true });
    assert.equal(batched.results.length, frames);
    // Reading a frame below max_obj_ptrs_in_encoder ahead could reveal the stream's length early, which changes
    // pointer encoding there; frames 16 and 17 may be read ahead (frame 15's batch), as the encoder worker would.
    assert.equal(batched.encoded, frames - 3, 'frames 1..14 one by one, then 15, 16 and 17 in one batch');
    assertSameRun(batched, await run(1, frames));
    assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
  });
});
