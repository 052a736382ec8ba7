/**
 * The SAM2Long tree against the official SAM2Long runs, decision for decision: branch flags, kept
 * (parent, mask) pairs, the memory and pointer frames every path read, cumulative scores, slot histories,
 * and the final hindsight masks.
 */
import * as assert from 'node:assert/strict';
import { VideoPredictor, type FrameResult } from '../src/predictor/video-predictor.js';
import { countCalls } from './helpers/model-calls.js';
import type { TreeStepInfo } from '../src/tree/options.js';
import { pathSlots, traceBack, type MemoryTree } from '../src/tree/index.js';
import { golden, goldenJson, setupBackend } from './helpers/golden.js';
import { GoldenFrames, collect, compareRun, miniModel } from './helpers/video.js';

interface PromptFile { frame: number; points?: [number, number][]; labels?: number[]; box?: [number, number, number, number] }

async function runTree(model: 'sam21_mini' | 'sam21_mini_b', video: 'video1' | 'video2', prompt: 'point' | 'box', pathways: number) {
  const steps: TreeStepInfo[] = [];
  const m = miniModel(model);
  const predictor = new VideoPredictor(m, { tree: { pathways, onStep: (s) => steps.push(s) } });
  const state = await predictor.initState(new GoldenFrames(video));
  const p = goldenJson<PromptFile>(`${video}/prompt_${prompt}.json`);
  if (p.box) await predictor.addBox(state, { frame: p.frame, objId: 1, box: p.box });
  else await predictor.addPoints(state, { frame: p.frame, objId: 1, points: p.points as [number, number][], labels: p.labels as number[] });
  const counted = countCalls(m);
  const before = { ...counted };
  const results = await collect(predictor.propagate(state));
  const calls = { decoder: counted.decoder - before.decoder, imageEncoder: counted.imageEncoder - before.imageEncoder, rows: counted.trackedRows - before.trackedRows };
  state.dispose();
  return { steps, results, calls };
}

function ints(rel: string, name: string): Int32Array {
  return golden(rel).read(name).data as Int32Array;
}

function checkDecisions(rel: string, steps: TreeStepInfo[], P: number, numFrames: number): void {
  const g = golden(rel);
  // The P=1 run records no selection tensors: its one path always extends itself.
  const parents = g.entries.has('selected_parent_path') ? ints(rel, 'selected_parent_path') : null;
  const js = g.entries.has('selected_mask_index') ? ints(rel, 'selected_mask_index') : null;
  const candIous = g.read('cand_iou_pred').data as Float32Array;
  const candScores = g.read('cand_object_score_logits').data as Float32Array;
  const memFrames = ints(rel, 'memory_frames_used');
  const ptrFrames = ints(rel, 'ptr_frames_used');
  const memSlots = g.entries.has('memory_frame_slots_used') ? ints(rel, 'memory_frame_slots_used') : null;
  const uncertain = g.entries.has('uncertain_branch') ? (g.read('uncertain_branch').data as Uint8Array) : null;
  const corner = g.entries.has('corner_case_fill') ? (g.read('corner_case_fill').data as Uint8Array) : null;
  const acc = g.entries.has('acc_score_after_f64_as_2xf32') ? (g.read('acc_score_after_f64_as_2xf32').data as Float32Array) : null;
  assert.equal(steps.length, numFrames - 2, 'one tree step per frame from s+2 on');
  let maxAccDiff = 0;
  let maxIouDiff = 0;
  let maxScoreDiff = 0;
  for (const s of steps) {
    const f = s.frame;
    s.ious.forEach((row, p) => row.forEach((iou, j) => { maxIouDiff = Math.max(maxIouDiff, Math.abs(iou - candIous[(f * P + p) * 3 + j])); }));
    s.objectScores.forEach((o, p) => { maxScoreDiff = Math.max(maxScoreDiff, Math.abs(o - candScores[f * P + p])); });
    s.prune.kept.forEach((c, k) => {
      assert.equal(c.parent, parents ? parents[f * P + k] : 0, `frame ${f} slot ${k}: parent`);
      if (js) assert.equal(c.j, js[f * P + k], `frame ${f} slot ${k}: mask index`);
      if (acc) maxAccDiff = Math.max(maxAccDiff, Math.abs(c.score - (acc[(f * P + k) * 2] + acc[(f * P + k) * 2 + 1])));
    });
    if (uncertain) assert.equal(Number(s.prune.uncertain), uncertain[f], `frame ${f}: uncertain branch`);
    if (corner) assert.equal(Number(s.prune.cornerFill), corner[f], `frame ${f}: corner-case fill`);
    s.selections.forEach((sel, p) => {
      const row = (t: Int32Array, w: number) => Array.from(t.subarray((f * P + p) * w, (f * P + p + 1) * w)).filter((v) => v >= 0);
      assert.deepEqual(sel.memoryFrames.map((e) => e.frame), row(memFrames, 7), `frame ${f} path ${p}: memory frames`);
      if (memSlots) assert.deepEqual(sel.memoryFrames.map((e) => e.slot), row(memSlots, 7), `frame ${f} path ${p}: memory slots`);
      assert.deepEqual(sel.pointerFrames.map((e) => e.frame), row(ptrFrames, 16), `frame ${f} path ${p}: pointer frames`);
    });
  }
  console.log(`      ${rel}: decisions exact on ${steps.length} frames; max|Δ| cumulative score ${maxAccDiff.toExponential(2)}, candidate IoU ${maxIouDiff.toExponential(2)}, candidate object score ${maxScoreDiff.toExponential(2)}`);
  assert.ok(maxAccDiff <= 1e-4, `cumulative scores differ by ${maxAccDiff}`);
  assert.ok(maxIouDiff <= 1e-3, `candidate IoUs differ by ${maxIouDiff}`);
  assert.ok(maxScoreDiff <= 5e-2, `candidate object scores differ by ${maxScoreDiff}`);
  const tree = steps[steps.length - 1].tree as MemoryTree;
  const history = ints(rel, 'final_path_slot_history');
  for (let p = 0; p < P; p++) {
    assert.deepEqual(pathSlots(tree, p), Array.from(history.subarray(p * numFrames + 1, (p + 1) * numFrames)), `final path ${p} slot history`);
  }
  assert.deepEqual(traceBack(tree), Array.from(ints(rel, 'best_path_slot_per_frame').subarray(1)), 'best path slots');
}

function finals(results: FrameResult[]): FrameResult[] {
  const out = results.filter((r) => r.final).sort((a, b) => a.frame - b.frame);
  out.forEach((r, i) => assert.equal(r.frame, i, 'exactly one final result per frame'));
  return out;
}

describe('SAM2Long memory tree (golden runs)', () => {
  before(setupBackend);

  const runs = [
    ['sam21_mini', 'video1', 'point', 3],
    ['sam21_mini', 'video1', 'box', 3],
    ['sam21_mini', 'video1', 'point', 1],
    ['sam21_mini_b', 'video2', 'point', 3],
    ['sam21_mini_b', 'video2', 'box', 3],
  ] as const;
  for (const [model, video, prompt, P] of runs) {
    it(`${model} ${video} ${prompt} P=${P}: every decision and the final masks match the official run`, async () => {
      const rel = `${video}/${model}.sam2long_P${P}.${prompt}.safetensors`;
      const numFrames = golden(rel).read('low_res_logits').shape[0];
      const { steps, results, calls } = await runTree(model, video, prompt, P);
      // The paths are one batch: one decoder call and one image encoding per tracked frame.
      assert.equal(calls.decoder, numFrames - 1);
      assert.equal(calls.imageEncoder, numFrames - 1);
      checkDecisions(rel, steps, P, numFrames);
      // Paths that read the same memory are decoded once: never more rows than distinct selections.
      const distinct = steps.reduce((n, s) => n + new Set(s.selections.map((sel) => JSON.stringify(sel))).size, 1);
      assert.ok(calls.rows <= distinct);
      console.log(`      decoded rows: ${calls.rows} of ${1 + P * steps.length} path-steps`);
      compareRun(rel, finals(results), { logitTol: 5e-3, scoreTol: 5e-2 });
      // With one path every frame is settled at once; with several, frames wait for the paths to agree.
      if (P > 1) assert.ok(results.some((r) => !r.final), 'online results are marked provisional');
    });
  }
});
