/**
 * `sam2long eval` against the official SA-V evaluator's numbers (test/fixtures/golden/eval/expected.json):
 * every per-frame count, J and F, every per-object and global value, the printed table, the edge cases
 * and the two inputs on which the official code crashes or returns NaN.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../src/errors.js';
import {
  boundaryF, boundaryMap, boundaryRadius, diskOffsets, dilate, evaluateTrees, formatOneDecimal, formatResultTable, numpyMean, regionIoU, type EvaluateOptions, type EvaluationResult, type FrameScore, type LabelMap, type MaskTree,
} from '../src/eval/index.js';
import { evaluateFolders } from '../src/node/mask-folders.js';
import { main } from '../tools/cli.js';
import { fixturePath, goldenJson } from './helpers/golden.js';
import { quietly } from './helpers/console.js';

const TOL = 1e-9;
const EVAL = 'eval';

interface FrameRow {
  label: number;
  counted: boolean;
  reported: boolean;
  gt_area: number;
  pred_area: number;
  intersection: number;
  union: number;
  gt_boundary_px: number;
  pred_boundary_px: number;
  gt_boundary_matched: number;
  pred_boundary_matched: number;
  precision: number;
  recall: number;
  J: number;
  F: number;
}
interface Totals { J: number; F: number; JF: number }
interface ObjectRow extends Totals { video: string; object: string }
interface SetRun {
  evaluated_frames: string[];
  counted_frames: string[];
  per_frame: (FrameRow & { frame: string })[];
  per_object: Record<string, ObjectRow>;
  global: Totals;
}
interface EdgeRun {
  per_frame: { video: string; object_dir: string | null; frame: string; objects: FrameRow[] }[];
  per_object: Record<string, ObjectRow>;
  global: Totals;
  facebookresearch_sam2_copy: { per_object: Record<string, ObjectRow>; global: Totals };
}
interface Expected {
  boundary: Record<'video1' | 'edge', { H: number; W: number; bound_pix: number; disk: number[][] }>;
  sets: Record<string, Record<'default_skip_first_and_last' | 'do_not_skip_first_and_last_frame', SetRun> & {
    cli: Record<'default' | 'no_skip', { stdout: string }>;
  }>;
  edge: Record<'default_skip_first_and_last' | 'do_not_skip_first_and_last_frame', EdgeRun> & { cli_default: { stdout: string } };
}

const MODES = [
  { key: 'default_skip_first_and_last', skipFirstLast: true, cli: 'default' },
  { key: 'do_not_skip_first_and_last_frame', skipFirstLast: false, cli: 'no_skip' },
] as const;

/** Tracks the largest |actual − expected| of the float values, for the log line. */
class Deviation {
  max = 0;
  close(what: string, actual: number, expected: number): void {
    const d = Math.abs(actual - expected);
    assert.ok(d <= TOL, `${what}: ${actual} vs ${expected}`);
    this.max = Math.max(this.max, d);
  }
  log(label: string): void {
    console.log(`      ${label}: max|Δ| ${this.max.toExponential(2)} (tol ${TOL.toExponential(0)})`);
  }
}

function checkFrame(dev: Deviation, what: string, actual: FrameScore, row: FrameRow): void {
  const counts: [keyof FrameScore, keyof FrameRow][] = [
    ['gtArea', 'gt_area'], ['predArea', 'pred_area'], ['intersection', 'intersection'], ['union', 'union'],
    ['gtBoundaryPx', 'gt_boundary_px'], ['predBoundaryPx', 'pred_boundary_px'],
    ['gtBoundaryMatched', 'gt_boundary_matched'], ['predBoundaryMatched', 'pred_boundary_matched'],
  ];
  for (const [ours, theirs] of counts) assert.equal(actual[ours], row[theirs], `${what} ${theirs}`);
  for (const key of ['precision', 'recall', 'J', 'F'] as const) dev.close(`${what} ${key}`, actual[key], row[key]);
}

function checkTotals(dev: Deviation, label: string, result: EvaluationResult, perObject: Record<string, ObjectRow>, global: Totals): void {
  assert.deepEqual(result.objects.map((o) => `${o.video}/${o.object}`), Object.keys(perObject), `${label}: reported objects`);
  for (const o of result.objects) {
    const row = perObject[`${o.video}/${o.object}`];
    for (const key of ['J', 'F', 'JF'] as const) dev.close(`${label} ${o.video}/${o.object} ${key}`, o[key], row[key]);
  }
  for (const key of ['J', 'F', 'JF'] as const) dev.close(`${label} global ${key}`, result.global[key], global[key]);
}

/** The score of `frame` for (video, object) in a result, and whether it was reported. */
function frameOf(result: EvaluationResult, video: string, object: string, frame: string): { score: FrameScore; reported: boolean } {
  const o = result.videos.find((v) => v.video === video)?.objects.find((x) => x.object === object);
  const score = o?.frames.find((f) => f.frame === frame);
  assert.ok(o && score, `no score for ${video}/${object} ${frame}`);
  return { score, reported: o.reported };
}

const frameCount = (result: EvaluationResult) => result.videos.reduce((n, v) => n + v.objects.reduce((m, o) => m + o.frames.length, 0), 0);


/** The official printout from the table header through the summary line (paths and timing left out). */
function officialTable(stdout: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith('sequence'));
  const end = lines.findIndex((l) => l.startsWith('Global score: '));
  return lines.slice(start, end + 1).join('\n');
}

type MemoryFolder = { [name: string]: MemoryFolder | LabelMap };
const isMap = (x: MemoryFolder | LabelMap): x is LabelMap => 'data' in x && ArrayBuffer.isView(x.data);

/** A MaskTree held in memory, for inputs the fixtures do not cover. */
function memoryTree(root: MemoryFolder): MaskTree {
  const at = (segments: readonly string[]) => segments.reduce<MemoryFolder | LabelMap | undefined>(
    (node, name) => (node && !isMap(node) ? node[name] : undefined), root);
  return {
    list(segments) {
      const node = at(segments);
      return node && !isMap(node) ? Object.entries(node).map(([name, child]) => ({ name, isFolder: !isMap(child) })) : undefined;
    },
    read(segments) {
      const node = at(segments);
      if (!node || !isMap(node)) throw new InputError(`no PNG at ${segments.join('/')}`);
      return node;
    },
    describe: (segments) => ['mem', ...segments].join('/'),
  };
}

/** A width×height map with `value` inside the rectangle [x0, x1) × [y0, y1). */
function rect(width: number, height: number, x0: number, y0: number, x1: number, y1: number, value = 1): LabelMap & { data: Uint8Array } {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = value;
  return { width, height, data };
}

/** Frames 00000…0000{n−1} of one object. */
function frames(maps: LabelMap[]): MemoryFolder {
  return Object.fromEntries(maps.map((m, i) => [`0000${i}.png`, m]));
}

describe('eval (J&F as the official SA-V evaluator)', () => {
  const expected = goldenJson<Expected>(`${EVAL}/expected.json`);
  let tmp: string;

  before(() => {
    // video1's sets are flat frame folders: link them into the evaluator's two layouts.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-eval-'));
    for (const set of ['gt', ...Object.keys(expected.sets).map((s) => `pred_${s}`)]) {
      fs.mkdirSync(path.join(tmp, 'sav', set, 'video1'), { recursive: true });
      fs.symlinkSync(fixturePath(`${EVAL}/${set}`), path.join(tmp, 'sav', set, 'video1', '000'));
      fs.mkdirSync(path.join(tmp, 'davis', set), { recursive: true });
      fs.symlinkSync(fixturePath(`${EVAL}/${set}`), path.join(tmp, 'davis', set, 'video1'));
    }
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('boundary tolerance: ceil(0.008 · diagonal) and the disk element', () => {
    for (const size of [expected.boundary.video1, expected.boundary.edge]) {
      const radius = boundaryRadius(size.W, size.H);
      assert.equal(radius, size.bound_pix);
      const disk = size.disk.map((r) => r.map(() => 0));
      for (const [dy, dx] of diskOffsets(radius)) disk[dy + radius][dx + radius] = 1;
      assert.deepEqual(disk, size.disk);
    }
  });

  for (const set of ['greedy', 'tree', 'shifted', 'jitter']) {
    for (const mode of MODES) {
      for (const layout of ['sav', 'davis'] as const) {
        it(`video1 ${set}, ${mode.key}, ${layout === 'sav' ? 'SA-V' : 'DAVIS-like'} layout: every frame, object and total`, () => {
          const run = expected.sets[set][mode.key];
          const result = evaluateFolders({ gt: path.join(tmp, layout, 'gt'), pred: path.join(tmp, layout, `pred_${set}`), skipFirstLast: mode.skipFirstLast });
          const object = layout === 'sav' ? '000' : '1';
          const dev = new Deviation();
          assert.deepEqual(result.videos[0].objects[0].frames.map((f) => f.frame), run.counted_frames);
          for (const row of run.per_frame) {
            const { score, reported } = frameOf(result, 'video1', layout === 'sav' ? '000' : String(row.label), row.frame);
            assert.equal(reported, row.reported);
            checkFrame(dev, `${row.frame}`, score, row);
          }
          assert.equal(frameCount(result), run.per_frame.length);
          const perObject = Object.fromEntries(Object.values(run.per_object).map((o) => [`video1/${object}`, o]));
          checkTotals(dev, set, result, perObject, run.global);
          dev.log(`${set} ${mode.key} ${layout}: ${run.per_frame.length} frames, J&F ${result.global.JF}`);
          if (layout === 'sav') assert.equal(formatResultTable(result), officialTable(expected.sets[set].cli[mode.cli].stdout));
        });
      }
    }
  }

  for (const mode of MODES) {
    it(`edge suite, ${mode.key}: late objects, prediction-only labels, leaving objects, borders, multi-object means`, () => {
      const run = expected.edge[mode.key];
      const result = evaluateFolders({ gt: fixturePath(`${EVAL}/edge/gt`), pred: fixturePath(`${EVAL}/edge/pred`), skipFirstLast: mode.skipFirstLast });
      const dev = new Deviation();
      let rows = 0;
      for (const f of run.per_frame) {
        for (const row of f.objects) {
          const { score, reported } = frameOf(result, f.video, f.object_dir ?? String(row.label), f.frame);
          assert.equal(reported, row.reported, `${f.video} ${f.frame} label ${row.label} reported`);
          checkFrame(dev, `${f.video}/${f.object_dir ?? row.label} ${f.frame}`, score, row);
          rows++;
        }
      }
      assert.equal(frameCount(result), rows, 'no frame scored that the official evaluator does not score');
      checkTotals(dev, 'edge', result, run.per_object, run.global);
      dev.log(`edge ${mode.key}: ${rows} frame rows, J&F ${result.global.JF}`);
      if (mode.skipFirstLast) assert.equal(formatResultTable(result), officialTable(expected.edge.cli_default.stdout));
    });

    it(`edge suite, ${mode.key}: GT 255 as an object reproduces facebookresearch/sam2's copy`, () => {
      const copy = expected.edge[mode.key].facebookresearch_sam2_copy;
      const result = evaluateFolders({
        gt: fixturePath(`${EVAL}/edge/gt`), pred: fixturePath(`${EVAL}/edge/pred`), skipFirstLast: mode.skipFirstLast, gtVoidIsBackground: false,
      });
      const dev = new Deviation();
      checkTotals(dev, 'sam2 copy', result, copy.per_object, copy.global);
      dev.log(`edge ${mode.key}, facebookresearch/sam2 rule`);
    });
  }

  it('an SA-V object whose GT is empty on every evaluated frame is an InputError (the official code asserts)', () => {
    const root = fixturePath(`${EVAL}/edge_crash/c1_gt_never_sav`);
    assert.throws(() => evaluateFolders({ gt: `${root}/gt`, pred: `${root}/pred` }),
      (e: Error) => e instanceof InputError && /gt_never_sav\/000: the GT mask is empty on all 4 evaluated frame\(s\)/.test(e.message));
  });

  it('no GT object anywhere (DAVIS-like) is an InputError (the official code prints nan)', () => {
    const root = fixturePath(`${EVAL}/edge_crash/c2_gt_never_davislike`);
    assert.throws(() => evaluateFolders({ gt: `${root}/gt`, pred: `${root}/pred` }),
      (e: Error) => e instanceof InputError && /no GT object on any evaluated frame of gt_never_davislike.*J&F is undefined/.test(e.message));
  });

  it('a DAVIS-like video without GT objects is left out when other videos have objects', () => {
    const crash = fixturePath(`${EVAL}/edge_crash/c2_gt_never_davislike`);
    const edge = fixturePath(`${EVAL}/edge`);
    const [gt, pred] = ['gt', 'pred'].map((side) => {
      const dir = path.join(tmp, 'mixed', side);
      fs.mkdirSync(dir, { recursive: true });
      fs.symlinkSync(path.join(crash, side, 'gt_never_davislike'), path.join(dir, 'gt_never_davislike'));
      fs.symlinkSync(path.join(edge, side, 'e3_davislike_multi'), path.join(dir, 'e3_davislike_multi'));
      return dir;
    });
    const result = evaluateFolders({ gt, pred });
    assert.deepEqual(result.videos.map((v) => [v.video, v.objects.filter((o) => o.reported).length]), [['e3_davislike_multi', 2], ['gt_never_davislike', 0]]);
    const e3 = Object.values(expected.edge.default_skip_first_and_last.per_object).filter((o) => o.video === 'e3_davislike_multi');
    assert.deepEqual(result.objects.map((o) => o.J), e3.map((o) => o.J));
  });

  it('input errors name the file: missing prediction, size mismatch, >2 values in an SA-V PNG, mixed video folder', () => {
    const gt = memoryTree({ v: { '000': frames([rect(8, 8, 0, 0, 4, 4), rect(8, 8, 1, 1, 5, 5), rect(8, 8, 2, 2, 6, 6)]) } });
    const check = (pred: MaskTree, pattern: RegExp, options: EvaluateOptions = {}, truth = gt) =>
      assert.throws(() => evaluateTrees(truth, pred, options), (e: Error) => e instanceof InputError && pattern.test(e.message));
    check(memoryTree({ v: { '000': frames([rect(8, 8, 0, 0, 1, 1)]) } }), /mem\/v\/000\/00001\.png not found/);
    check(memoryTree({ v: { '000': frames([rect(8, 8, 0, 0, 1, 1), rect(8, 6, 0, 0, 1, 1)]) } }), /00001\.png is 8x6 but its GT is 8x8/);
    const threeValues = rect(8, 8, 0, 0, 2, 2, 2);
    threeValues.data[63] = 1;
    check(memoryTree({ v: { '000': frames([rect(8, 8, 0, 0, 1, 1), threeValues]) } }), /00001\.png: 3 distinct values \(0, 1, 2\)/);
    const mixed = memoryTree({ v: { '000': frames([rect(8, 8, 0, 0, 1, 1)]), 'notes.txt': rect(1, 1, 0, 0, 0, 0) } });
    check(gt, /mem\/v\/notes\.txt: a GT video folder holds either only \.png frames/, {}, mixed);
    check(memoryTree({ w: {} }), /no video folder is in both/);
  });

  it('strict mode needs the same videos; otherwise unmatched videos are listed and skipped', () => {
    const object = { '000': frames([rect(8, 8, 0, 0, 4, 4), rect(8, 8, 1, 1, 5, 5), rect(8, 8, 2, 2, 6, 6)]) };
    const gt = memoryTree({ a: object, b: object });
    const pred = memoryTree({ a: object, c: object });
    assert.throws(() => evaluateTrees(gt, pred, { strict: true }), /only in the GT: b; only in the predictions: c/);
    const result = evaluateTrees(gt, pred);
    assert.deepEqual([result.videos.map((v) => v.video), result.gtOnlyVideos, result.predOnlyVideos], [['a'], ['b'], ['c']]);
    assert.deepEqual(result.global, { J: 100, F: 100, JF: 100 });
  });

  it('seg2bmap border rules, empty and full masks', () => {
    // A 2×2 square at the bottom-right corner of a 4×4 image: its boundary lies outside it on the top and
    // left, inside it on the right/bottom border, and the image border itself is never a boundary.
    const square = rect(4, 4, 2, 2, 4, 4).data;
    assert.deepEqual([...boundaryMap(square, 4, 4)], [0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0]);
    const empty = new Uint8Array(16);
    const full = new Uint8Array(16).fill(1);
    assert.deepEqual(regionIoU(empty, empty), { J: 1, gtArea: 0, predArea: 0, intersection: 0, union: 0 });
    assert.equal(regionIoU(full, square).J, 0.25);
    // A full-image mask has no boundary: against the square it scores P = 1, R = 0.
    const againstFull = boundaryF(square, full, 4, 4);
    assert.deepEqual([againstFull.precision, againstFull.recall, againstFull.F, againstFull.predBoundaryPx], [1, 0, 0, 0]);
    assert.equal(boundaryF(full, full, 4, 4).F, 1);
    assert.deepEqual([...dilate(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0]), 3, 3, 1)], [1, 1, 0, 1, 0, 0, 0, 0, 0]);
    assert.throws(() => boundaryF(square, full, 5, 4), InputError);
  });

  it("means use numpy's pairwise summation; tables round like Python's .1f", () => {
    // Left to right these sum to 1 (1 + 1e16 rounds to 1e16); numpy's 8 lanes add (1 + 1e16) + (−1e16 + 1) = 0.
    assert.equal(numpyMean([1, 1e16, -1e16, 1, 0, 0, 0, 0]), 0);
    assert.equal(numpyMean([1, 1e16, -1e16, 1]), 1 / 4);
    assert.ok(Number.isNaN(numpyMean([])));
    assert.deepEqual([0.25, 0.75, 87.25, 2.5, 0.05, 100].map(formatOneDecimal), ['0.2', '0.8', '87.2', '2.5', '0.1', '100.0']);
  });

  it('sam2long eval: table, JSON file, exit codes', async () => {
    const json = path.join(tmp, 'out.json');
    const ok = await quietly(() => main(['eval', '--gt', path.join(tmp, 'sav', 'gt'), '--pred', path.join(tmp, 'sav', 'pred_jitter'), '--json', json]));
    assert.equal(ok.result, 0, ok.err);
    assert.ok(ok.out.includes(officialTable(expected.sets.jitter.cli.default.stdout)), ok.out);
    const written = JSON.parse(fs.readFileSync(json, 'utf8')) as EvaluationResult;
    assert.equal(written.global.JF, expected.sets.jitter.default_skip_first_and_last.global.JF);
    assert.equal(written.videos[0].objects[0].frames.length, 22);
    const noSkip = await quietly(() => main(['eval', '--gt', path.join(tmp, 'sav', 'gt'), '--pred', path.join(tmp, 'sav', 'pred_shifted'), '--no-skip-first-last']));
    assert.ok(noSkip.out.includes(officialTable(expected.sets.shifted.cli.no_skip.stdout)), noSkip.out);
    const crash = fixturePath(`${EVAL}/edge_crash/c1_gt_never_sav`);
    const failed = await quietly(() => main(['eval', '--gt', `${crash}/gt`, '--pred', `${crash}/pred`]));
    assert.equal(failed.result, 2);
    assert.match(failed.err, /sam2long eval: .*gt_never_sav\/000: the GT mask is empty/);
    assert.equal((await quietly(() => main(['eval', '--gt', 'x']))).result, 2);
    assert.equal((await quietly(() => main(['eval', '--help']))).result, 0);
    // --json never lands on or among the masks, also where a video folder is a link into a dataset elsewhere:
    // --json gt/video1/00000.png would have replaced that GT frame.
    const dataset = path.join(tmp, 'json-dataset');
    fs.cpSync(fixturePath(`${EVAL}/gt`), dataset, { recursive: true });
    const [gtRoot, predRoot] = [path.join(tmp, 'json-gt'), path.join(tmp, 'json-pred')];
    fs.mkdirSync(gtRoot);
    fs.symlinkSync(dataset, path.join(gtRoot, 'video1'));
    fs.mkdirSync(path.join(predRoot, 'video1'), { recursive: true });
    fs.cpSync(fixturePath(`${EVAL}/pred_shifted`), path.join(predRoot, 'video1'), { recursive: true });
    const gtFrame = path.join(gtRoot, 'video1', '00000.png');
    const before = fs.readFileSync(gtFrame);
    for (const [target, message] of [
      [gtFrame, /--gt '.*' and --json '.*00000\.png': the second is inside the first; an output must be apart from the input/],
      [path.join(predRoot, 'x', '..', 'scores.json'), /--pred '.*' and --json .*: the second is inside the first/],
    ] as const) {
      const r = await quietly(() => main(['eval', '--gt', gtRoot, '--pred', predRoot, '--json', target]));
      assert.equal(r.result, 2, r.err);
      assert.match(r.err, message);
    }
    assert.deepEqual(fs.readFileSync(gtFrame), before, 'the GT frame is untouched');
    assert.ok(!fs.existsSync(path.join(predRoot, 'scores.json')));
    const apart = await quietly(() => main(['eval', '--gt', gtRoot, '--pred', predRoot, '--json', path.join(tmp, 'json-scores.json')]));
    assert.equal(apart.result, 0, apart.err);
  });
});
