/**
 * Video files through the system ffmpeg: the PPM/PGM pipe reader, the mask and preview writers, the GIF
 * encoder (decoded back by ffmpeg), and `segment` on a video file with every picture and video output.
 * These tests need ffmpeg: on Debian/Ubuntu `apt-get install -y --no-install-recommends ffmpeg`.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ExternalToolError, InputError } from '../src/errors.js';
import { GifEncoder } from '../src/io/gif.js';
import { NetpbmStreamParser, type NetpbmFrame } from '../src/io/netpbm.js';
import { decodeLabelPng, decodePng } from '../src/io/png.js';
import { openMaskVideo, openPreviewVideo, probeVideo, readVideo, requireFfmpeg } from '../src/node/video.js';
import { unpackBits, upsampleLogits } from '../src/predictor/transforms.js';
import { POSITIVE_COLOUR, drawLabels } from '../src/render/overlay.js';
import { main } from '../tools/cli.js';
import { INCOMPLETE_MARKER } from '../tools/cli-segment.js';
import { quietly } from './helpers/console.js';
import { fixturePath, golden, setupBackend } from './helpers/golden.js';
import { maskIou } from './helpers/video.js';

const APT_LINE = 'apt-get install -y --no-install-recommends ffmpeg';
const FRAMES_DIR = fixturePath('video1/frames');
const N = 24;
const S = 256;

function goldenPixels(): Uint8Array {
  return golden('video1/frames.safetensors').read('frames_rgb_u8').data as Uint8Array;
}

function goldenFrame(i: number): Uint8Array {
  return goldenPixels().subarray(i * S * S * 3, (i + 1) * S * S * 3);
}

async function readAll(file: string, grey = false): Promise<NetpbmFrame[]> {
  const frames: NetpbmFrame[] = [];
  for await (const f of readVideo(file, { grey })) frames.push(f);
  return frames;
}

/** ffmpeg processes that are children of this test process. */
function ffmpegChildren(): string[] {
  const r = spawnSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => /ffmpeg/.test(l));
}

/** Asserts that no ffmpeg child is left, allowing killed ones up to 10 s to be reaped (a loaded machine is slow to). */
async function assertNoFfmpegLeft(why: string): Promise<void> {
  for (let tries = 0; tries < 100 && ffmpegChildren().length; tries++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(ffmpegChildren(), [], why);
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { result, out, err } = await quietly(() => main(args));
  return { code: result, out, err };
}

function pngNames(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.png')).sort();
}

/** Runs `fn` with SAM2LONG_FFMPEG set to `program`. */
async function withFfmpeg<T>(program: string, fn: () => T | Promise<T>): Promise<T> {
  const saved = process.env.SAM2LONG_FFMPEG;
  process.env.SAM2LONG_FFMPEG = program;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.SAM2LONG_FFMPEG;
    else process.env.SAM2LONG_FFMPEG = saved;
  }
}

describe('video files (ffmpeg)', function () {
  let tmp: string;
  /** video1's decoded golden frames as a lossless (libx264rgb, qp 0) MP4, made by ffmpeg. */
  let clip: string;
  let model: string;
  let modelB: string;

  before(async () => {
    const which = spawnSync('which', ['ffmpeg'], { encoding: 'utf8' });
    assert.equal(which.status, 0, `these tests need ffmpeg on the PATH; install it with: ${APT_LINE}`);
    await setupBackend();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-video-'));
    clip = path.join(tmp, 'clip.mp4');
    // From the pixels the golden runs used (not the JPEGs: ffmpeg decodes those up to 71 levels away from Pillow).
    const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${S}x${S}`, '-r', '24',
      '-i', '-', '-c:v', 'libx264rgb', '-qp', '0', clip], { input: goldenPixels(), encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    const converted = await cli('convert', fixturePath('sam21_mini.pt'), path.join(tmp, 'weights'), '--config', fixturePath('sam21_mini.config.json'));
    assert.equal(converted.code, 0, converted.err);
    model = path.join(tmp, 'weights', 'sam21_mini.safetensors');
    const convertedB = await cli('convert', fixturePath('sam21_mini_b.pt'), path.join(tmp, 'weights'), '--config', fixturePath('sam21_mini_b.config.json'));
    assert.equal(convertedB.code, 0, convertedB.err);
    modelB = path.join(tmp, 'weights', 'sam21_mini_b.safetensors');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('PGM/PPM frame stream', () => {
    const frameBytes = (magic: string, w: number, h: number, data: number[], header = `${magic}\n${w} ${h}\n255\n`) =>
      Uint8Array.from([...Buffer.from(header, 'latin1'), ...data]);

    it('cuts frames out of chunks split anywhere, P5 and P6, comments in headers', () => {
      const rgb = Array.from({ length: 2 * 3 * 3 }, (_, i) => (i * 37) % 256);
      const grey = [9, 8, 7, 6];
      const stream = Uint8Array.from([
        ...frameBytes('P6', 3, 2, rgb),
        ...frameBytes('P5', 2, 2, grey, 'P5 # a comment\n2\t2 255 '),
        ...frameBytes('P6', 3, 2, rgb.map((v) => 255 - v)),
      ]);
      for (const chunk of [1, 2, 5, 16, stream.length]) {
        const parser = new NetpbmStreamParser('test');
        const frames: NetpbmFrame[] = [];
        for (let i = 0; i < stream.length; i += chunk) frames.push(...parser.push(stream.subarray(i, i + chunk)));
        parser.end();
        assert.deepEqual(frames.map((f) => [f.width, f.height, f.channels]), [[3, 2, 3], [2, 2, 1], [3, 2, 3]], `chunks of ${chunk}`);
        assert.deepEqual([...frames[0].data], rgb);
        assert.deepEqual([...frames[1].data], grey);
        assert.deepEqual([...frames[2].data], rgb.map((v) => 255 - v));
      }
    });

    it('refuses what is not an 8-bit frame stream, and a stream cut inside a frame', () => {
      assert.throws(() => new NetpbmStreamParser('v').push(Buffer.from('GIF89a....')), /expected a binary PGM\/PPM frame/);
      assert.throws(() => new NetpbmStreamParser('v').push(Buffer.from('P6\n2 2\n65535\n')), /only 8-bit frames/);
      assert.throws(() => new NetpbmStreamParser('v').push(Buffer.from('P6\n0 2\n255\n')), /bad frame size/);
      const cut = new NetpbmStreamParser('v');
      cut.push(frameBytes('P5', 2, 2, [1, 2, 3]));
      assert.throws(() => cut.end(), (e: Error) => e instanceof InputError && /ends inside frame 0/.test(e.message));
    });
  });

  describe('reading and writing video files', () => {
    it('reads a lossless MP4 frame by frame, bit-exact, with its rate and length', async () => {
      const frames = await readAll(clip);
      assert.equal(frames.length, N);
      frames.forEach((f, i) => {
        assert.deepEqual([f.width, f.height, f.channels], [S, S, 3]);
        assert.ok(Buffer.from(f.data).equals(Buffer.from(goldenFrame(i))), `frame ${i} differs from the encoded pixels`);
      });
      assert.deepEqual(probeVideo(clip), { fps: 24, frames: N });
    });

    it('reads only as far as asked: ffmpeg waits on the pipe and is stopped when the reader stops', async () => {
      const reader = readVideo(clip);
      const it = reader[Symbol.asyncIterator]();
      assert.equal((await it.next()).done, false);
      assert.equal(ffmpegChildren().length, 1, 'one ffmpeg waiting');
      reader.close();
      await assertNoFfmpegLeft('close() stops ffmpeg');
      let seen = 0;
      for await (const _ of readVideo(clip)) if (++seen === 2) break;
      await assertNoFfmpegLeft('leaving the loop stops ffmpeg');
    });

    it('a mask video (FFV1 grey .mkv) gives the label maps back exactly', async () => {
      const file = path.join(tmp, 'labels.mkv');
      const [w, h] = [33, 17];
      const maps = Array.from({ length: 5 }, (_, k) => Uint8Array.from({ length: w * h }, (_, i) => ((i * (k + 3)) % 7 === 0 ? k + 1 : (i % 11 === 0 ? 255 : 0))));
      const writer = openMaskVideo(file, w, h, 12);
      for (const m of maps) await writer.write(m);
      assert.equal(fs.existsSync(file), false, 'only the .partial file while writing');
      await writer.close();
      const back = await readAll(file, true);
      assert.deepEqual(back.map((f) => [f.width, f.height, f.channels]), maps.map(() => [w, h, 1]));
      back.forEach((f, k) => assert.deepEqual([...f.data], [...maps[k]], `mask frame ${k}`));
      assert.deepEqual(probeVideo(file).fps, 12);
      await assert.rejects(writer.write(maps[0].subarray(1)), /has 560 bytes, expected 561/);
      assert.throws(() => openMaskVideo(path.join(tmp, 'labels.mp4'), w, h, 12), /use a \.mkv file/);
    });

    it('an H.264 preview of odd size gets padded to even and keeps every frame', async () => {
      const file = path.join(tmp, 'odd.mp4');
      const writer = openPreviewVideo(file, 31, 15, 10);
      for (let k = 0; k < 3; k++) await writer.write(new Uint8Array(31 * 15 * 3).fill(40 * k));
      await writer.close();
      const back = await readAll(file);
      assert.deepEqual(back.map((f) => [f.width, f.height]), [[32, 16], [32, 16], [32, 16]]);
    });

    it('errors: ffmpeg missing (says how to install it), a file ffmpeg cannot decode, a file that does not exist', async () => {
      await withFfmpeg(path.join(tmp, 'no-ffmpeg-here'), async () => {
        assert.throws(() => requireFfmpeg(), (e: Error) => e instanceof ExternalToolError && /apt-get install ffmpeg/.test(e.message));
        await assert.rejects(readAll(clip), (e: Error) => e instanceof ExternalToolError && /not found.*apt-get install ffmpeg/.test(e.message));
      });
      const junk = path.join(tmp, 'junk.mp4');
      fs.writeFileSync(junk, 'not a video');
      await assert.rejects(readAll(junk), (e: Error) => e instanceof InputError && /cannot decode video '.*junk\.mp4': .*Invalid data/s.test(e.message));
      await assert.rejects(readAll(path.join(tmp, 'none.mp4')), /video file '.*none\.mp4' does not exist/);
      await assertNoFfmpegLeft('no ffmpeg left running');
    });
  });

  describe('GIF encoder (decoded back by ffmpeg)', () => {
    function writeGif(file: string, w: number, h: number, frames: Uint8Array[]): void {
      const chunks: Uint8Array[] = [];
      const gif = new GifEncoder(w, h, { delayCs: 5 }, (b) => chunks.push(b.slice()));
      for (const f of frames) gif.addFrame(f);
      gif.finish();
      fs.writeFileSync(file, Buffer.concat(chunks));
    }

    it('frames of at most 256 colours that are multiples of 8 come back exactly, LZW table resets included', async () => {
      const [w, h] = [200, 150];
      // Pseudo-random pixels over 256 colours: thousands of LZW codes per frame, so the 4096-code table fills and restarts.
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const colours = Array.from({ length: 256 }, (_, k) => [(k % 8) * 32, ((k >> 3) % 8) * 32, (k >> 6) * 64]);
      const frames = [0, 1, 2].map((k) => Uint8Array.from({ length: w * h }, (_, i) => (k === 2 ? i % 3 : Math.floor(rand() * 256))).reduce(
        (rgb, c, i) => (rgb.set(colours[c], 3 * i), rgb), new Uint8Array(w * h * 3)));
      const file = path.join(tmp, 'exact.gif');
      writeGif(file, w, h, frames);
      const back = await readAll(file);
      assert.equal(back.length, 3);
      back.forEach((f, k) => assert.ok(Buffer.from(f.data).equals(Buffer.from(frames[k])), `GIF frame ${k} differs`));
    });

    it('video frames come back close (median cut to 256 colours, no dithering)', async () => {
      const file = path.join(tmp, 'video.gif');
      const frames = [0, 11, 23].map(goldenFrame);
      writeGif(file, S, S, frames);
      const back = await readAll(file);
      back.forEach((f, k) => {
        let sum = 0;
        for (let i = 0; i < f.data.length; i++) sum += Math.abs(f.data[i] - frames[k][i]);
        const mean = sum / f.data.length;
        console.log(`      GIF frame ${k}: mean |Δ| ${mean.toFixed(2)} levels`);
        assert.ok(mean < 6, `mean error ${mean}`);
      });
    });
  });

  describe('segment on video files', () => {
    const fresh = (name: string) => path.join(tmp, name);

    /** Per-frame IoU of the label PNGs with a golden run's masks. */
    function goldenIous(dir: string, rel: string): number[] {
      const packed = golden(rel).read('video_res_mask_packbits');
      const [n, h, rowBytes] = packed.shape;
      const files = pngNames(dir);
      assert.deepEqual(files, Array.from({ length: n }, (_, i) => `${String(i).padStart(5, '0')}.png`));
      return files.map((f, i) => {
        const labels = decodeLabelPng(fs.readFileSync(path.join(dir, f)), f).data;
        return maskIou(labels, unpackBits((packed.data as Uint8Array).subarray(i * h * rowBytes, (i + 1) * h * rowBytes), h, h));
      });
    }

    it('greedy on a lossless MP4: masks match the official run; mask video, overlays, GIF preview and summary agree', async () => {
      const [out, overlay, gif, mkv] = [fresh('seg'), fresh('overlay'), fresh('preview.gif'), fresh('masks.mkv')];
      const tensorsBefore = tf.memory().numTensors;
      const t0 = performance.now();
      const r = await cli('segment', '--model', model, '--frames', clip, '--out', out, '--points', '46,128,1', '--quiet',
        '--overlay', overlay, '--preview', gif, '--mask-video', mkv);
      console.log(`      segment clip.mp4 with every output: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      assert.equal(r.code, 0, r.err);
      assert.equal(tf.memory().numTensors, tensorsBefore);
      await assertNoFfmpegLeft('no ffmpeg left running');
      const ious = goldenIous(out, 'video1/sam21_mini.sam2_greedy.point.safetensors');
      console.log(`      clip.mp4 vs golden: mask IoU min ${Math.min(...ious).toFixed(4)}`);
      ious.forEach((iou, f) => assert.ok(iou >= 0.99, `frame ${f}: IoU ${iou}`));
      for (const dir of [out, overlay]) assert.equal(fs.existsSync(path.join(dir, INCOMPLETE_MARKER)), false);

      const labels = pngNames(out).map((f) => decodeLabelPng(fs.readFileSync(path.join(out, f)), f).data);
      const video = await readAll(mkv, true);
      assert.equal(video.length, N);
      video.forEach((f, i) => assert.deepEqual([...f.data], [...labels[i]], `mask video frame ${i}`));
      assert.equal(probeVideo(mkv).fps, 24, 'the input video\'s rate');

      assert.deepEqual(pngNames(overlay), pngNames(out));
      for (const i of [0, 9]) {
        const pic = decodePng(fs.readFileSync(path.join(overlay, pngNames(overlay)[i])));
        assert.deepEqual([pic.width, pic.height, pic.colorType], [S, S, 'rgb']);
        const drawn = drawLabels({ width: S, height: S, data: goldenFrame(i) }, labels[i]);
        const at = (x: number, y: number) => [...pic.samples.subarray(3 * (y * S + x), 3 * (y * S + x) + 3)];
        if (i === 0) assert.deepEqual(at(46, 128), [...POSITIVE_COLOUR], 'the click is marked on its frame');
        else assert.ok(Buffer.from(pic.samples).equals(Buffer.from(drawn)), `overlay ${i}: the frame with its labels drawn, nothing else`);
      }
      const preview = await readAll(gif);
      assert.deepEqual([preview.length, preview[0].width, preview[0].height], [N, S, S]);

      const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      assert.equal(summary.status, 'complete');
      assert.deepEqual([summary.mode, summary.input, summary.framesTracked, summary.frames.length], ['sam2', clip, N, N]);
      const scores = golden('video1/sam21_mini.sam2_greedy.point.safetensors').read('object_score_logits').data as Float32Array;
      summary.frames.forEach((f: { frame: number; ms: number; objects: { id: number; objectScore: number; area: number }[] }, i: number) => {
        assert.equal(f.frame, i);
        assert.ok(f.ms >= 0);
        assert.equal(f.objects[0].area, (labels[i] as Uint8Array).reduce((n, v) => n + v, 0));
        assert.ok(Math.abs(f.objects[0].objectScore - scores[i]) <= 5e-2, `frame ${i} object score`);
      });
    });

    it('SAM2Long on video2: summary slots are the official final path; the paths view panels are the official final paths', async () => {
      const rel = 'video2/sam21_mini_b.sam2long_P3.point.safetensors';
      const g = golden(rel);
      const [out, overlay, paths, mp4] = [fresh('tree'), fresh('tree-overlay'), fresh('paths'), fresh('tree.mp4')];
      const tensorsBefore = tf.memory().numTensors;
      const t0 = performance.now();
      const r = await cli('segment', '--model', modelB, '--frames', fixturePath('video2/frames'), '--out', out, '--points', '46,128,1', '--quiet',
        '--tree', '3', '--overlay', overlay, '--paths-view', paths, '--paths-range', '12:31', '--preview', mp4, '--fps', '5');
      console.log(`      segment video2 --tree 3 with every output: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /paths view: 20 picture\(s\)/);
      assert.equal(tf.memory().numTensors, tensorsBefore);
      const ious = goldenIous(out, rel);
      ious.forEach((iou, f) => assert.ok(iou >= 0.99, `frame ${f}: IoU ${iou}`));

      const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      assert.deepEqual([summary.mode, summary.tree.pathways, summary.frames.length], ['sam2long', 3, 32]);
      assert.equal(summary.frames[0].objects[0].slot, undefined, 'the prompt frame has no slot');
      const bestSlots = g.read('best_path_slot_per_frame').data as Int32Array;
      const acc = g.read('acc_score_after_f64_as_2xf32').data as Float32Array;
      let maxScoreDiff = 0;
      for (const f of summary.frames.slice(1)) {
        const o = f.objects[0];
        assert.equal(o.slot, bestSlots[f.frame], `frame ${f.frame}: slot of the final path`);
        if (f.frame >= 2) maxScoreDiff = Math.max(maxScoreDiff, Math.abs(o.pathScore - (acc[(f.frame * 3 + o.slot) * 2] + acc[(f.frame * 3 + o.slot) * 2 + 1])));
      }
      console.log(`      summary: final path slots exact, path score max|Δ| ${maxScoreDiff.toExponential(2)}`);
      assert.ok(maxScoreDiff <= 1e-2);

      // The range ends on the last frame, so its P paths are the final paths: panel p shows final path p.
      const history = g.read('final_path_slot_history').data as Int32Array;
      const slotLogits = g.read('slot_low_res_logits');
      const names = pngNames(paths);
      assert.deepEqual(names, Array.from({ length: 20 }, (_, k) => `${String(12 + k).padStart(5, '0')}.png`));
      const frames2 = golden('video2/frames.safetensors').read('frames_rgb_u8').data as Uint8Array;
      for (const name of names) {
        const f = Number(name.slice(0, 5));
        const row = decodePng(fs.readFileSync(path.join(paths, name)));
        assert.deepEqual([row.width, row.height], [3 * S + 2 * 4, S]);
        const pixels = row.samples as Uint8Array;
        const panel = (p: number) => Buffer.concat(Array.from({ length: S }, (_, y) => pixels.subarray(3 * (y * row.width + p * (S + 4)), 3 * (y * row.width + p * (S + 4) + S))));
        assert.ok(panel(0).equals(Buffer.from(decodePng(fs.readFileSync(path.join(overlay, name))).samples)), `${name}: panel 0 is the final masks`);
        for (const p of [1, 2]) {
          const slot = history[p * 32 + f];
          if (slot === history[f]) {
            assert.ok(panel(p).equals(panel(0)), `${name}: path ${p} shares slot ${slot} with path 0`);
            continue;
          }
          const mask = tf.tidy(() => {
            const low = tf.tensor4d((slotLogits.data as Float32Array).subarray((f * 3 + slot) * 64 * 64, (f * 3 + slot + 1) * 64 * 64), [1, 64, 64, 1]);
            return tf.greater(upsampleLogits(low, S, S), 0).dataSync() as Uint8Array;
          });
          const expected = drawLabels({ width: S, height: S, data: frames2.subarray(f * S * S * 3, (f + 1) * S * S * 3) }, mask);
          const mine = panel(p);
          let differing = 0;
          for (let i = 0; i < S * S; i++) if (mine[3 * i] !== expected[3 * i] || mine[3 * i + 1] !== expected[3 * i + 1]) differing++;
          console.log(`      ${name} path ${p} (slot ${slot}): ${differing} px differ from the official slot mask drawn`);
          assert.ok(differing <= 0.01 * S * S);
        }
      }
      assert.deepEqual(probeVideo(mp4), { fps: 5, frames: 32 });
    });

    it('a run that fails half way leaves no partial video, marks the overlays unfinished and says why in summary.json', async () => {
      const frames = fresh('broken-frames');
      fs.mkdirSync(frames);
      for (const f of ['00000.jpg', '00001.jpg', '00003.jpg']) fs.copyFileSync(path.join(FRAMES_DIR, f), path.join(frames, f));
      fs.writeFileSync(path.join(frames, '00002.jpg'), 'not a jpeg');
      const [out, overlay, gif, mkv] = [fresh('broken'), fresh('broken-overlay'), fresh('broken.gif'), fresh('broken.mkv')];
      const r = await cli('segment', '--model', model, '--frames', frames, '--out', out, '--points', '46,128,1', '--quiet',
        '--overlay', overlay, '--preview', gif, '--mask-video', mkv);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /cannot decode image.*00002\.jpg/);
      assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('broken.')), [], 'no preview or mask video, not even a .partial');
      assert.deepEqual(pngNames(overlay), ['00000.png', '00001.png']);
      assert.match(fs.readFileSync(path.join(overlay, INCOMPLETE_MARKER), 'utf8'), /failed after 2 overlay\(s\): .*00002\.jpg/);
      const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      assert.equal(summary.status, 'failed');
      assert.match(summary.error, /00002\.jpg/);
      assert.deepEqual(summary.frames.map((f: { frame: number }) => f.frame), [0, 1]);
      await assertNoFfmpegLeft('no ffmpeg left running');
    });

    it('a truncated MP4 (index at the front, cut at 60%) fails with the number of frames read, after writing those', async () => {
      const whole = fresh('faststart.mp4');
      const made = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', clip, '-c:v', 'libx264rgb', '-qp', '0', '-movflags', '+faststart', whole], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const cut = fresh('cut.mp4');
      const bytes = fs.readFileSync(whole);
      fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      assert.equal(probeVideo(cut).frames, N, 'the container still lists every frame');
      let read = 0;
      await assert.rejects((async () => {
        for await (const _ of readVideo(cut)) read++;
      })(), (e: Error) => e instanceof InputError && new RegExp(`cut\\.mp4' is (damaged or )?truncated.*${read} of the ${N} frame`).test(e.message));
      assert.ok(read > 0 && read < N, `${read} frames`);
      const out = fresh('cut-out');
      const r = await cli('segment', '--model', model, '--frames', cut, '--out', out, '--points', '46,128,1', '--quiet');
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`truncated.*${read} of the ${N} frame`));
      assert.match(r.err, new RegExp(`stopped after ${read} mask\\(s\\)`));
      const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      assert.equal(summary.status, 'failed');
      assert.equal(summary.frames.length, read);
      assert.ok(fs.existsSync(path.join(out, INCOMPLETE_MARKER)));
      await assertNoFfmpegLeft('no ffmpeg left running');
    });

    it('bad command lines: exit 2 (ffmpeg missing: exit 1 with how to install it), nothing written', async () => {
      const out = fresh('bad');
      const seg = (...args: string[]) => cli('segment', '--model', model, '--out', out, '--quiet', ...args);
      const cases: [string[], RegExp][] = [
        [['--frames', clip, '--points', '46,128,1', '--reverse'], /--reverse needs a directory of frames/],
        [['--frames', clip, '--points', '46,128,1', '--frame', '3', '--points', '40,120,1'], /prompts on frames 0, 3: a video file is read once/],
        [['--frames', clip, '--points', '46,128,1', '--mask-video', fresh('m.mp4')], /--mask-video .*use a \.mkv file/],
        [['--frames', clip, '--points', '46,128,1', '--preview', fresh('p.png')], /--preview .*use a \.gif or \.mp4 file/],
        [['--frames', FRAMES_DIR, '--points', '46,128,1', '--preview', fresh('p.gif'), '--frame', '5', '--points', '46,128,1', '--reverse'], /do not go with --reverse/],
        [['--frames', clip, '--points', '46,128,1', '--paths-view', fresh('pv'), '--paths-range', '1:4'], /use it with --tree/],
        [['--frames', clip, '--points', '46,128,1', '--tree', '3', '--paths-view', fresh('pv')], /--paths-view and --paths-range go together/],
        [['--frames', clip, '--points', '46,128,1', '--tree', '3', '--paths-view', fresh('pv'), '--paths-range', '5:2'], /the first frame is after the last/],
        [['--frames', clip, '--points', '46,128,1', '--overlay', out], /--out .* and --overlay .* are the same directory/],
        [['--frames', clip, '--points', '46,128,1', '--fps', '0'], /--fps: 0 must be > 0/],
        [['--frames', fresh('none.mp4'), '--points', '46,128,1'], /video file '.*none\.mp4' does not exist/],
      ];
      for (const [args, message] of cases) {
        const r = await seg(...args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
        assert.match(r.err, message, args.join(' '));
      }
      const noFfmpeg = await withFfmpeg(path.join(tmp, 'no-ffmpeg-here'), () => seg('--frames', clip, '--points', '46,128,1'));
      assert.equal(noFfmpeg.code, 1);
      assert.match(noFfmpeg.err, /video files need ffmpeg, which was not found .*apt-get install ffmpeg/);
      assert.equal(fs.existsSync(out), false);
    });
  });
});
