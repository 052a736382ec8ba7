/**
 * The SAM2Long tree policies, replayed decision for decision against every golden SAM2Long run without
 * the model: the recorded candidates (cand_iou_pred, cand_object_score_logits) go in, and every recorded
 * decision (memory frames and slots, pointer frames, key-weight inputs, branch flags, kept candidates,
 * cumulative scores, final slot histories) must come out.
 */
import * as assert from 'node:assert/strict';
import { golden, goldenJson } from './helpers/golden.js';
import type { HostTensor } from '../src/io/safetensors.js';
import { resolveModelConfig } from '../src/config.js';
import { InputError } from '../src/errors.js';
import {
  type MemoryTree,
  type MemorySelection,
  SAM2LONG_WEIGHT_RANGE,
  applySelection,
  createTree,
  keyWeights,
  memorySelectionOptions,
  memoryWeights,
  pathScores,
  pathSlots,
  prunePaths,
  pythonRound,
  scoreCandidates,
  selectMemory,
  settledFrames,
  traceBack,
} from '../src/tree/index.js';

interface PathLog {
  path: number;
  acc_score_prev: number;
  ious: number[];
  object_score_logit: number;
  memory_frames: number[];
  memory_frame_slots: number[];
  ptr_frames: number[];
  memory_frame_obj_scores: number[];
  ptr_obj_scores: number[];
  memory_len: number;
  num_obj_ptr_tokens: number;
}

interface TreeFrameLog {
  paths: PathLog[];
  max_abs_object_score: number;
  uncertain_branch: boolean;
  corner_case_fill: boolean;
  selected: { new_slot: number; parent_path: number; mask_j: number; acc_score: number; signed_iou: number }[];
}

interface FirstFrameLog {
  ious_best: number;
  all_ious: number[];
  object_score_logit: number;
}

interface RunLog {
  model: string;
  prompt: { frame: number };
  num_pathway: number;
  iou_thre: number;
  uncertainty: number;
  patched_tokens_per_frame: number;
  patched_tokens_per_ptr: number;
  frames: Record<string, unknown>;
  final_best_path_slots: number[];
}

const RUNS = [
  'video1/sam21_mini.sam2long_P3.point',
  'video1/sam21_mini.sam2long_P3.box',
  'video1/sam21_mini.sam2long_P1.point',
  'video2/sam21_mini_b.sam2long_P3.point',
  'video2/sam21_mini_b.sam2long_P3.box',
];

const SCORE_TOL = 1e-9;

/** A recorded tensor, or null where the run does not record it (the P=1 run has fewer). */
function recorded(rel: string, name: string): HostTensor | null {
  const reader = golden(rel);
  return reader.names.includes(name) ? reader.read(name) : null;
}

/** The row of `t` at leading indices `idx`, as plain numbers. */
function row(t: HostTensor, ...idx: number[]): number[] {
  let offset = 0;
  let size = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (d < idx.length) offset += idx[d] * size;
    size *= t.shape[d];
  }
  const len = t.shape.slice(idx.length).reduce((a, b) => a * b, 1);
  return Array.from(t.data.subarray(offset, offset + len));
}

function padded(values: number[], length: number): number[] {
  return [...values, ...new Array<number>(length - values.length).fill(-1)];
}

/** The expected weights, computed independently: rank = how many entries sort strictly before this one. */
function rankWeights(scores: number[]): number[] {
  const [low, high] = SAM2LONG_WEIGHT_RANGE;
  const n = scores.length;
  return scores.map((s, i) => {
    const rank = scores.filter((o, k) => o < s || (o === s && k < i)).length;
    return n === 1 ? low : low + (rank * (high - low)) / (n - 1);
  });
}

function countTies(scores: number[]): number {
  return scores.length - new Set(scores).size;
}

/** The last frame up to which all paths' slot histories agree, by comparing whole histories. */
function settledByHistories(tree: MemoryTree): number {
  const histories = Array.from({ length: tree.numPaths }, (_, p) => pathSlots(tree, p));
  let k = 0;
  while (k < histories[0].length && histories.every((h) => h[k] === histories[0][k])) k++;
  return tree.startFrame + k;
}

/** Python 3's round(x, 2) from the exact decimal expansion of x (toFixed is exact up to 100 digits). */
function roundFromDecimalString(x: number): number {
  const [whole, fraction] = Math.abs(x).toFixed(100).split('.');
  const units = BigInt(whole + fraction.slice(0, 2));
  const tail = fraction.slice(2);
  const half = '5'.padEnd(tail.length, '0');
  const up = tail > half || (tail === half && units % 2n === 1n);
  const magnitude = Number(units + (up ? 1n : 0n)) / 100;
  return x < 0 ? -magnitude : magnitude;
}

function checkSelection(where: string, sel: MemorySelection, pathLog: PathLog, numMaskmem: number, t: number, log: RunLog): void {
  assert.deepEqual(sel.memoryFrames.map((m) => m.frame), pathLog.memory_frames, `${where}: memory frames`);
  assert.deepEqual(sel.memoryFrames.map((m) => m.slot), pathLog.memory_frame_slots, `${where}: memory slots`);
  assert.deepEqual(sel.pointerFrames.map((m) => m.frame), pathLog.ptr_frames, `${where}: pointer frames`);
  // Rank-based positions: the newest memory at numMaskmem − 1, pointers 1, 2, … nearest first.
  assert.deepEqual(sel.memoryFrames.map((m) => m.tpos), sel.memoryFrames.map((_, i, a) => numMaskmem - a.length + i), `${where}: memory t_pos`);
  assert.deepEqual(sel.pointerFrames.map((m) => m.tpos), sel.pointerFrames.map((_, i) => i + 1), `${where}: pointer positions`);
  assert.equal(sel.conditioning.pointerTpos, t - log.prompt.frame, `${where}: conditioning pointer position`);
  // The memory length the reference attended to: (cond + memories) frames of tokens, then (cond + pointers) pointers.
  assert.equal(pathLog.num_obj_ptr_tokens, (1 + sel.pointerFrames.length) * log.patched_tokens_per_ptr, `${where}: pointer tokens`);
  assert.equal(pathLog.memory_len, (1 + sel.memoryFrames.length) * log.patched_tokens_per_frame + pathLog.num_obj_ptr_tokens, `${where}: memory length`);
}

describe('SAM2Long tree policies', () => {
  describe('pythonRound (uncertain-case de-duplication key)', () => {
    it('matches Python 3 round(x, 2) on ties and on values stored just off a tie', () => {
      // Python 3: round(0.125, 2) == 0.12 (exact tie, to even); round(2.675, 2) == 2.67 (stored below the tie);
      // round(0.345, 2) == 0.34; round(0.015, 2) == 0.01; round(-0.005, 2) == -0.01 (stored above the tie).
      const cases: [number, number][] = [[0.125, 0.12], [0.375, 0.38], [-0.125, -0.12], [0.625, 0.62], [2.675, 2.67],
        [1.005, 1], [0.345, 0.34], [0.015, 0.01], [-0.005, -0.01], [Math.fround(0.345), 0.34], [0, 0]];
      for (const [x, expected] of cases) assert.equal(pythonRound(x, 2), expected, `round(${x}, 2)`);
      assert.ok(Object.is(pythonRound(-0.001, 2), -0), 'round(-0.001, 2) is -0.0');
    });

    it('agrees with the exact decimal expansion on random f32/f64 values and values at a boundary ± a few ulps', () => {
      let seed = 12345;
      const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
      const values: number[] = [];
      for (let i = 0; i < 2000; i++) {
        values.push(random() * 2 - 1, Math.fround(random() * 2 - 1));
        const boundary = (Math.floor(random() * 200) - 100 + 0.5) / 100;
        const f32 = new Float32Array([boundary]);
        const ulps = new Int32Array(f32.buffer);
        for (const step of [-2, -1, 0, 1, 2]) {
          ulps[0] += step;
          values.push(f32[0]);
          ulps[0] -= step;
        }
        values.push(boundary, boundary + Number.EPSILON / 4, boundary - Number.EPSILON / 4);
      }
      for (const x of values) assert.equal(pythonRound(x, 2), roundFromDecimalString(x), `round(${x}, 2)`);
    });
  });

  describe('memoryWeights / keyWeights', () => {
    it('weights by ascending rank, a single entry gets the low end, ties keep their order', () => {
      assert.deepEqual(memoryWeights([10, -2, 3], [0.95, 1.05]), [1.05, 0.95, 1]);
      assert.deepEqual(memoryWeights([10], [0.95, 1.05]), [0.95]);
      assert.deepEqual(memoryWeights([1, 1, 0], [0, 2]), [1, 2, 0]);
      assert.throws(() => memoryWeights([1, NaN], [0, 1]), InputError);
    });

    it('does not weight at all when the conditioning frame is the only memory frame', () => {
      const condOnly: MemorySelection = { conditioning: { frame: 0, pointerTpos: 1 }, memoryFrames: [], pointerFrames: [] };
      assert.equal(keyWeights(condOnly), null);
    });
  });

  describe('input checks', () => {
    it('rejects malformed trees, selections and scores with typed errors', () => {
      const tree = createTree({ startFrame: 0, numPaths: 2, iou: 0.9, objectScore: 1 });
      const opts = { numMaskmem: 7, maxObjPtrs: 16, iouThreshold: 0.1 };
      assert.throws(() => selectMemory(tree, 0, 3, opts), InputError);
      assert.throws(() => selectMemory(tree, 2, 2, opts), InputError);
      assert.throws(() => scoreCandidates([0, 0], [[0.5, NaN, 0.1], [0.5, 0.2, 0.1]], [1, 1]), InputError);
      const candidates = scoreCandidates([0, 0], [[0.5, 0.4, 0.1], [0.5, 0.2, 0.1]], [1, 1]);
      assert.throws(() => applySelection(tree, candidates.slice(0, 1)), InputError);
      assert.throws(() => prunePaths([...candidates].reverse(), [1, 1], 2, 2), InputError);
      assert.throws(() => createTree({ startFrame: 0, numPaths: 0, iou: 0.9, objectScore: 1 }), InputError);
    });
  });

  for (const rel of RUNS) {
    describe(rel, () => {
      it('replays every decision of the run from the recorded candidates', () => {
        const log = goldenJson<RunLog>(`${rel}.json`);
        const st = `${rel}.safetensors`;
        const cfg = resolveModelConfig(goldenJson(`${log.model}.config.json`));
        const candIou = golden(st).read('cand_iou_pred');
        const candObj = golden(st).read('cand_object_score_logits');
        const [numFrames, P] = candIou.shape;
        const s = log.prompt.frame;
        assert.equal(P, log.num_pathway);
        const memUsed = golden(st).read('memory_frames_used');
        const ptrUsed = golden(st).read('ptr_frames_used');
        const memSlotsUsed = recorded(st, 'memory_frame_slots_used');
        const parentsT = recorded(st, 'selected_parent_path');
        const masksT = recorded(st, 'selected_mask_index');
        const accT = recorded(st, 'acc_score_after_f64_as_2xf32');
        const uncertainT = recorded(st, 'uncertain_branch');
        const cornerT = recorded(st, 'corner_case_fill');
        const numMaskmem = cfg.num_maskmem;
        const maxMemory = memUsed.shape[2];
        const maxPointers = ptrUsed.shape[2];

        // Frame s+1: the single-path greedy step, from the log (its candidates are NaN in the tensors).
        const first = log.frames[String(s + 1)] as FirstFrameLog;
        assert.ok(row(candIou, s + 1).every(Number.isNaN), 'frame s+1 candidates are not recorded');
        assert.equal(first.ious_best, Math.max(...first.all_ious));
        let tree = createTree({ startFrame: s, numPaths: P, iou: first.ious_best, objectScore: first.object_score_logit });
        const opts = memorySelectionOptions(cfg, numFrames, log.iou_thre);

        let maxScoreDiffLog = 0;
        let maxScoreDiffTensor = 0;
        let maxWeightDiff = 0;
        let ties = 0;
        let minBoundaryDistance = Infinity;
        const settledTrail: { after: number; settled: number; slots: number[] }[] = [];
        const counts = { certain: 0, uncertain: 0, cornerFill: 0 };

        for (let t = s + 2; t < numFrames; t++) {
          const frameLog = log.frames[String(t)] as TreeFrameLog;
          const accScores = pathScores(tree);
          const ious = Array.from({ length: P }, (_, p) => row(candIou, t, p));
          const objScores = row(candObj, t);

          for (let p = 0; p < P; p++) {
            const where = `frame ${t} path ${p}`;
            const pathLog = frameLog.paths[p];
            assert.deepEqual(ious[p], pathLog.ious, `${where}: recorded IoUs`);
            assert.equal(objScores[p], pathLog.object_score_logit, `${where}: recorded object score`);
            assert.ok(Math.abs(accScores[p] - pathLog.acc_score_prev) <= SCORE_TOL, `${where}: score before the step`);

            const sel = selectMemory(tree, p, t, opts);
            checkSelection(where, sel, pathLog, numMaskmem, t, log);
            assert.deepEqual(padded(sel.memoryFrames.map((m) => m.frame), maxMemory), row(memUsed, t, p), `${where}: memory_frames_used`);
            assert.deepEqual(padded(sel.pointerFrames.map((m) => m.frame), maxPointers), row(ptrUsed, t, p), `${where}: ptr_frames_used`);
            if (memSlotsUsed) assert.deepEqual(padded(sel.memoryFrames.map((m) => m.slot), maxMemory), row(memSlotsUsed, t, p), `${where}: memory_frame_slots_used`);

            // The key weighting inputs are recorded; the weights are derived from them independently.
            const weights = keyWeights(sel);
            assert.ok(weights, `${where}: a tree step always has a non-conditioning memory frame`);
            assert.deepEqual([10, ...sel.memoryFrames.map((m) => m.objectScore)], pathLog.memory_frame_obj_scores, `${where}: frame scores`);
            assert.deepEqual([10, ...sel.pointerFrames.map((m) => m.objectScore)], pathLog.ptr_obj_scores, `${where}: pointer scores`);
            const expected = [...rankWeights(pathLog.memory_frame_obj_scores), ...rankWeights(pathLog.ptr_obj_scores)];
            [...weights.frames, ...weights.pointers].forEach((w, i) => {
              maxWeightDiff = Math.max(maxWeightDiff, Math.abs(w - expected[i]));
            });
            ties += countTies(pathLog.memory_frame_obj_scores) + countTies(pathLog.ptr_obj_scores);
          }

          const candidates = scoreCandidates(accScores, ious, objScores);
          const { kept, uncertain, cornerFill } = prunePaths(candidates, objScores, P, log.uncertainty);
          assert.equal(uncertain, frameLog.uncertain_branch, `frame ${t}: uncertain branch`);
          assert.equal(cornerFill, frameLog.corner_case_fill, `frame ${t}: corner-case fill`);
          if (uncertainT) assert.equal(uncertain, uncertainT.data[t] === 1, `frame ${t}: uncertain_branch tensor`);
          if (cornerT) assert.equal(cornerFill, cornerT.data[t] === 1, `frame ${t}: corner_case_fill tensor`);
          counts[uncertain ? 'uncertain' : 'certain']++;
          if (cornerFill) counts.cornerFill++;
          if (uncertain) {
            for (const c of candidates) minBoundaryDistance = Math.min(minBoundaryDistance, Math.abs(Math.abs(c.iou * 100) % 1 - 0.5) / 100);
          }

          assert.deepEqual(kept.map((c) => [c.parent, c.j]), frameLog.selected.map((c) => [c.parent_path, c.mask_j]), `frame ${t}: kept (parent, j)`);
          if (parentsT && masksT) {
            assert.deepEqual(kept.map((c) => c.parent), row(parentsT, t), `frame ${t}: selected_parent_path`);
            assert.deepEqual(kept.map((c) => c.j), row(masksT, t), `frame ${t}: selected_mask_index`);
          }
          kept.forEach((c, k) => {
            assert.equal(c.signedIou, frameLog.selected[k].signed_iou, `frame ${t} slot ${k}: signed IoU`);
            maxScoreDiffLog = Math.max(maxScoreDiffLog, Math.abs(c.score - frameLog.selected[k].acc_score));
            if (accT) {
              const [hi, lo] = row(accT, t, k);
              maxScoreDiffTensor = Math.max(maxScoreDiffTensor, Math.abs(c.score - (hi + lo)));
            }
          });

          tree = applySelection(tree, kept);
          const settled = settledFrames(tree);
          assert.equal(settled, settledByHistories(tree), `frame ${t}: settled frames`);
          settledTrail.push({ after: t, settled, slots: pathSlots(tree, 0).slice(0, settled - s) });
        }

        // Hindsight output: frames before s are not applicable (−1), the prompt frame is slot 0.
        const prefix = [...new Array<number>(s).fill(-1), 0];
        const best = [...prefix, ...traceBack(tree)];
        assert.deepEqual(best, row(golden(st).read('best_path_slot_per_frame')), 'best_path_slot_per_frame');
        assert.deepEqual(best, log.final_best_path_slots, 'final_best_path_slots (log)');
        const histories = golden(st).read('final_path_slot_history');
        for (let p = 0; p < P; p++) assert.deepEqual([...prefix, ...pathSlots(tree, p)], row(histories, p), `final_path_slot_history[${p}]`);
        // A settled frame is final: what every path had there is what the hindsight output has.
        for (const { after, settled, slots } of settledTrail) {
          assert.deepEqual(slots, best.slice(s + 1, settled + 1), `frames settled after frame ${after}`);
        }

        assert.ok(maxScoreDiffLog <= SCORE_TOL, `acc score vs log: ${maxScoreDiffLog}`);
        assert.ok(maxScoreDiffTensor <= SCORE_TOL, `acc score vs tensor: ${maxScoreDiffTensor}`);
        assert.ok(maxWeightDiff <= 1e-12, `key weights: ${maxWeightDiff}`);
        const lag = Math.max(...settledTrail.map(({ after, settled }) => after - settled));
        console.log(`      frames ${s + 2}..${numFrames - 1}: ${counts.certain} certain, ${counts.uncertain} uncertain, ${counts.cornerFill} corner fill`);
        console.log(`      acc score max|Δ| vs log ${maxScoreDiffLog.toExponential(2)}, vs hi+lo tensor ${accT ? maxScoreDiffTensor.toExponential(2) : 'n/a'} (tol 1e-9)`);
        console.log(`      key weights max|Δ| ${maxWeightDiff.toExponential(2)}, ties in score lists ${ties}; closest IoU to a 2-decimal boundary on uncertain frames ${minBoundaryDistance.toExponential(2)}`);
        console.log(`      settled frames after the last frame: ..${settledFrames(tree)}; largest lag behind the current frame ${lag}`);
      });
    });
  }
});
