/**
 * Datasets: `sam2long vos` / `segmentDataset` against the official tools/vos_inference.py of sam2 and SAM2Long
 * on the golden VOS dataset (test/fixtures/golden/vos, see its README) in its three modes; the non-overlap
 * rule; the DAVIS and SA-V layouts; `segment --mask`; resuming after a kill; a corrupt frame failing its video
 * alone; `sam2long eval` on the outputs; and the BullMQ queue with workers killed and joining.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { main } from '../tools/cli.js';
import { parseVosArgs } from '../tools/cli-vos.js';
import { decodePng, encodePng } from '../src/io/png.js';
import { readLabelPng } from '../src/node/mask-folders.js';
import { NON_OVERLAP_CLAMP, NOT_STARTED_LOGIT, applyNonOverlap, nonOverlappingMasks } from '../src/predictor/non-overlap.js';
import { readAnnotation, writeFrameMasks, DAVIS_PALETTE } from '../src/node/vos/layout.js';
import { segmentDataset, type DatasetEvent, type DatasetSummary } from '../src/node/vos/segment-dataset.js';
import { PARTIAL_DIR, VIDEO_RECORD, partialFolder, processVideo } from '../src/node/vos/process-video.js';
import { planVideo } from '../src/node/vos/segment-video.js';
import { resolveSettings } from '../src/node/vos/settings.js';
import { QUEUE_NAME, redisConnection } from '../src/node/vos/queue.js';
import { fixturePath, setupBackend } from './helpers/golden.js';
import { quietly } from './helpers/console.js';
import { startRedis, type RedisServer } from './helpers/redis.js';
import { countCalls } from './helpers/model-calls.js';

const VOS = fixturePath('vos');
const JPEGS = path.join(VOS, 'data/JPEGImages');
const ANNOTATIONS = path.join(VOS, 'data/Annotations');
const MODEL = fixturePath('sam21_mini_b.pt');
const CONFIG = fixturePath('sam21_mini_b.config.json');
const REPO = path.resolve(fixturePath('.'), '../../..');

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { result, out, err } = await quietly(() => main(args));
  return { code: result, out, err };
}

const vosArgs = (videos: string, masks: string, out: string, ...extra: string[]) =>
  ['vos', '--model', MODEL, '--config', CONFIG, '--videos', videos, '--masks', masks, '--out', out, '--quiet', ...extra];

function pngs(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.png')).sort();
}

/**
 * Per frame and object, the IoU of our masks with the official run's (the golden README's criterion: ≥ 0.99,
 * or both empty). Returns every object-frame below 0.99 and the lowest IoU.
 */
function compareWithOfficial(out: string, official: string, clips = fs.readdirSync(official).sort()): { below: string[]; worst: number; compared: number } {
  const below: string[] = [];
  let worst = 1;
  let compared = 0;
  for (const clip of clips) {
    assert.deepEqual(pngs(path.join(out, clip)), pngs(path.join(official, clip)), `${clip}: the same frames are written`);
    for (const f of pngs(path.join(official, clip))) {
      const a = readLabelPng(path.join(out, clip, f)).data;
      const b = readLabelPng(path.join(official, clip, f)).data;
      const ids = new Set([...a, ...b].filter((v) => v > 0));
      for (const id of ids) {
        let inter = 0;
        let union = 0;
        for (let p = 0; p < a.length; p++) {
          const x = a[p] === id;
          const y = b[p] === id;
          if (x && y) inter++;
          if (x || y) union++;
        }
        const iou = inter / union;
        compared++;
        worst = Math.min(worst, iou);
        if (iou < 0.99) below.push(`${clip}/${f} object ${id}: IoU ${iou.toFixed(4)}`);
      }
    }
  }
  return { below, worst, compared };
}

function report(what: string, c: ReturnType<typeof compareWithOfficial>): void {
  console.log(`      ${what}: ${c.compared} object-frames, lowest IoU ${c.worst.toFixed(4)}${c.below.length ? `; below 0.99: ${c.below.join('; ')}` : ''}`);
}

/** Byte-equal label maps in every video folder of `a` and `b`. */
function assertSameOutputs(a: string, b: string, videos: string[]): void {
  for (const v of videos) {
    assert.deepEqual(pngs(path.join(a, v)), pngs(path.join(b, v)), `${v}: the same frames`);
    for (const f of pngs(path.join(a, v))) {
      assert.deepEqual(readLabelPng(path.join(a, v, f)).data, readLabelPng(path.join(b, v, f)).data, `${v}/${f}`);
    }
  }
}

/** A copy of the golden dataset with the first `frames` frames of each clip (object 5 of clipB appears on frame 6). */
function smallDataset(root: string, frames: number, extraCopy?: string): { videos: string; masks: string; names: string[] } {
  const videos = path.join(root, 'JPEGImages');
  const masks = path.join(root, 'Annotations');
  const names = ['clipA', 'clipB', ...(extraCopy ? [extraCopy] : [])];
  for (const name of names) {
    const src = name === extraCopy ? 'clipB' : name;
    fs.mkdirSync(path.join(videos, name), { recursive: true });
    for (const f of fs.readdirSync(path.join(JPEGS, src)).sort().slice(0, frames)) fs.copyFileSync(path.join(JPEGS, src, f), path.join(videos, name, f));
    fs.cpSync(path.join(ANNOTATIONS, src), path.join(masks, name), { recursive: true });
  }
  return { videos, masks, names };
}

function leftovers(out: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.name === PARTIAL_DIR || e.name.endsWith('.partial')) found.push(p);
      else if (e.isDirectory()) walk(p);
    }
  };
  walk(out);
  return found;
}

/** The writer folders under `<out>/.partial/<video>/` (named `<host>-<pid>-<random>`), as `<video>/<writer>`. */
function partialWriters(out: string): string[] {
  const root = path.join(out, PARTIAL_DIR);
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((v) => {
    try {
      return fs.readdirSync(path.join(root, v)).map((w) => `${v}/${w}`);
    } catch {
      return [];
    }
  });
}

/** The video a process (by pid) is writing into `out`, if any. */
function heldBy(out: string, pid: number | undefined): string | undefined {
  return partialWriters(out).find((w) => w.includes(`-${pid}-`))?.split('/')[0];
}

function startCli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'tools/cli.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** How the child ended, once its stderr has been read to the end ('close' comes after 'exit' and the streams). */
function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const done = child.stderr ? child.stderr.readableEnded || child.stderr.destroyed : true;
  if ((child.exitCode !== null || child.signalCode !== null) && done) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

async function until(what: string, cond: () => boolean, timeoutMs = 300_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('vos: the non-overlap rule (sam2 _apply_non_overlapping_constraints)', () => {
  it('the highest logit keeps its value, the others are clamped to at most -10, ties go to the first object', () => {
    const a = Float32Array.from([5, -3, 2, -20, 1]);
    const b = Float32Array.from([4, -1, 2, -30, 3]);
    const [x, y] = applyNonOverlap([a, b]);
    assert.deepEqual([...x], [5, -10, 2, -20, NON_OVERLAP_CLAMP]);
    assert.deepEqual([...y], [NON_OVERLAP_CLAMP, -1, NON_OVERLAP_CLAMP, -30, 3]);
    assert.deepEqual([...a], [5, -3, 2, -20, 1], 'inputs untouched');
    const [m1, m2] = nonOverlappingMasks([a, b]);
    assert.deepEqual([...m1], [1, 0, 1, 0, 0]);
    assert.deepEqual([...m2], [0, 0, 0, 0, 1]);
  });

  it('one object is left as it is; no pixel is ever on for two objects', () => {
    assert.deepEqual([...applyNonOverlap([Float32Array.from([-12, 3])])[0]], [-12, 3]);
    const logits = Array.from({ length: 4 }, (_, o) => Float32Array.from({ length: 500 }, (_, p) => Math.sin(p * (o + 1) * 0.37) * 20));
    const masks = nonOverlappingMasks(logits);
    for (let p = 0; p < 500; p++) assert.ok(masks.reduce((n, m) => n + m[p], 0) <= 1);
  });
});

describe('vos: the command line', () => {
  const base = ['--model', MODEL, '--videos', JPEGS, '--masks', ANNOTATIONS, '--out', 'preds'];

  it('every option of the issue maps to the settings of the official mode it names', () => {
    assert.deepEqual(parseVosArgs(base).settings, { model: MODEL, config: undefined, trackLater: false, useAllMasks: false, perObjectPng: false });
    const tree = parseVosArgs([...base, '--tree', '3', '--iou-threshold', '0.1', '--uncertainty', '2', '--per-object-png']);
    assert.deepEqual(tree.settings.tree, { pathways: 3, iouThreshold: 0.1, uncertainty: 2 });
    assert.equal(tree.settings.perObjectPng, true);
    assert.equal(resolveSettings(tree.settings).mode, 'sam2long');
    assert.deepEqual(resolveSettings(parseVosArgs([...base, '--tree', '5']).settings).tree, { pathways: 5, iouThreshold: 0.1, uncertainty: 2 });
    const later = parseVosArgs([...base, '--track-later', '--use-all-masks', '--video-list', 'list.txt', '--overwrite', '--queue', 'redis://q:6380/2']);
    assert.deepEqual([later.settings.trackLater, later.settings.useAllMasks, later.videoList, later.overwrite, later.queue], [true, true, 'list.txt', true, 'redis://q:6380/2']);
    assert.equal(resolveSettings(later.settings).mode, 'sam2-later');
  });

  it('refuses options that contradict each other, naming them', () => {
    for (const [extra, message] of [
      [['--tree', '3', '--track-later'], /--track-later is SAM 2's per-object mode/],
      [['--tree', '3', '--use-all-masks'], /--use-all-masks does not go with --tree/],
      [['--iou-threshold', '0.2'], /--iou-threshold is a SAM2Long option: use it with --tree/],
      [['--tree', '3', '--iou-threshold', '1.5'], /--iou-threshold: 1.5 is not an IoU/],
      [['--tree', '0'], /--tree/],
      [['--queue', 'http://q:6379'], /--queue 'http:\/\/q:6379': expected redis:\/\/host:port/],
    ] as const) assert.throws(() => parseVosArgs([...base, ...extra]), message);
  });
});

describe('vos: layouts', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-vos-layout-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('DAVIS palette PNGs: objects by value, the palette kept on output', () => {
    const ann = readAnnotation(ANNOTATIONS, 'clipB', '00006', false);
    assert.ok(ann);
    assert.deepEqual([...ann.objects.keys()], [1, 3, 5]);
    assert.ok(ann.palette);
    assert.equal(readAnnotation(ANNOTATIONS, 'clipB', '00003', false), undefined, 'an unannotated frame');
    const ids = [...ann.objects.keys()];
    writeFrameMasks(tmp, '00006', ids, [...ann.objects.values()], ann.width, ann.height, { perObjectPng: false, palette: ann.palette });
    const written = decodePng(fs.readFileSync(path.join(tmp, '00006.png')));
    assert.equal(written.colorType, 'palette');
    assert.deepEqual(written.palette, ann.palette);
    assert.deepEqual(readLabelPng(path.join(tmp, '00006.png')).data, readLabelPng(path.join(ANNOTATIONS, 'clipB/00006.png')).data);
  });

  it('--use-all-masks: every annotated frame prompts its objects; the default mode refuses an object first seen later, as sam2\'s script', () => {
    const base = { model: MODEL, config: CONFIG };
    const prompts = (s: Parameters<typeof resolveSettings>[0]) =>
      Object.fromEntries(planVideo(JPEGS, ANNOTATIONS, 'clipB', resolveSettings(s)).objects.map((o) => [o.id, [...o.masks.keys()]]));
    // clipB is annotated on frames 0 (objects 1, 3) and 6 (objects 1, 3 and 5).
    assert.deepEqual(prompts(base), { 1: [0], 3: [0] });
    assert.deepEqual(prompts({ ...base, trackLater: true }), { 1: [0], 3: [0], 5: [6] });
    assert.deepEqual(prompts({ ...base, trackLater: true, useAllMasks: true }), { 1: [0, 6], 3: [0, 6], 5: [6] });
    assert.throws(() => prompts({ ...base, useAllMasks: true }), /object 5 appears only on the later frame 00006 \(use --track-later\)/);
    assert.throws(() => prompts({ ...base, tree: { pathways: 3 }, useAllMasks: true }), /object 1 has masks on several frames/);
  });

  it('a writer clears what a killed writer left of its own video only (videos clipB and clipB.x), and its own folder on failure', async () => {
    const out = path.join(tmp, 'partial');
    const other = path.join(partialFolder(out, 'clipB.x'), 'host-1-0000aaaa');
    const stale = path.join(partialFolder(out, 'clipB'), 'host-2-0000bbbb');
    for (const d of [other, stale]) {
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, '00000.png'), 'half-written');
    }
    const settings = resolveSettings({ model: MODEL, config: CONFIG });
    const record = await processVideo(async () => { throw new Error('no model today'); },
      { videosRoot: JPEGS, masksRoot: ANNOTATIONS, out, video: 'clipB', settings });
    assert.equal(record.status, 'failed');
    assert.equal(record.error, 'no model today');
    assert.equal(fs.readFileSync(path.join(other, '00000.png'), 'utf8'), 'half-written', 'the other video\'s writer keeps its folder');
    assert.ok(!fs.existsSync(partialFolder(out, 'clipB')), 'the stale folder is gone, and so is the failed writer\'s');
    assert.ok(!fs.existsSync(path.join(out, 'clipB')), 'nothing under the video\'s name');
  });

  it('SA-V per-object folders: written as <id %03d>/<frame>.png and read back', () => {
    const ann = readAnnotation(ANNOTATIONS, 'clipB', '00006', false);
    assert.ok(ann);
    const dir = path.join(tmp, 'sav', 'clipB');
    fs.mkdirSync(dir, { recursive: true });
    writeFrameMasks(dir, '00006', [...ann.objects.keys()], [...ann.objects.values()], ann.width, ann.height, { perObjectPng: true, palette: DAVIS_PALETTE });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['001', '003', '005']);
    const back = readAnnotation(path.join(tmp, 'sav'), 'clipB', '00006', true);
    assert.ok(back);
    assert.deepEqual([...back.objects.keys()], [1, 3, 5]);
    for (const [id, mask] of ann.objects) assert.deepEqual(back.objects.get(id), mask);
  });
});

describe('vos: the golden dataset, as the official scripts run it', function () {
  this.timeout(1_200_000);
  let tmp: string;
  before(async () => {
    await setupBackend();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-vos-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('library, SAM 2 (vos_inference): every frame and object as out_sam2; progress events, records and summary.json', async () => {
    const out = path.join(tmp, 'sam2');
    const events: DatasetEvent[] = [];
    const summary = await segmentDataset({ videos: JPEGS, masks: ANNOTATIONS, out, settings: { model: MODEL, config: CONFIG }, onEvent: (e) => events.push(e) });
    const c = compareWithOfficial(out, path.join(VOS, 'out_sam2'));
    report('out_sam2', c);
    assert.deepEqual(c.below, []);
    assert.deepEqual(summary.videos.map((v) => [v.video, v.status, v.frames, v.objects]), [['clipA', 'done', 30, [1, 2]], ['clipB', 'done', 32, [1, 3]]]);
    const written = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as DatasetSummary;
    assert.deepEqual(written.videos.map((v) => v.video), ['clipA', 'clipB']);
    assert.ok(written.videos.every((v) => v.seconds > 0));
    assert.deepEqual(events.filter((e) => e.type === 'video-end').length, 2);
    const frames = events.filter((e): e is Extract<DatasetEvent, { type: 'frames' }> => e.type === 'frames' && e.video === 'clipB');
    assert.equal(frames.at(-1)?.done, 32);
    assert.equal(frames.at(-1)?.total, 32);
    assert.ok(fs.existsSync(path.join(out, 'clipA', VIDEO_RECORD)));
    assert.deepEqual(leftovers(out), []);

    // sam2long eval scores the outputs against ground truth (here the official outputs).
    const ev = await cli('eval', '--gt', path.join(VOS, 'out_sam2'), '--pred', out);
    assert.equal(ev.code, 0, ev.err);
    const jf = Number(/Global score: J&F: ([\d.]+)/.exec(ev.out)?.[1]);
    console.log(`      eval against out_sam2:\n${ev.out.split('\n').map((l) => `        ${l}`).join('\n')}`);
    assert.ok(jf > 95, `J&F ${jf}`);
  });

  it('library, SAM2Long P=3 (its vos_separate_inference_per_object): as out_sam2long, object 5 from frame 6', async () => {
    const out = path.join(tmp, 'sam2long');
    const summary = await segmentDataset({ videos: JPEGS, masks: ANNOTATIONS, out, settings: { model: MODEL, config: CONFIG, tree: { pathways: 3, iouThreshold: 0.1, uncertainty: 2 } } });
    assert.deepEqual(summary.videos.map((v) => v.objects), [[1, 2], [1, 3, 5]]);
    const c = compareWithOfficial(out, path.join(VOS, 'out_sam2long'));
    report('out_sam2long', c);
    // Where two objects both claim pixels (argmax of two positive logits), rounding moves their border.
    assert.ok(c.worst >= 0.98 && c.below.length <= 1, c.below.join('; '));
  });

  it('CLI, SAM 2 --track-later: as out_sam2_later (every frame written); run again, every video is skipped', async () => {
    const out = path.join(tmp, 'later');
    const r = await cli(...vosArgs(JPEGS, ANNOTATIONS, out, '--track-later'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /2 video\(s\): 2 segmented, 0 already complete, 0 failed/);
    const c = compareWithOfficial(out, path.join(VOS, 'out_sam2_later'));
    report('out_sam2_later', c);
    assert.ok(c.worst >= 0.98 && c.below.length <= 1, c.below.join('; '));
    const again = await cli(...vosArgs(JPEGS, ANNOTATIONS, out, '--track-later'));
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /2 video\(s\): 0 segmented, 2 already complete, 0 failed/);
    // Other settings into the same folder: refused per video (never overwritten), exit 1.
    const other = await cli(...vosArgs(JPEGS, ANNOTATIONS, out, '--video-list', writeList(tmp, ['clipA'])));
    assert.equal(other.code, 1);
    assert.match(other.err, /clipA failed: .*other settings.*--overwrite/);
    assert.match(other.out, /^1 video\(s\): 0 segmented, 0 already complete, 1 failed/m, '--video-list: clipA only');
  });

  it('segment --mask: the annotation PNG of a golden frame as mask prompts gives out_sam2', async () => {
    const out = path.join(tmp, 'segment-mask', 'clipB');
    const mask = path.join(ANNOTATIONS, 'clipB/00000.png');
    const r = await cli('segment', '--model', MODEL, '--config', CONFIG, '--frames', path.join(JPEGS, 'clipB'), '--out', out, '--quiet',
      '--obj', '1', '--mask', mask, '--obj', '3', '--mask', mask);
    assert.equal(r.code, 0, r.err);
    const c = compareWithOfficial(path.dirname(out), path.join(VOS, 'out_sam2'), ['clipB']);
    report('segment --mask vs out_sam2/clipB', c);
    assert.deepEqual(c.below, []);
    const missing = await cli('segment', '--model', MODEL, '--config', CONFIG, '--frames', path.join(JPEGS, 'clipB'), '--out', path.join(tmp, 'x'), '--obj', '2', '--mask', mask);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /label map without object 2 \(it holds 1, 3\)/);
  });

  it('segment --mask: a binary PNG (grey 0/255 or 0/1) is the object itself, as its pixels of the label PNG', async () => {
    const ann = readAnnotation(ANNOTATIONS, 'clipB', '00000', false);
    assert.ok(ann);
    const object3 = ann.objects.get(3) as Uint8Array;
    const run = async (name: string, ...prompt: string[]) => {
      const out = path.join(tmp, 'segment-binary', name);
      const r = await cli('segment', '--model', MODEL, '--config', CONFIG, '--frames', path.join(JPEGS, 'clipB'), '--out', out, '--quiet',
        '--max-frames', '2', ...prompt);
      assert.equal(r.code, 0, r.err);
      return out;
    };
    const binaryFile = (values: [number, number], name: string) => {
      const file = path.join(tmp, name);
      fs.writeFileSync(file, encodePng({ width: ann.width, height: ann.height, colorType: 'grey', bitDepth: 8, samples: Uint8Array.from(object3, (v) => values[v]) }));
      return file;
    };
    const label = await run('label', '--obj', '3', '--mask', path.join(ANNOTATIONS, 'clipB/00000.png'));
    for (const [name, values] of [['mask-255.png', [0, 255]], ['mask-1.png', [0, 1]]] as const) {
      const binary = await run(name, '--obj', '3', '--mask', binaryFile([...values], name));
      assert.deepEqual(pngs(binary), ['00000.png', '00001.png', '00002.png']);
      for (const f of pngs(label)) assert.deepEqual(readLabelPng(path.join(binary, f)).data, readLabelPng(path.join(label, f)).data, `${name}: ${f}`);
    }
  });
});

function writeList(dir: string, names: string[]): string {
  const file = path.join(dir, `list-${names.join('-')}.txt`);
  fs.writeFileSync(file, `${names.join('\n')}\n`);
  return file;
}

describe('vos: resuming, failing alone, and the queue', function () {
  this.timeout(1_200_000);
  let tmp: string;
  let data: ReturnType<typeof smallDataset>;
  let reference: string;
  before(async () => {
    await setupBackend();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-vos-run-'));
    data = smallDataset(path.join(tmp, 'data'), 8, 'clipC');
    reference = path.join(tmp, 'reference');
    const s = await segmentDataset({ videos: data.videos, masks: data.masks, out: reference, settings: { model: MODEL, config: CONFIG, trackLater: true } });
    assert.deepEqual(s.failed, []);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a video with a corrupt JPEG fails alone, with its reason; the others are written; exit 1', async () => {
    const broken = smallDataset(path.join(tmp, 'broken'), 8);
    fs.writeFileSync(path.join(broken.videos, 'clipB/00003.jpg'), Buffer.from('not a jpeg at all'));
    const out = path.join(tmp, 'broken-out');
    const r = await cli(...vosArgs(broken.videos, broken.masks, out, '--track-later'));
    assert.equal(r.code, 1);
    assert.match(r.err, /video clipB failed: .*00003\.jpg/);
    assert.match(r.err, /failed videos: clipB/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as DatasetSummary;
    assert.deepEqual(summary.videos.map((v) => v.status), ['done', 'failed']);
    assert.match(summary.videos[1].error ?? '', /00003\.jpg/);
    assert.ok(!fs.existsSync(path.join(out, 'clipB')), 'nothing half-written under the video name');
    assertSameOutputs(out, reference, ['clipA']);
    assert.deepEqual(leftovers(out), []);
  });

  it('killed mid-run, then run again: finished videos are skipped, the rest is written, the result is the same', async () => {
    const out = path.join(tmp, 'resume');
    const child = startCli(vosArgs(data.videos, data.masks, out, '--track-later'));
    await until('the first video to finish', () => fs.existsSync(path.join(out, 'clipA', VIDEO_RECORD)));
    child.kill('SIGKILL');
    await exited(child);
    const finished = data.names.filter((v) => fs.existsSync(path.join(out, v, VIDEO_RECORD)));
    assert.ok(finished.length < data.names.length, 'killed before the end');
    const r = await cli(...vosArgs(data.videos, data.masks, out, '--track-later'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`${data.names.length - finished.length} segmented, ${finished.length} already complete, 0 failed`));
    assertSameOutputs(out, reference, data.names);
    assert.deepEqual(leftovers(out), []);
  });

  it('--use-all-masks --track-later: frame 6\'s annotation prompts objects 1 and 3 again, so its output is that annotation', async () => {
    const out = path.join(tmp, 'all-masks');
    const r = await cli(...vosArgs(data.videos, data.masks, out, '--track-later', '--use-all-masks', '--video-list', writeList(tmp, ['clipB'])));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /1 video\(s\): 1 segmented, 0 already complete, 0 failed/);
    const record = JSON.parse(fs.readFileSync(path.join(out, 'clipB', VIDEO_RECORD), 'utf8')) as { settings: { useAllMasks: boolean; mode: string } };
    assert.deepEqual([record.settings.mode, record.settings.useAllMasks], ['sam2-later', true]);
    const annotation = readLabelPng(path.join(data.masks, 'clipB/00006.png')).data;
    const iou = (dir: string, id: number) => {
      const labels = readLabelPng(path.join(dir, 'clipB/00006.png')).data;
      let inter = 0;
      let union = 0;
      labels.forEach((v, p) => {
        if (v === id && annotation[p] === id) inter++;
        if (v === id || annotation[p] === id) union++;
      });
      return inter / union;
    };
    for (const id of [1, 3, 5]) {
      console.log(`      frame 6, object ${id}: IoU with its annotation ${iou(out, id).toFixed(4)} (tracked from frame 0 only: ${iou(reference, id).toFixed(4)})`);
      assert.ok(iou(out, id) >= 0.95);
    }
    for (const id of [1, 3]) assert.ok(iou(out, id) > iou(reference, id), `object ${id}: frame 6's own annotation was a prompt`);
  });

  it('--per-object-png: SA-V folders in and out; each object mask holds what the non-overlapping label maps give it', async () => {
    const sav = path.join(tmp, 'sav-annotations');
    for (const video of data.names) {
      for (const f of pngs(path.join(data.masks, video))) {
        const ann = readAnnotation(data.masks, video, path.parse(f).name, false);
        assert.ok(ann);
        const dir = path.join(sav, video);
        fs.mkdirSync(dir, { recursive: true });
        writeFrameMasks(dir, path.parse(f).name, [...ann.objects.keys()], [...ann.objects.values()], ann.width, ann.height, { perObjectPng: true, palette: DAVIS_PALETTE });
      }
    }
    const out = path.join(tmp, 'sav-out');
    const r = await cli(...vosArgs(data.videos, sav, out, '--track-later', '--per-object-png'));
    assert.equal(r.code, 0, r.err);
    for (const video of data.names) {
      const objects = fs.readdirSync(path.join(out, video)).filter((d) => /^\d{3}$/.test(d)).sort();
      assert.deepEqual(objects, video === 'clipA' ? ['001', '002'] : ['001', '003', '005']);
      for (const f of pngs(path.join(reference, video))) {
        const labels = readLabelPng(path.join(reference, video, f)).data;
        for (const o of objects) {
          const mask = readLabelPng(path.join(out, video, o, f)).data;
          const id = Number(o);
          assert.ok(labels.every((v, p) => v !== id || mask[p] === 1), `${video}/${o}/${f} holds object ${id}'s label pixels`);
        }
      }
    }
  });

  describe('the BullMQ queue', () => {
    let redis: RedisServer;
    before(async () => { redis = await startRedis(); });
    after(async () => { await redis?.stop(); });

    it('two workers holding videos, one SIGKILLed, one SIGTERMed (it finishes its video), a third joining: every video once, as the single process wrote it', async () => {
      const out = path.join(tmp, 'queue');
      const workerArgs = ['worker', '--queue', redis.url, '--lock-seconds', '4'];
      const workers = [startCli(workerArgs), startCli(workerArgs)];
      const logs = workers.map(() => '');
      workers.forEach((w, i) => w.stderr?.on('data', (d) => { logs[i] += String(d); }));
      const submitted = cli(...vosArgs(data.videos, data.masks, out, '--track-later', '--queue', redis.url));
      const [victim, second] = workers;
      // Both hold a video: the first is killed (its video goes back to the queue when its lock lapses), the second
      // gets SIGTERM (it finishes its video, takes no other and exits 0), and a third worker joins.
      let held: string | undefined;
      await until('both workers to hold a video', () => heldBy(out, victim.pid) !== undefined && (held = heldBy(out, second.pid)) !== undefined);
      victim.kill('SIGKILL');
      second.kill('SIGTERM');
      await exited(victim);
      const third = startCli(workerArgs);
      workers.push(third);
      logs.push('');
      third.stderr?.on('data', (d) => { logs[2] += String(d); });
      assert.deepEqual(await exited(second), { code: 0, signal: null }, logs[1]);
      assert.ok(fs.existsSync(path.join(out, held as string, VIDEO_RECORD)), `${held} finished by the worker stopping:\n${logs[1]}`);
      const afterSignal = logs[1].slice(logs[1].indexOf('SIGTERM'));
      assert.match(afterSignal, new RegExp(`video ${held}: done`), logs[1]);
      assert.doesNotMatch(afterSignal, /: started/, 'no new video after the signal');
      const queue = new Queue(QUEUE_NAME, { connection: redisConnection(redis.url) });
      try {
        const r = await submitted;
        assert.equal(r.code, 0, `${r.err}\n${logs.join('\n')}`);
        assert.match(r.out, /3 video\(s\): 3 segmented, 0 already complete, 0 failed/);
        assertSameOutputs(out, reference, data.names);
        assert.deepEqual(leftovers(out), []);
        const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as DatasetSummary;
        assert.deepEqual(summary.videos.map((v) => v.video).sort(), [...data.names].sort());
        // Every video was finished exactly once, by the two workers that lived; each loaded the model once for all its videos.
        const done = logs.slice(1).flatMap((l) => [...l.matchAll(/video (\S+): done/g)].map((m) => m[1]));
        assert.deepEqual(done.sort(), [...data.names].sort(), logs.join('\n'));
        for (const l of logs.slice(1)) assert.equal([...l.matchAll(/model loaded/g)].length, 1, l);
        const counts = { completed: 3, failed: 0, active: 0, wait: 0, delayed: 0 };
        const states = ['completed', 'failed', 'active', 'wait', 'delayed'] as const;
        assert.deepEqual(await queue.getJobCounts(...states), counts);
        // Submitting again adds nothing: every job exists and every video is complete.
        const again = await cli(...vosArgs(data.videos, data.masks, out, '--track-later', '--queue', redis.url));
        assert.equal(again.code, 0, again.err);
        assert.deepEqual(await queue.getJobCounts(...states), counts);
        // A video that fails on a worker (a corrupt frame) fails once, with its reason; the submitter exits 1.
        const broken = smallDataset(path.join(tmp, 'queue-broken'), 4);
        fs.writeFileSync(path.join(broken.videos, 'clipB/00003.jpg'), Buffer.from('not a jpeg at all'));
        const failing = await cli(...vosArgs(broken.videos, broken.masks, path.join(tmp, 'queue-broken-out'), '--track-later',
          '--video-list', writeList(tmp, ['clipB']), '--queue', redis.url));
        assert.equal(failing.code, 1, failing.err);
        assert.match(failing.err, /video clipB failed: .*00003\.jpg/);
        assert.match(failing.err, /failed videos: clipB/);
        assert.deepEqual(await queue.getJobCounts(...states), { ...counts, failed: 1 });
      } finally {
        await queue.close();
      }
      // SIGTERM stops the idle worker cleanly.
      third.kill('SIGTERM');
      assert.deepEqual(await exited(third), { code: 0, signal: null });
    });
  });
});

describe('vos: objects tracked together, each from its own first frame, equal separate per-object runs', function () {
  this.timeout(1_200_000);
  before(setupBackend);
  const FRAMES = 10;

  /** Tracking steps (memory attention + decoder calls) of one propagation, and their rows. */
  interface Work { steps: number; rows: number }

  /** Final low-res logits per frame of each object, from one propagation with `objIds` as the rows of every step. */
  async function run(tree: boolean, objIds: number[]): Promise<{ logits: Map<number, Map<number, Float32Array>>; work: Work }> {
    const { VideoPredictor } = await import('../src/predictor/video-predictor.js');
    const predictor = await VideoPredictor.fromCheckpoint(MODEL, { config: CONFIG, tree: tree ? { pathways: 3, iouThreshold: 0.1, uncertainty: 2 } : false });
    // Objects 1 and 3 are annotated on frame 0, object 5 first on frame 6.
    const prompts = [0, 6].map((frame) => ({ frame, ann: readAnnotation(ANNOTATIONS, 'clipB', String(frame).padStart(5, '0'), false) }));
    const frames = fs.readdirSync(path.join(JPEGS, 'clipB')).sort().slice(0, FRAMES).map((f) => path.join(JPEGS, 'clipB', f));
    const state = await predictor.initState(frames);
    const out = new Map<number, Map<number, Float32Array>>();
    const calls = countCalls(predictor.model);
    let work: Work;
    try {
      for (const id of objIds) {
        const { frame, ann } = prompts.find((p) => p.ann?.objects.has(id)) as { frame: number; ann: NonNullable<ReturnType<typeof readAnnotation>> };
        await predictor.addMask(state, { frame, objId: id, mask: ann.objects.get(id) as Uint8Array });
      }
      const before = { ...calls };
      for await (const r of predictor.propagate(state)) {
        if (!r.final) continue;
        r.objIds.forEach((id, i) => {
          if (!out.has(id)) out.set(id, new Map());
          out.get(id)?.set(r.frame, r.lowResLogits[i]);
        });
      }
      work = { steps: calls.memoryAttention - before.memoryAttention, rows: calls.trackedRows - before.trackedRows };
    } finally {
      state.dispose();
      predictor.model.dispose();
    }
    return { logits: out, work };
  }

  for (const tree of [false, true]) {
    it(`${tree ? 'SAM2Long P=3' : 'SAM 2'}: objects 1, 3 (frame 0) and 5 (frame 6) as rows of one run = each tracked alone from its frame`, async () => {
      const together = await run(tree, [1, 3, 5]);
      const separate: Work[] = [];
      for (const id of [1, 3, 5]) {
        const single = await run(tree, [id]);
        separate.push(single.work);
        const alone = single.logits.get(id) as Map<number, Float32Array>;
        const rows = together.logits.get(id) as Map<number, Float32Array>;
        assert.deepEqual([...rows.keys()], Array.from({ length: FRAMES }, (_, f) => f), 'every frame has a result');
        const first = Math.min(...alone.keys());
        assert.deepEqual([...alone.keys()], Array.from({ length: FRAMES - first }, (_, k) => first + k));
        for (let f = 0; f < first; f++) assert.ok((rows.get(f) as Float32Array).every((v) => v === NOT_STARTED_LOGIT), `object ${id} frame ${f}: not started`);
        let maxDiff = 0;
        for (const [frame, logits] of alone) {
          const other = rows.get(frame) as Float32Array;
          for (let p = 0; p < logits.length; p++) maxDiff = Math.max(maxDiff, Math.abs(logits[p] - other[p]));
          // The same mask, except where a logit is within rounding of the threshold.
          const flips = logits.filter((v, p) => (v > 0) !== (other[p] > 0) && Math.abs(v) > 1e-3).length;
          assert.equal(flips, 0, `object ${id} frame ${frame}: the same mask`);
        }
        console.log(`      object ${id} (from frame ${first}): largest logit difference ${maxDiff.toExponential(2)} over ${alone.size} frames`);
        assert.ok(maxDiff < 1e-3);
      }
      // Batched: the rows the separate runs track, in one step per tracked frame (plus, with the tree, the first
      // step of the object prompted on frame 6, on frame 7 beside the others' tree step).
      const sum = (k: keyof Work) => separate.reduce((n, w) => n + w[k], 0);
      console.log(`      together: ${together.work.steps} tracking steps of ${together.work.rows} rows; separately: ${sum('steps')} steps of ${sum('rows')} rows`);
      assert.equal(together.work.rows, sum('rows'));
      assert.equal(together.work.steps, FRAMES - 1 + (tree ? 1 : 0));
    });
  }
});
