/**
 * Greedy SAM 2 video tracking against the official SAM2VideoPredictor runs (golden video1 / video2),
 * on the decoded golden frames.
 */
import * as assert from 'node:assert/strict';
import { VideoPredictor, type FrameResult } from '../src/predictor/video-predictor.js';
import { countCalls } from './helpers/model-calls.js';
import { goldenJson, setupBackend } from './helpers/golden.js';
import { GoldenFrames, collect, compareRun, maskIou, miniModel } from './helpers/video.js';
import { unpackBits } from '../src/predictor/transforms.js';
import { golden } from './helpers/golden.js';
import { InputError } from '../src/errors.js';

interface PromptFile { frame: number; points?: [number, number][]; labels?: number[]; box?: [number, number, number, number] }

async function runGreedy(model: 'sam21_mini' | 'sam2_mini' | 'sam21_mini_b', video: 'video1' | 'video2', prompt: 'point' | 'box') {
  const predictor = new VideoPredictor(miniModel(model));
  const state = await predictor.initState(new GoldenFrames(video));
  const p = goldenJson<PromptFile>(`${video}/prompt_${prompt}.json`);
  const promptResult = p.box
    ? await predictor.addBox(state, { frame: p.frame, objId: 1, box: p.box })
    : await predictor.addPoints(state, { frame: p.frame, objId: 1, points: p.points as [number, number][], labels: p.labels as number[] });
  const results = await collect(predictor.propagate(state));
  state.dispose();
  return { promptResult, results };
}

function checkPromptFrame(rel: string, r: FrameResult): void {
  const ref = golden(rel).read('prompt_frame_video_res_logits');
  const iou = maskIou(r.masks[0], Array.from(ref.data as Float32Array, (v) => (v > 0 ? 1 : 0)));
  assert.ok(iou >= 0.99, `${rel}: prompt-frame mask IoU ${iou}`);
}

describe('greedy SAM 2 video tracking (golden runs)', () => {
  before(setupBackend);

  const runs = [
    ['sam21_mini', 'video1', 'point', 1e-3],
    ['sam21_mini', 'video1', 'box', 1e-3],
    ['sam2_mini', 'video1', 'point', 1e-4],
    ['sam21_mini_b', 'video2', 'point', 5e-2],
    ['sam21_mini_b', 'video2', 'box', 5e-2],
  ] as const;
  for (const [model, video, prompt] of runs) {
    it(`${model} ${video} ${prompt}: every frame matches the official predictor`, async () => {
      const rel = `${video}/${model}.sam2_greedy.${prompt}.safetensors`;
      const { promptResult, results } = await runGreedy(model, video, prompt);
      checkPromptFrame(rel, promptResult);
      compareRun(rel, results, { logitTol: 5e-3, scoreTol: 5e-2 });
    });
  }

  it('tracks two objects in one batch, each matching the official per-object run', async () => {
    const model = miniModel('sam21_mini_b');
    const predictor = new VideoPredictor(model);
    const state = await predictor.initState(new GoldenFrames('video2'));
    const multi = goldenJson<{ objects: { obj_id: number; frame: number; points: [number, number][]; labels: number[] }[] }>('video2/prompt_multi.json');
    for (const o of multi.objects) await predictor.addPoints(state, { frame: o.frame, objId: o.obj_id, points: o.points, labels: o.labels });
    const calls = countCalls(model);
    const before = calls.decoder;
    const results = await collect(predictor.propagate(state));
    // One decoder call per tracked frame for both objects (frame 0 is the prompt frame).
    assert.equal(calls.decoder - before, results.length - 1);
    assert.deepEqual(results[0].objIds, [1, 2]);
    const rel = 'video2/sam21_mini_b.sam2_greedy_multi.point2obj.safetensors';
    for (const k of [0, 1]) compareRun(rel, results, { logitTol: 5e-3, scoreTol: 5e-2, objectIndex: k, objectMajor: true });
    state.dispose();
  });

  it('rejects bad prompts and propagating without prompts with clear errors', async () => {
    const predictor = new VideoPredictor(miniModel('sam21_mini'));
    const state = await predictor.initState(new GoldenFrames('video1', 4));
    await assert.rejects(collect(predictor.propagate(state)), (e: unknown) => e instanceof InputError && /no prompts/.test((e as Error).message));
    await assert.rejects(predictor.addPoints(state, { frame: 9, objId: 1, points: [[1, 1]], labels: [1] }), (e: unknown) => e instanceof InputError && /frame 9 is out of range/.test((e as Error).message));
    await assert.rejects(predictor.addPoints(state, { frame: 0, objId: 1, points: [[300, 1]], labels: [1] }), (e: unknown) => e instanceof InputError && /outside/.test((e as Error).message));
    await assert.rejects(predictor.addPoints(state, { frame: 0, objId: 1, points: [[3, 1]], labels: [7] }), (e: unknown) => e instanceof InputError && /label 7/.test((e as Error).message));
    await assert.rejects(predictor.addPoints(state, { frame: 0, objId: 1, points: [], labels: [] }), (e: unknown) => e instanceof InputError && /empty prompt/.test((e as Error).message));
    state.dispose();
  });
});

export { unpackBits };
