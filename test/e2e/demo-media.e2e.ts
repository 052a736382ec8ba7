/**
 * The demo page's media, driven through its controls in headless Chromium: a checkpoint loaded by URL with
 * its download progress and kept in the browser's cache (a reload loads it without a request), a video file
 * opened through WebCodecs (the view shows exactly the frame the slider names, by colour), tracked, and the
 * overlay exported as a WebM that ffprobe reads back with every frame at the video's size.
 * Run with `npm run test:e2e` (builds the demo first); needs chromium and ffmpeg.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { ISOLATION_HEADERS } from '../../demo/headers.js';
import { fixturePath } from '../helpers/golden.js';
import { TEST_VIDEO, nearestFrame } from '../helpers/test-video.js';
import { findChromium, launchChromium } from './browser.js';
import { ROOT, clickVideoPixel, setRange, settled } from './demo-page.js';
import { TestServer } from './test-server.js';

const DIST = path.join(ROOT, 'demo/dist');
const CLIP = path.join(ROOT, 'test/fixtures/video/colours-h264.mp4');

/** The colour at the centre of the frame view's canvas. */
function viewCentre(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const c = document.getElementById('view') as HTMLCanvasElement;
    const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
    return [d[0], d[1], d[2]];
  });
}

describe('demo page media in headless Chromium (e2e)', function () {
  this.timeout(600_000);
  let work: string;
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  before(async () => {
    const executable = findChromium();
    assert.ok(executable, 'no chromium found: install it (apt-get install -y chromium) or set CHROMIUM_PATH');
    assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'demo/dist is missing: run `npm run build:demo` first');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-demo-media-'));
    execFileSync(process.execPath, [path.join(ROOT, 'bin/sam2long.js'), 'convert', fixturePath('sam21_mini.pt'), work, '--config', fixturePath('sam21_mini.config.json')], { stdio: 'pipe' });
    server = new TestServer(DIST, ISOLATION_HEADERS);
    for (const ext of ['.safetensors', '.json']) {
      const file = fs.readdirSync(work).find((f) => f.endsWith(ext)) as string;
      server.files.set(`/model/mini${ext}`, { body: fs.readFileSync(path.join(work, file)), type: 'application/octet-stream' });
    }
    await server.start();
    browser = await launchChromium(executable);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  async function loadModelUrl(page: Page): Promise<string> {
    await page.fill('#model-url', '/model/mini.safetensors');
    await page.click('#model-url-load');
    await settled(page, 'loading the model by URL');
    return (await page.textContent('#model-status')) ?? '';
  }

  it('downloads and caches the checkpoint, opens a video through WebCodecs, and exports the overlay video', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(`${server.url}?backend=wasm`);
      await settled(page, 'starting');
      assert.match(await loadModelUrl(page), /downloaded and cached for next time/);
      assert.equal(server.requests.filter((r) => r === '/model/mini.safetensors').length, 1);

      await page.setInputFiles('#video-file', CLIP);
      await settled(page, 'opening the video');
      assert.match(await page.textContent('#video-status') ?? '', new RegExp(`${TEST_VIDEO.frames} frames, ${TEST_VIDEO.width}×${TEST_VIDEO.height} · ${TEST_VIDEO.fps} fps, decoded frame-accurately \\(WebCodecs\\)`));
      assert.match(await page.textContent('#video-limits') ?? '', /up to \d+ frames; video files scaled to ≤ \d+ px/);
      for (const f of [7, 2, 11]) {
        await setRange(page, '#frame', f);
        // The view draws once the frame is decoded: wait for it (or give up after a few seconds and report what it shows).
        let rgb = await viewCentre(page);
        for (let tries = 0; tries < 50 && nearestFrame(rgb).frame !== f; tries++) {
          await page.waitForTimeout(100);
          rgb = await viewCentre(page);
        }
        assert.equal(nearestFrame(rgb).frame, f, `the view shows frame ${nearestFrame(rgb).frame}'s colour for frame ${f}`);
      }

      await setRange(page, '#frame', 0);
      await page.waitForFunction(() => document.getElementById('frame-badge')?.dataset.frame === '0');
      await clickVideoPixel(page, TEST_VIDEO.width / 2, TEST_VIDEO.height / 2);
      await settled(page, 'segmenting the click');
      await page.click('#propagate');
      await settled(page, 'propagating');

      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-overlay')]);
      await settled(page, 'exporting the overlay video');
      assert.equal(dl.suggestedFilename(), 'colours-h264-overlay.webm');
      const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', await dl.path()], { encoding: 'utf8' })).streams[0];
      assert.deepEqual([probe.width, probe.height, Number(probe.nb_read_frames)], [TEST_VIDEO.width, TEST_VIDEO.height, TEST_VIDEO.frames]);
      assert.match(await page.textContent('#status') ?? '', new RegExp(`Exported colours-h264-overlay\\.webm: ${TEST_VIDEO.frames} frames`));
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }

    const reloaded = await browser.context.newPage();
    try {
      await reloaded.goto(`${server.url}?backend=wasm`);
      await settled(reloaded, 'starting again');
      assert.match(await loadModelUrl(reloaded), /from the browser cache/);
      assert.equal(server.requests.filter((r) => r === '/model/mini.safetensors').length, 1, 'the reload downloaded the checkpoint again');
    } finally {
      await reloaded.close();
    }
  });
});
