/**
 * The page's media modules in real headless Chromium, on a test page built from test/e2e/harness/:
 * frame-accurate video decoding through WebCodecs (H.264 in MP4 with B-frames, VP9 in WebM) and through the
 * <video> fallback, every frame checked by its colour (test/helpers/test-video.ts); checkpoints downloaded with
 * progress and cached (the server counts requests), and wrong or partial picks told apart; the overlay video
 * export (WebCodecs + webm-muxer, and the MediaRecorder fallback), its WebM read back by ffprobe and ffmpeg.
 * Run with `npm run test:e2e`; needs chromium (`apt-get install -y chromium`).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { fixturePath } from '../helpers/golden.js';
import { FRAME_COLOURS, TEST_VIDEO, nearestFrame } from '../helpers/test-video.js';
import { findChromium, launchChromium } from './browser.js';
import { bundlePage } from './bundle.js';
import { TestServer } from './test-server.js';
import type { Harness } from './harness/media-harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VIDEOS = path.join(HERE, '../fixtures/video');
/** Largest channel difference between a decoded frame's colour and the colour it was encoded from (4:2:0, YUV rounding). */
const COLOUR_TOLERANCE = 12;

declare global {
  // eslint-disable-next-line no-var
  var harness: Harness;
}

describe('page media in headless Chromium (e2e)', function () {
  this.timeout(300_000);
  let dist: string;
  let work: string;
  let weights: Buffer;
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;

  before(async function () {
    const executable = findChromium();
    assert.ok(executable, 'no chromium found: install it (apt-get install -y chromium) or set CHROMIUM_PATH');
    dist = await bundlePage(path.join(HERE, 'harness'));
    server = new TestServer(dist);
    for (const f of fs.readdirSync(VIDEOS)) server.files.set(`/video/${f}`, { body: fs.readFileSync(path.join(VIDEOS, f)), type: 'application/octet-stream' });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-media-'));
    execFileSync(process.execPath, [path.join(HERE, '../../bin/sam2long.js'), 'convert', fixturePath('sam21_mini.pt'), work, '--config', fixturePath('sam21_mini.config.json')], { stdio: 'pipe' });
    const converted = (ext: string) => fs.readFileSync(path.join(work, fs.readdirSync(work).find((f) => f.endsWith(ext)) as string));
    weights = converted('.safetensors');
    const binary = (body: Uint8Array) => ({ body, type: 'application/octet-stream' });
    server.files.set('/model/mini.safetensors', binary(weights));
    server.files.set('/model/mini.json', { body: converted('.json'), type: 'application/json' });
    server.files.set('/model/cut.safetensors', binary(weights.subarray(0, weights.length - 1000)));
    server.files.set('/model/cut.json', { body: converted('.json'), type: 'application/json' });
    server.files.set('/model/bare.safetensors', binary(weights));
    server.files.set('/model/broken.safetensors', binary(weights));
    server.broken.add('/model/broken.safetensors');
    server.files.set('/model/notes.txt', binary(new TextEncoder().encode('not a checkpoint')));
    server.files.set('/model/sam2.1_hiera_tiny.pt', binary(new TextEncoder().encode('PK')));
    await server.start();
    browser = await launchChromium(executable);
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (dist) fs.rmSync(dist, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function harnessPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(server.url);
    await page.waitForFunction(() => 'harness' in globalThis);
    return { page, errors };
  }

  /** Checks that `colours[k]` is the colour of frame `frames[k]`. */
  function assertFrames(colours: number[][], frames: number[], what: string): void {
    assert.equal(colours.length, frames.length, `${what}: ${colours.length} frames read`);
    colours.forEach((rgb, k) => {
      const got = nearestFrame(rgb);
      assert.equal(got.frame, frames[k], `${what}: asked for frame ${frames[k]}, got frame ${got.frame}'s colour (${rgb.join(', ')})`);
      assert.ok(got.distance <= COLOUR_TOLERANCE, `${what}: frame ${frames[k]} colour ${rgb.join(', ')} is ${got.distance} off`);
    });
  }

  const RANDOM = [7, 2, 11, 0, 5, 5, 9, 3, 10, 1];
  const ALL = Array.from({ length: TEST_VIDEO.frames }, (_, i) => i);

  for (const clip of ['colours-h264.mp4', 'colours-vp9.webm']) {
    it(`${clip}: WebCodecs gives every frame exactly, in order and at random, and the <video> fallback the same frames`, async () => {
      const { page, errors } = await harnessPage();
      try {
        const url = `/video/${clip}`;
        const fast = await page.evaluate(([u, order]) => harness.readVideo(u, 'auto', order, { cacheFrames: 4 }), [url, RANDOM] as const);
        assert.equal(fast.decoding, 'webcodecs', `fell back: ${fast.fallback}`);
        assert.deepEqual([fast.count, fast.width, fast.height, fast.framesCut], [TEST_VIDEO.frames, TEST_VIDEO.width, TEST_VIDEO.height, 0]);
        assert.ok(Math.abs(fast.fps - TEST_VIDEO.fps) < 0.01, `fps ${fast.fps}`);
        assertFrames(fast.inOrder, ALL, `${clip} webcodecs, in order`);
        assert.equal(fast.decodedInOrder, TEST_VIDEO.frames, 'reading in order decodes each frame once, with 4 frames cached');
        assertFrames(fast.random, RANDOM, `${clip} webcodecs, random access`);
        assert.match(fast.outOfRange, /frame index 12 is out of range \(12 frames\)/);

        const slow = await page.evaluate(([u, order]) => harness.readVideo(u, 'video-element', order), [url, RANDOM] as const);
        assert.equal(slow.decoding, 'video-element');
        assertFrames(slow.inOrder, ALL, `${clip} <video> fallback, in order`);
        assertFrames(slow.random, RANDOM, `${clip} <video> fallback, random access`);
        slow.inOrder.forEach((rgb, f) => rgb.forEach((v, c) => assert.ok(Math.abs(v - fast.inOrder[f][c]) <= 4, `${clip} frame ${f}: fallback ${rgb} vs WebCodecs ${fast.inOrder[f]}`)));
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });
  }

  it('falls back to the <video> element where WebCodecs is missing, and applies the frame and size limits', async () => {
    const { page, errors } = await harnessPage();
    try {
      const r = await page.evaluate(() => harness.readVideo('/video/colours-h264.mp4', 'auto', [4, 0], { hideWebCodecs: true, maxSide: 32 }));
      assert.equal(r.decoding, 'video-element');
      assert.match(r.fallback ?? '', /no WebCodecs VideoDecoder/);
      assert.deepEqual([r.width, r.height], [32, 24]);
      assertFrames(r.inOrder, ALL, 'fallback without WebCodecs');
      assertFrames(r.random, [4, 0], 'fallback without WebCodecs, random');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
    const { page: p2 } = await harnessPage();
    try {
      const r = await p2.evaluate(() => harness.readVideo('/video/colours-vp9.webm', 'auto', [4], { maxSide: 32, maxFrames: 5 }));
      assert.equal(r.decoding, 'webcodecs');
      assert.deepEqual([r.width, r.height, r.count, r.framesCut], [32, 24, 5, TEST_VIDEO.frames - 5]);
      assertFrames(r.inOrder, ALL.slice(0, 5), 'webcodecs scaled to 32 px, first 5 frames');
      assertFrames(r.random, [4], 'webcodecs scaled to 32 px, random');
      assert.match(r.outOfRange, /frame index 5 is out of range \(5 frames\)/);
    } finally {
      await p2.close();
    }
  });

  it('downloads a checkpoint with progress in bytes, caches it, and a reload reads it from the cache', async () => {
    const count = (p: string) => server.requests.filter((r) => r === p).length;
    const { page, errors } = await harnessPage();
    try {
      const first = await page.evaluate(() => harness.loadModelUrl('/model/mini.safetensors'));
      assert.equal(first.error, undefined, first.error);
      assert.equal(first.fromCache, false);
      assert.ok(first.cachedNow, 'the checkpoint is in Cache Storage after the download');
      assert.ok(first.params && first.params > 1e5 && first.imageSize, `model: ${JSON.stringify(first)}`);
      const last = first.progress[first.progress.length - 1];
      assert.ok(first.progress.length > 2, `${first.progress.length} progress reports`);
      assert.deepEqual(last, { loaded: weights.length, total: weights.length, fromCache: false });
      first.progress.slice(1).forEach((p, i) => assert.ok(p.loaded >= first.progress[i].loaded, 'progress never goes back'));
      assert.equal(count('/model/mini.safetensors'), 1);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
    const { page: reloaded } = await harnessPage();
    try {
      const second = await reloaded.evaluate(() => harness.loadModelUrl('/model/mini.safetensors'));
      assert.equal(second.error, undefined, second.error);
      assert.equal(second.fromCache, true);
      assert.equal(count('/model/mini.safetensors'), 1, 'the reload downloaded the checkpoint again');
      assert.deepEqual(second.progress[second.progress.length - 1], { loaded: weights.length, total: weights.length, fromCache: true });
    } finally {
      await reloaded.close();
    }
  });

  it('says clearly what is wrong with a partial download, a cut file, a wrong pick or a missing config', async () => {
    const { page } = await harnessPage();
    try {
      const broken = await page.evaluate(() => harness.loadModelUrl('/model/broken.safetensors'));
      assert.match(broken.error ?? '', /broken\.safetensors: the download (ended after|broke off after) \d+/);
      assert.equal(broken.cachedNow, false, 'a broken download is not cached');

      const cut = await page.evaluate(() => harness.loadModelUrl('/model/cut.safetensors'));
      assert.match(cut.error ?? '', new RegExp(`'cut\\.safetensors' is incomplete: .* \\(${weights.length - 1000} of ${weights.length} bytes\\)\\. A download or copy was cut short`));
      assert.equal(cut.cachedNow, false, 'a cut file is not cached');

      const cutPick = await page.evaluate(() => harness.loadModelFiles(['/model/cut.safetensors', '/model/cut.json']));
      assert.match(cutPick.error ?? '', /'cut\.safetensors' is incomplete/);
      const onlyWeights = await page.evaluate(() => harness.loadModelFiles(['/model/bare.safetensors']));
      assert.match(onlyWeights.error ?? '', /not one of the official SAM 2 \/ 2\.1 models \(it has .*\), so its config cannot be detected: pick its \.json/);
      assert.doesNotMatch(onlyWeights.error ?? '', /--config/, 'no CLI flags in the page');
      const bareUrl = await page.evaluate(() => harness.loadModelUrl('/model/bare.safetensors'));
      assert.match(bareUrl.error ?? '', /so its config cannot be detected/, 'a URL without a .json beside it: detection from the shapes, which finds no official variant');
      const text = await page.evaluate(() => harness.loadModelFiles(['/model/notes.txt']));
      assert.match(text.error ?? '', /No \.safetensors among the picked files \(notes\.txt\)/);
      const torch = await page.evaluate(() => harness.loadModelFiles(['/model/sam2.1_hiera_tiny.pt']));
      assert.match(torch.error ?? '', /'sam2\.1_hiera_tiny\.pt' is a PyTorch checkpoint, which a page cannot read: convert it/);
      const both = await page.evaluate(() => harness.loadModelFiles(['/model/mini.safetensors', '/model/mini.json']));
      assert.equal(both.error, undefined, both.error);
    } finally {
      await page.close();
    }
  });

  /** The video's stream as ffprobe reads it, and the centre colour of every frame ffmpeg decodes. */
  function probeWebm(bytes: number[]): { codec: string; width: number; height: number; frames: number; colours: number[][] } {
    const file = path.join(work, `export-${Date.now()}.webm`);
    fs.writeFileSync(file, Uint8Array.from(bytes));
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' })).streams[0];
    const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 28 });
    const frameBytes = probe.width * probe.height * 3;
    const at = (Math.floor(probe.height / 2) * probe.width + Math.floor((probe.width * 3) / 4)) * 3;
    const colours = Array.from({ length: raw.length / frameBytes }, (_, f) => [...raw.subarray(f * frameBytes + at, f * frameBytes + at + 3)]);
    return { codec: probe.codec_name, width: probe.width, height: probe.height, frames: Number(probe.nb_read_frames), colours };
  }

  it('exports the overlay as a WebM through WebCodecs: every frame, in order, at its size, decodable by ffmpeg', async () => {
    const { page, errors } = await harnessPage();
    try {
      const colours = FRAME_COLOURS.slice(0, 7).map((c) => [...c]);
      const out = await page.evaluate(([c]) => harness.exportColours(c, 65, 49, 10, 'auto'), [colours] as const);
      assert.equal(out.encoding, 'webcodecs');
      assert.equal(out.frames, colours.length);
      assert.deepEqual(out.progress, colours.map((_, i) => i + 1));
      const probe = probeWebm(out.bytes);
      assert.equal(probe.codec, out.codec.startsWith('vp09') ? 'vp9' : 'vp8');
      assert.deepEqual([probe.width, probe.height, probe.frames], [64, 48, colours.length], 'odd sides rounded down to even');
      assertFrames(probe.colours, colours.map((_, i) => i), 'exported WebM decoded by ffmpeg');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('exports through MediaRecorder where WebCodecs cannot encode: a WebM ffmpeg decodes, frames in order', async () => {
    const { page, errors } = await harnessPage();
    try {
      const colours = FRAME_COLOURS.slice(0, 5).map((c) => [...c]);
      const out = await page.evaluate(([c]) => harness.exportColours(c, 64, 48, 5, 'media-recorder'), [colours] as const);
      assert.equal(out.encoding, 'media-recorder');
      const probe = probeWebm(out.bytes);
      assert.deepEqual([probe.width, probe.height], [64, 48]);
      assert.ok(probe.frames >= 1, 'no frame recorded');
      // Recorded in real time: frames may repeat or drop, but each is one of ours and they never go back.
      const seen = probe.colours.map((c) => nearestFrame(c));
      seen.forEach((s, i) => assert.ok(s.distance <= COLOUR_TOLERANCE && (i === 0 || s.frame >= seen[i - 1].frame), `recorded frame ${i}: ${JSON.stringify(s)}`));
      assert.equal(seen[seen.length - 1].frame, colours.length - 1, 'the last frame is in the recording');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
