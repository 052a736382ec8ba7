/**
 * The `predict` and `segment` commands, run in-process through `main(argv)` on a model converted by the
 * `convert` command: the full CLI path (JPEG frames decoded by sharp, PNGs written and read back).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { COMMANDS, main } from '../tools/cli.js';
import { collectPrompts, labelMap, INCOMPLETE_MARKER } from '../tools/cli-segment.js';
import { WRITTEN_RECORD } from '../tools/output-dir.js';
import { parseBox, parsePoints } from '../tools/cli-args.js';
import { Progress, formatDuration } from '../tools/progress.js';
import { decodeLabelPng, decodePng, encodeRgbPng } from '../src/io/png.js';
import { unpackBits } from '../src/predictor/transforms.js';
import { InputError } from '../src/errors.js';
import { FIXTURES as FIXTURE_ROOT, fixturePath, golden, setupBackend } from './helpers/golden.js';
import { quietly } from './helpers/console.js';
import { maskIou } from './helpers/video.js';

const FRAMES = fixturePath('video1/frames');
const FRAME0 = path.join(FRAMES, '00000.jpg');

/** Runs `sam2long <args>` in-process; returns the exit code and what it printed. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { result, out, err } = await quietly(() => main(args));
  return { code: result, out, err };
}

function pngFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.png')).sort();
}

/** IoU of every written label PNG (object 1) with the golden run's video-resolution masks. */
function iouAgainstGolden(dir: string, rel: string): { min: number; mean: number } {
  const packed = golden(rel).read('video_res_mask_packbits');
  const [n, h, rowBytes] = packed.shape;
  const files = pngFiles(dir);
  assert.deepEqual(files, Array.from({ length: n }, (_, i) => `${String(i).padStart(5, '0')}.png`));
  const ious = files.map((f, i) => {
    const png = decodePng(fs.readFileSync(path.join(dir, f)), f);
    assert.equal(png.colorType, 'palette', `${f}: a DAVIS palette PNG`);
    const labels = decodeLabelPng(fs.readFileSync(path.join(dir, f)), f);
    assert.deepEqual([labels.width, labels.height], [h, h]);
    assert.ok(labels.data.every((v) => v === 0 || v === 1), `${f}: only background and object 1`);
    const ref = unpackBits((packed.data as Uint8Array).subarray(i * h * rowBytes, (i + 1) * h * rowBytes), h, h);
    return maskIou(labels.data, ref);
  });
  const min = Math.min(...ious);
  const mean = ious.reduce((a, b) => a + b, 0) / ious.length;
  console.log(`      ${rel}: mask IoU min ${min.toFixed(4)} mean ${mean.toFixed(4)} over ${ious.length} frames`);
  return { min, mean };
}

function assertFinished(dir: string): void {
  const leftovers = fs.readdirSync(dir).filter((f) => f === INCOMPLETE_MARKER || f.endsWith('.partial'));
  assert.deepEqual(leftovers, [], 'no marker or partial file after a finished run');
}

describe('CLI: predict and segment', function () {
  let tmp: string;
  let model: string;
  let run = 0;
  /** A fresh path under the test's temp dir. */
  const fresh = (name: string) => path.join(tmp, `${run++}-${name}`);

  before(async () => {
    await setupBackend();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-cli-'));
    const converted = await cli('convert', fixturePath('sam21_mini.pt'), path.join(tmp, 'weights'), '--config', fixturePath('sam21_mini.config.json'));
    assert.equal(converted.code, 0, converted.err);
    model = path.join(tmp, 'weights', 'sam21_mini.safetensors');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('segment', () => {
    const segment = (out: string, ...args: string[]) => cli('segment', '--model', model, '--frames', FRAMES, '--out', out, '--quiet', ...args);

    it('greedy, click on frame 0: every frame matches the official SAM 2 run, and no tensor is left behind', async () => {
      const out = fresh('greedy-point');
      const tensorsBefore = tf.memory().numTensors;
      const t0 = performance.now();
      const r = await segment(out, '--points', '46,128,1');
      console.log(`      segment (greedy): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /wrote 24 mask\(s\) for objects 1/);
      assert.equal(tf.memory().numTensors, tensorsBefore);
      assertFinished(out);
      assert.ok(iouAgainstGolden(out, 'video1/sam21_mini.sam2_greedy.point.safetensors').min >= 0.99);
    });

    it('SAM2Long --tree 3: the final masks match the official SAM2Long run', async () => {
      const out = fresh('tree-point');
      const t0 = performance.now();
      const r = await segment(out, '--points', '46,128,1', '--tree', '3', '--iou-threshold', '0.1', '--uncertainty', '2');
      console.log(`      segment (--tree 3): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      assert.equal(r.code, 0, r.err);
      assertFinished(out);
      assert.ok(iouAgainstGolden(out, 'video1/sam21_mini.sam2long_P3.point.safetensors').min >= 0.99);
    });

    it('greedy, box on frame 0: every frame matches the official SAM 2 run', async () => {
      const out = fresh('greedy-box');
      const r = await segment(out, '--box', '18,100,74,156');
      assert.equal(r.code, 0, r.err);
      assertFinished(out);
      assert.ok(iouAgainstGolden(out, 'video1/sam21_mini.sam2_greedy.box.safetensors').min >= 0.99);
    });

    it('two objects: one label map, the highest logit wins where they overlap (official non-overlap); --max-frames limits the frames', async () => {
      const out = fresh('two-objects');
      // Object 3 is the disk's left half, object 7 the whole disk: they overlap on the left half.
      const r = await segment(out, '--obj', '3', '--box', '18,100,46,156', '--obj', '7', '--points', '46,128,1', '--max-frames', '2');
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(pngFiles(out), ['00000.png', '00001.png', '00002.png']);
      const labels = decodeLabelPng(fs.readFileSync(path.join(out, '00000.png'))).data;
      const values = new Set(labels);
      assert.ok(values.has(7) && values.has(0), `labels ${[...values]}`);
      assert.ok([...values].every((v) => v === 0 || v === 3 || v === 7));
    });

    it('refuses an output directory holding masks unless --overwrite, which deletes only the files earlier runs recorded', async () => {
      const out = fresh('overwrite');
      const first = await segment(out, '--points', '46,128,1', '--max-frames', '2');
      assert.equal(first.code, 0, first.err);
      assert.deepEqual(pngFiles(out), ['00000.png', '00001.png', '00002.png']);
      const refused = await segment(out, '--points', '46,128,1', '--max-frames', '1');
      assert.equal(refused.code, 2);
      assert.match(refused.err, /already holds 3 mask file\(s\) of an earlier run.*--overwrite/);
      // The user's files beside the masks stay; a record edited to point elsewhere deletes nothing outside.
      fs.writeFileSync(path.join(out, 'notes.txt'), 'mine');
      const outside = fresh('outside.png');
      fs.writeFileSync(outside, 'mine');
      fs.appendFileSync(path.join(out, WRITTEN_RECORD), `../${path.basename(outside)}\n${outside}\n`);
      const r = await segment(out, '--points', '46,128,1', '--max-frames', '1', '--overwrite');
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(pngFiles(out), ['00000.png', '00001.png']);
      assert.equal(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine');
      assert.equal(fs.readFileSync(outside, 'utf8'), 'mine');
      assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).framesTracked, 2);
      // A PNG no run recorded is never deleted or replaced, even with --overwrite.
      fs.writeFileSync(path.join(out, '00099.png'), 'not ours');
      for (const flags of [[], ['--overwrite']]) {
        const again = await segment(out, '--points', '46,128,1', '--max-frames', '1', ...flags);
        assert.equal(again.code, 2);
        assert.match(again.err, /already holds 1 mask file\(s\) that sam2long did not write \(e\.g\. '00099\.png'\); they are never deleted/);
      }
      assert.equal(fs.readFileSync(path.join(out, '00099.png'), 'utf8'), 'not ours');
    });

    it('--out, --overlay and --paths-view never overlap the input frames or each other, through symlinks too', async () => {
      // PNG frames: the files an --overwrite of the frame directory would have deleted.
      const frames = fresh('png-frames');
      fs.mkdirSync(frames);
      for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(frames, `0000${i}.png`), encodeRgbPng(new Uint8Array(16 * 16 * 3), 16, 16));
      const before = fs.readdirSync(frames).map((f) => fs.readFileSync(path.join(frames, f)).toString('hex'));
      const out = fresh('sep-out');
      fs.mkdirSync(out);
      const link = fresh('sep-link');
      fs.symlinkSync(out, link);
      const frameLink = fresh('frames-link');
      fs.symlinkSync(frames, frameLink);
      // A link to a directory the run would create: the overlays would land among the masks.
      const later = fresh('sep-later');
      const laterLink = fresh('sep-later-link');
      fs.symlinkSync(later, laterLink);
      const run = (...args: string[]) => cli('segment', '--model', model, '--quiet', '--points', '4,4,1', '--overwrite', ...args);
      const cases: [string[], RegExp][] = [
        [['--frames', frames, '--out', frames], /--frames '.*' and --out '.*' are the same directory; an output must be apart from the input/],
        [['--frames', frames, '--out', path.join(frameLink, '.')], /--frames .* and --out .* are the same directory \(/],
        [['--frames', frames, '--out', path.join(frames, 'masks')], /--frames .* and --out .*: the second is inside the first/],
        [['--frames', frames, '--out', out, '--overlay', frameLink], /--frames .* and --overlay .* are the same directory/],
        [['--frames', frames, '--out', path.join(out, 'x'), '--overlay', out], /--out .* and --overlay .*: the first is inside the second; outputs must be apart/],
        [['--frames', frames, '--out', out, '--overlay', link], /--out .* and --overlay .* are the same directory/],
        [['--frames', frames, '--out', later, '--overlay', laterLink], /--out '.*sep-later' and --overlay '.*sep-later-link' are the same directory/],
        [['--frames', frames, '--out', out, '--tree', '2', '--paths-view', path.join(link, 'p'), '--paths-range', '0:1'], /--out .* and --paths-view .*: the second is inside the first/],
        [['--frames', frames, '--out', out, '--preview', path.join(frames, 'p.gif')], /--frames .* and --preview .*: the second is inside the first/],
      ];
      for (const [args, message] of cases) {
        const r = await run(...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
        assert.match(r.err, message, args.join(' '));
      }
      assert.deepEqual(fs.readdirSync(frames).map((f) => fs.readFileSync(path.join(frames, f)).toString('hex')), before, 'the frames are untouched');
      assert.deepEqual(fs.readdirSync(out), [], 'nothing written');
      assert.equal(fs.existsSync(later), false, 'nothing written through the dangling link');
    });

    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      it(`${signal} stops after the current frame: summary.json status "interrupted", the marker says so, exit ${code}`, async () => {
        // A long video (the fixture four times over), so the run is still tracking when the signal comes.
        const frames = fresh(`long-frames-${signal}`);
        fs.mkdirSync(frames);
        for (let i = 0; i < 96; i++) fs.copyFileSync(path.join(FRAMES, `${String(i % 24).padStart(5, '0')}.jpg`), path.join(frames, `${String(i).padStart(5, '0')}.jpg`));
        const out = fresh(`interrupted-${signal}`);
        const child = spawn(process.execPath, ['--import', 'tsx', 'tools/cli.ts', 'segment', '--model', model, '--frames', frames, '--out', out,
          '--points', '46,128,1', '--quiet'], { cwd: path.resolve(FIXTURE_ROOT, '../../..'), stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
        // Signal once the first masks are on disk.
        while (!(fs.existsSync(out) && pngFiles(out).length >= 2)) {
          assert.equal(child.exitCode, null, `the run ended before the signal: ${stderr}`);
          await new Promise((r) => setTimeout(r, 25));
        }
        child.kill(signal);
        assert.equal(await exited, code, stderr);
        assert.match(stderr, new RegExp(`${signal} received: stopping after the current frame`));
        assert.match(stderr, new RegExp(`sam2long segment: interrupted by ${signal}`));
        assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
        const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
        assert.equal(summary.status, 'interrupted');
        const written = pngFiles(out);
        assert.ok(written.length < 96, `${written.length} masks`);
        assert.deepEqual(summary.frames.map((f: { name: string }) => `${f.name}.png`), written, 'the summary lists exactly the masks written');
        assert.match(fs.readFileSync(path.join(out, INCOMPLETE_MARKER), 'utf8'), new RegExp(`was interrupted after ${written.length} mask\\(s\\): interrupted by ${signal}`));
        assert.deepEqual(fs.readdirSync(out).filter((f) => f.endsWith('.partial')), [], 'no half-written file');
      });
    }

    it('a frame that cannot be read or has another size stops the run with exit 2 and leaves the .incomplete marker', async () => {
      const cases = [
        { name: 'garbage', write: (f: string) => fs.writeFileSync(f, 'not a jpeg'), file: '00002.jpg', error: /cannot decode image.*00002\.jpg/ },
        { name: 'size', write: (f: string) => fs.writeFileSync(f, encodeRgbPng(new Uint8Array(20 * 10 * 3), 20, 10)), file: '00002.png', error: /is 20x10, but the first frame is 256x256/ },
      ];
      for (const c of cases) {
        const frames = fresh(`frames-${c.name}`);
        fs.mkdirSync(frames);
        for (const f of ['00000.jpg', '00001.jpg', '00003.jpg']) fs.copyFileSync(path.join(FRAMES, f), path.join(frames, f));
        c.write(path.join(frames, c.file));
        const out = fresh(`out-${c.name}`);
        const r = await cli('segment', '--model', model, '--frames', frames, '--out', out, '--quiet', '--points', '46,128,1');
        assert.equal(r.code, 2, r.err);
        assert.match(r.err, c.error);
        assert.match(r.err, /stopped after 2 mask\(s\)/);
        assert.deepEqual(pngFiles(out), ['00000.png', '00001.png']);
        assert.match(fs.readFileSync(path.join(out, INCOMPLETE_MARKER), 'utf8'), /failed after 2 mask\(s\)/);
      }
    });

    it('bad command lines and prompts: exit 2 with a message naming the problem, nothing written', async () => {
      const out = fresh('errors');
      const cases: [string[], RegExp][] = [
        [['--points', '46,128'], /point 1 '46,128': expected x,y,label/],
        [['--points', '46,128,2'], /label '2' must be 1 \(object\) or 0 \(background\)/],
        [['--points', '46,abc,1'], /y: 'abc' is not a number/],
        [['--points', '300,128,1'], /point 0 \(300, 128\) is outside the 256×256 frame/],
        [['--frame', '30', '--points', '46,128,1'], /frame 30 is out of range: the video has 24 frames/],
        [['--points', '46,128,1', '--frame', '3'], /--frame 3 is not followed by any --points, --box or --mask/],
        [['--obj', '0', '--points', '46,128,1'], /--obj: 0 is out of range \(1\.\.255\)/],
        [['--box', '74,100,18,156'], /x1 > x0 and y1 > y0/],
        [['--points', '46,128,1', '--uncertainty', '2'], /--uncertainty is a SAM2Long option/],
        [['--points', '46,128,1', '--tree', '3', '--reverse'], /--reverse and --tree do not go together/],
        [['--points', '46,128,1', '--frame', '5', '--points', '46,128,1', '--tree', '3'], /tree mode needs each object prompted on one frame/],
        [['--points', '46,128,1', '--bogus'], /Unknown option '--bogus'/],
        [[], /give at least one prompt/],
      ];
      for (const [args, message] of cases) {
        const r = await segment(out, ...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
        assert.match(r.err, message, args.join(' '));
      }
      const missing = await cli('segment', '--model', path.join(tmp, 'nope.safetensors'), '--frames', FRAMES, '--out', out, '--points', '46,128,1');
      assert.equal(missing.code, 2);
      assert.match(missing.err, /model file '.*nope\.safetensors' does not exist/);
      const noFrames = await cli('segment', '--model', model, '--frames', path.join(tmp, 'no-such-dir'), '--out', out, '--points', '46,128,1');
      assert.equal(noFrames.code, 2);
      assert.match(noFrames.err, /cannot list frames in/);
      assert.equal(fs.existsSync(out), false, 'no output directory for a run that never started');
    });
  });

  describe('predict', () => {
    const predict = (...args: string[]) => cli('predict', '--model', model, '--image', FRAME0, ...args);

    it('a single click writes the best of three masks, the size of the image, as the video predictor masks frame 0', async () => {
      const out = fresh('mask.png');
      const overlay = fresh('overlay.png');
      const tensorsBefore = tf.memory().numTensors;
      const r = await predict('--points', '46,128,1', '--out', out, '--overlay', overlay);
      assert.equal(r.code, 0, r.err);
      assert.equal(tf.memory().numTensors, tensorsBefore);
      const scores = (/scores: (.*)/.exec(r.out) as RegExpExecArray)[1].split(' ').map(Number);
      assert.equal(scores.length, 3);
      const mask = decodeLabelPng(fs.readFileSync(out), out);
      assert.deepEqual([mask.width, mask.height], [256, 256]);
      assert.ok(mask.data.every((v) => v === 0 || v === 255));
      // The frame is image_size square, so neither predictor resizes it: the same click gives the same mask.
      const ref = golden('video1/sam21_mini.sam2_greedy.point.safetensors').read('prompt_frame_video_res_logits').data as Float32Array;
      const iou = maskIou(mask.data, Array.from(ref, (v) => (v > 0 ? 1 : 0)));
      console.log(`      predict click vs the official prompt-frame mask: IoU ${iou.toFixed(4)}`);
      assert.ok(iou >= 0.99);
      const ov = decodePng(fs.readFileSync(overlay), overlay);
      assert.deepEqual([ov.width, ov.height, ov.colorType], [256, 256, 'rgb']);
    });

    it('--all-masks writes three masks with their scores; a box gives one mask', async () => {
      const out = fresh('all.png');
      const r = await predict('--points', '46,128,1', '--out', out, '--all-masks');
      assert.equal(r.code, 0, r.err);
      for (let i = 0; i < 3; i++) {
        const f = out.replace(/\.png$/, `_${i}.png`);
        assert.ok(fs.existsSync(f), f);
        assert.match(r.out, new RegExp(`mask ${i} \\(score [0-9.]+\\) → .*_${i}\\.png`));
      }
      assert.equal(fs.existsSync(out), false);
      const boxOut = fresh('box.png');
      const b = await predict('--box', '18,100,74,156', '--out', boxOut);
      assert.equal(b.code, 0, b.err);
      assert.match(b.out, /^scores: [0-9.]+$/m);
      assert.ok(fs.existsSync(boxOut));
    });

    it('bad input: exit 2 with a clear message', async () => {
      const out = fresh('bad.png');
      const cases: [string[], RegExp][] = [
        [['--points', '46;128;1', '--out', out], /expected x,y,label/],
        [['--points', '46,128,5', '--out', out], /label '5' must be 1/],
        [['--points', '46,999,1', '--out', out], /point 0 \(46, 999\) is outside the 256×256 image/],
        [['--points', '46,128,1'], /--out is required/],
        [['--out', out], /give --points and\/or --box/],
      ];
      for (const [args, message] of cases) {
        const r = await predict(...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
        assert.match(r.err, message, args.join(' '));
      }
      // Outputs never replace the image, the model or each other, through symbolic links too.
      const image = fresh('image.jpg');
      fs.copyFileSync(FRAME0, image);
      const imageLink = fresh('image-link.png');
      fs.symlinkSync(image, imageLink);
      const overlaps: [string[], RegExp][] = [
        [['--out', image], /--image '.*image\.jpg' and --out '.*image\.jpg' are the same path; an output must be apart from the input/],
        [['--out', imageLink], /--image .* and --out '.*image-link\.png' are the same path \(/],
        [['--out', out, '--overlay', image], /--image .* and --overlay .* are the same path/],
        [['--out', model], /--model .* and --out .* are the same path/],
        [['--out', out, '--overlay', out], /--out .* and --overlay .* are the same path; outputs must be apart/],
        [['--out', out, '--all-masks', '--overlay', out.replace(/\.png$/, '_1.png')], /--out .*_1\.png' and --overlay .* are the same path/],
      ];
      for (const [args, message] of overlaps) {
        const r = await cli('predict', '--model', model, '--image', image, '--points', '46,128,1', ...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
        assert.match(r.err, message, args.join(' '));
      }
      assert.deepEqual(fs.readFileSync(image), fs.readFileSync(FRAME0), 'the image is untouched');
      const noImage = await cli('predict', '--model', model, '--image', path.join(tmp, 'none.jpg'), '--points', '1,1,1', '--out', out);
      assert.equal(noImage.code, 2);
      assert.match(noImage.err, /cannot read image/);
      const noModel = await cli('predict', '--model', path.join(tmp, 'none.pt'), '--image', FRAME0, '--points', '1,1,1', '--out', out);
      assert.equal(noModel.code, 2);
      assert.match(noModel.err, /model file .* does not exist/);
      assert.equal(fs.existsSync(out), false);
    });
  });
});

describe('CLI helpers', () => {
  it('parses points and boxes, rejecting malformed ones', () => {
    assert.deepEqual(parsePoints(' 46,128,1 ; 10.5,2e1,0'), { points: [[46, 128], [10.5, 20]], labels: [1, 0] });
    assert.deepEqual(parseBox('18,100,74,156'), [18, 100, 74, 156]);
    for (const bad of ['', '1,2', '1,2,1;', '1,,1', 'x,2,1', '1,2,-1', '1,2,1.0']) {
      assert.throws(() => parsePoints(bad), InputError, bad);
    }
    for (const bad of ['1,2,3', '1,2,3,4,5', '5,5,5,9', '0,0,1,nan']) assert.throws(() => parseBox(bad), InputError, bad);
  });

  it('groups prompts by the --obj / --frame before them', () => {
    const tok = (name: string, value: string) => ({ kind: 'option', name, value });
    const prompts = collectPrompts([
      tok('points', '1,1,1'), tok('obj', '2'), tok('box', '0,0,5,5'), tok('points', '2,2,0'),
      tok('frame', '4'), tok('obj', '1'), tok('points', '3,3,1'), tok('frame', '0'), tok('points', '4,4,0'),
    ]);
    assert.deepEqual(prompts, [
      { objId: 1, frame: 0, points: [[1, 1], [4, 4]], labels: [1, 0] },
      { objId: 2, frame: 0, points: [[2, 2]], labels: [0], box: [0, 0, 5, 5] },
      { objId: 1, frame: 4, points: [[3, 3]], labels: [1] },
    ]);
    assert.throws(() => collectPrompts([tok('box', '0,0,1,1'), tok('box', '0,0,2,2')]), /two --box prompts/);
  });

  it('label maps: index = object id, the lower id wins overlaps whatever the order', () => {
    const a = Uint8Array.from([1, 1, 0, 0]);
    const b = Uint8Array.from([0, 1, 1, 0]);
    assert.deepEqual(Array.from(labelMap([9, 2], [a, b], 4)), [9, 2, 2, 0]);
    assert.deepEqual(Array.from(labelMap([2, 9], [b, a], 4)), [9, 2, 2, 0]);
  });

  it('progress: plain lines off a terminal (throttled, always a last one), one redrawn line on a terminal', () => {
    let t = 0;
    const lines: string[] = [];
    const plain = new Progress({ label: 'seg', total: 10, stream: { write: (s) => lines.push(s) }, now: () => t, plainIntervalMs: 2000 });
    for (let i = 0; i < 10; i++) {
      t += 500;
      plain.tick();
    }
    plain.finish();
    assert.equal(lines.length, 3, lines.join(''));
    assert.ok(lines.every((l) => l.endsWith('\n') && !l.includes('\r')));
    assert.equal(lines[0], `seg  [==========              ]  4/10 frames  2.0 frames/s  ETA 0:03\n`);
    assert.equal(lines[2], `seg  [========================]  10/10 frames  2.0 frames/s  0:05 elapsed\n`);

    const drawn: string[] = [];
    const tty = new Progress({ label: 'seg', total: Infinity, stream: { write: (s) => drawn.push(s), isTTY: true }, now: () => t });
    t += 1000;
    tty.tick();
    tty.finish();
    assert.equal(drawn.length, 3);
    assert.ok(drawn[0].startsWith('\rseg  1 frames  1.0 frames/s') && drawn[0].endsWith('\x1b[K'), JSON.stringify(drawn[0]));
    assert.equal(drawn[drawn.length - 1], '\n');
    assert.equal(formatDuration(3725), '1:02:05');
  });
});

describe('CLI: help, version and error lines', () => {
  it('an input error is one line plus where help is, not the usage text', async () => {
    const bad = await cli('segment', '--model', 'm.safetensors', '--frames', FRAMES);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim(), "sam2long segment: --out is required\nsee 'sam2long segment --help'");
    const unknownOption = await cli('predict', '--bogus');
    assert.equal(unknownOption.code, 2);
    assert.equal(unknownOption.err.trim().split('\n').length, 2, unknownOption.err);
    assert.match(unknownOption.err, /^sam2long predict: Unknown option '--bogus'/);
    const unknownCommand = await cli('frobnicate');
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.err, new RegExp(`unknown command 'frobnicate' \\(commands: ${Object.keys(COMMANDS).join(', ')}\\)\nsee 'sam2long --help'`));
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const r = await cli(flag);
      assert.equal(r.code, 0);
      assert.equal(r.out.trim(), pkg.version);
    }
  });

  it('help <command> and <command> --help print its usage, the backend variable and the exit codes', async () => {
    for (const name of ['convert', 'predict', 'segment', 'eval']) {
      const viaHelp = await cli('help', name);
      const viaFlag = await cli(name, '--help');
      assert.equal(viaHelp.code, 0);
      assert.equal(viaFlag.out, viaHelp.out);
      assert.match(viaHelp.out, new RegExp(`^usage: sam2long ${name} `));
      assert.match(viaHelp.out, /SAM2LONG_BACKEND=cpu\|wasm\|webgpu\|tensorflow/);
      assert.match(viaHelp.out, /Exit codes: 0 done, 1 an error while running \(message on stderr\), 2 bad input or usage/);
    }
    assert.doesNotMatch((await cli('help', 'predict')).out, /--points <pts> \| --box/, 'points and a box combine');
    const top = await cli('help');
    assert.equal(top.code, 0);
    assert.match(top.out, /sam2long help <command>/);
    assert.equal((await cli('help', 'nope')).code, 2);
  });
});
