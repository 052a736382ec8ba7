/**
 * The two-core pipeline: frames encoded in a worker thread while the main thread tracks. The worker's
 * features are the same computation, so runs with and without it must be identical, and both match the
 * official runs.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { WorkerError } from '../src/errors.js';
import { disposeFeatures, type FrameFeatures, type Sam2Model } from '../src/model/sam2.js';
import { EncoderPool, liveEncoderWorkers } from '../src/node/encoder-pool.js';
import { VideoPredictor, type FrameResult, type VideoPredictorOptions } from '../src/predictor/video-predictor.js';
import { FRAME_ENCODER_PREFIXES, FrameEncoder } from '../src/node/worker/frame-encoder.js';
import { golden, goldenJson, setupBackend } from './helpers/golden.js';
import { countCalls } from './helpers/model-calls.js';
import { GoldenFrames, collect, compareRun, miniModel } from './helpers/video.js';

interface PromptFile { frame: number; points: [number, number][]; labels: number[] }

const FEATURE_NAMES = ['visionFeats', 'visionPos', 'highRes0', 'highRes1'] as const;

function featureList(f: FrameFeatures): tf.Tensor[] {
  return [f.visionFeats, f.visionPos, ...f.highRes];
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/**
 * Waits (up to 10 s) until every encoder worker's thread has ended: a run closes its worker without waiting
 * for the thread, which Node joins a little later. False when one is still alive after 10 s.
 * The count comes from each worker's 'exit' event, which Node emits once it has joined the thread. The
 * process's thread count cannot tell: wasm's pthread pool and V8's platform threads start and end on their
 * own (22 to 23 threads between identical runs here), which made a count-based check fail at random.
 */
async function encoderWorkersGone(): Promise<boolean> {
  for (let waited = 0; liveEncoderWorkers() > 0; waited += 20) {
    if (waited >= 10_000) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

interface Run { results: FrameResult[]; encoded: { here: number; pipeline: number }; mainEncodes: number }

/** video1 from its point prompt, greedy or tree; the main thread's encoder calls counted during propagation. */
async function runVideo1(options: VideoPredictorOptions, maxFrames?: number): Promise<Run> {
  const model = miniModel('sam21_mini');
  const predictor = new VideoPredictor(model, options);
  const state = await predictor.initState(new GoldenFrames('video1'));
  const p = goldenJson<PromptFile>('video1/prompt_point.json');
  await predictor.addPoints(state, { frame: p.frame, objId: 1, points: p.points, labels: p.labels });
  const calls = countCalls(model);
  const before = { main: calls.imageEncoder, ...state.encodedFrames };
  try {
    const results = await collect(predictor.propagate(state, { maxFrames }));
    const encoded = { here: state.encodedFrames.here - before.here, pipeline: state.encodedFrames.pipeline - before.pipeline };
    return { results, encoded, mainEncodes: calls.imageEncoder - before.main };
  } finally {
    state.dispose();
  }
}

function assertIdentical(a: FrameResult[], b: FrameResult[]): void {
  assert.equal(a.length, b.length);
  a.forEach((r, i) => {
    assert.equal(r.frame, b[i].frame);
    assert.deepEqual(r.objectScores, b[i].objectScores, `frame ${r.frame}: object scores`);
    r.lowResLogits.forEach((logits, k) => assert.ok(logits.every((v, j) => v === b[i].lowResLogits[k][j]), `frame ${r.frame}: low-res logits differ`));
  });
}

/** A model that sends its worker one encoder weight short: the worker cannot build the encoder. */
function brokenModel(model: Sam2Model): Sam2Model {
  const hostWeights = (prefixes: readonly string[]) => {
    const weights = model.hostWeights(prefixes);
    weights.delete('image_encoder.neck.convs.0.conv.bias');
    return weights;
  };
  return { config: model.config, hostWeights } as unknown as Sam2Model;
}

describe('two-core pipeline (frames encoded in a worker thread)', () => {
  before(setupBackend);

  it('FrameEncoder, built from the encoder keys alone, gives exactly Sam2Model.encodeImage', async () => {
    const model = miniModel('sam21_mini');
    const encoder = FrameEncoder.fromStateDict(model.config, model.hostWeights(FRAME_ENCODER_PREFIXES));
    const image = await new GoldenFrames('video1').input(3);
    const mine = encoder.call(image);
    const reference = model.encodeImage(image);
    const mineList = featureList(mine);
    featureList(reference).forEach((ref, i) => {
      const d = maxAbsDiff(mineList[i], ref);
      console.log(`      ${FEATURE_NAMES[i]} [${ref.shape.join(', ')}]: max|Δ| ${d}`);
      assert.equal(d, 0);
    });
    tf.dispose([image, ...mineList, ...featureList(reference)]);
    encoder.dispose();
  });

  it('greedy video1 with the pipeline: frames come from the worker, the run matches the official one and the one-thread run exactly', async () => {
    const plain = await runVideo1({ pipeline: false });
    const tracked = plain.results.length - 1;
    assert.equal(plain.encoded.here, tracked);
    const tensorsBefore = tf.memory().numTensors;
    const piped = await runVideo1({ pipeline: true });
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors left after the run and state.dispose()');
    // The worker ended with the propagation.
    assert.ok(await encoderWorkersGone(), 'the encoder worker still runs 10 s after the propagation ended');
    console.log(`      ${tracked} tracked frames: ${piped.encoded.pipeline} encoded in the worker, ${piped.encoded.here} on the main thread`);
    assert.equal(piped.encoded.here + piped.encoded.pipeline, tracked);
    // Only the first tracked frame may be encoded here, while the worker starts.
    assert.ok(piped.encoded.pipeline >= tracked - 1);
    assert.equal(piped.mainEncodes, piped.encoded.here);
    compareRun('video1/sam21_mini.sam2_greedy.point.safetensors', piped.results, { logitTol: 5e-3, scoreTol: 5e-2 });
    assertIdentical(piped.results, plain.results);
  });

  it('the SAM2Long tree (P=3) with the pipeline gives exactly the one-thread results', async () => {
    const tree = { pathways: 3 };
    const piped = await runVideo1({ tree, pipeline: true }, 10);
    const plain = await runVideo1({ tree, pipeline: false }, 10);
    console.log(`      ${piped.encoded.pipeline} frames encoded in the worker, ${piped.encoded.here} on the main thread`);
    assert.ok(piped.encoded.here <= 1);
    assertIdentical(piped.results, plain.results);
  });

  it('a stream and reverse tracking with the pipeline give exactly the one-thread results', async () => {
    const model = miniModel('sam21_mini');
    const t = golden('video1/frames.safetensors').read('frames_rgb_u8');
    const [numFrames, h, w] = t.shape;
    async function* stream() {
      for (let i = 0; i < numFrames; i++) yield { width: w, height: h, data: (t.data as Uint8Array).subarray(i * h * w * 3, (i + 1) * h * w * 3) };
    }
    const track = async (pipeline: boolean, streamed: boolean, reverse: boolean) => {
      const predictor = new VideoPredictor(model, { pipeline });
      const state = await predictor.initState(streamed ? stream() : new GoldenFrames('video1', 8));
      const frame = reverse ? 7 : 0;
      await predictor.addPoints(state, { frame, objId: 1, points: [[46 + 7 * frame, 128]], labels: [1] });
      const results = await collect(predictor.propagate(state, { reverse }));
      const fromWorker = state.encodedFrames.pipeline;
      state.dispose();
      return { results, fromWorker };
    };
    // A stream is read ahead only past max_obj_ptrs_in_encoder frames: before, its length changes results.
    const streamed = await track(true, true, false);
    assert.equal(streamed.results.length, numFrames);
    assert.equal(streamed.fromWorker, numFrames - model.config.max_obj_ptrs_in_encoder);
    assertIdentical(streamed.results, (await track(false, true, false)).results);
    const reversed = await track(true, false, true);
    assert.deepEqual(reversed.results.map((r) => r.frame), [7, 6, 5, 4, 3, 2, 1, 0]);
    assert.equal(reversed.fromWorker, 6);
    assertIdentical(reversed.results, (await track(false, false, true)).results);
  });

  it("'auto' leaves the pipeline off below image_size 512 (a worker starts slower than such frames encode)", async () => {
    const run = await runVideo1({}, 2);
    assert.equal(run.encoded.pipeline, 0);
  });

  it('a worker that cannot start: a WorkerError when required, else frames are encoded here with a warning', async () => {
    const model = miniModel('sam21_mini');
    const frames = new GoldenFrames('video1');
    const encodeHere = async () => {
      const image = await frames.input(0);
      const features = model.encodeImage(image);
      image.dispose();
      return features;
    };
    const plan = { step: 1 as const, last: 3, streamReadAheadFrom: 0 };

    const required = EncoderPool.start(brokenModel(model), frames, plan, { required: true }) as EncoderPool;
    disposeFeatures(await required.features(0, encodeHere));
    await assert.rejects(async () => disposeFeatures(await required.features(1, encodeHere)),
      (e: unknown) => e instanceof WorkerError && /could not start.*CheckpointKeyError/s.test((e as Error).message));
    required.close();
    await required.exited;

    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const optional = EncoderPool.start(brokenModel(model), frames, plan) as EncoderPool;
      let here = 0;
      const counted = () => { here++; return encodeHere(); };
      for (const frame of [0, 1, 2]) disposeFeatures(await optional.features(frame, counted));
      assert.equal(here, 3);
      optional.close();
      await optional.exited;
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.ok(warnings.some((w) => /could not start.*main thread/s.test(w)), `warnings: ${warnings.join(' | ')}`);
  });

  it('close() ends the worker and frees the features still on their way', async () => {
    const model = miniModel('sam21_mini');
    const frames = new GoldenFrames('video1');
    const tensorsBefore = tf.memory().numTensors;
    const pool = EncoderPool.start(model, frames, { step: 1, last: 5, streamReadAheadFrom: 0 }, { required: true }) as EncoderPool;
    const fail = () => Promise.reject(new Error('frame 1 should have come from the worker'));
    const here = async () => {
      const image = await frames.input(0);
      const features = model.encodeImage(image);
      image.dispose();
      return features;
    };
    disposeFeatures(await pool.features(0, here));
    disposeFeatures(await pool.features(1, fail));
    // Frame 2 is now in flight: closing frees it whenever it would have arrived.
    pool.close();
    await pool.exited;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });
});
