/**
 * The demo page in real headless Chromium, driven as a person would: load a golden mini checkpoint
 * (converted by the CLI) and golden frames through the file pickers, click the golden point on frame 0,
 * pick SAM 2 greedy or the SAM2Long tree, propagate, download the masks zip and compare every frame with
 * the official run (IoU ≥ 0.99), on WebGL (software GL) and on wasm.
 * Screenshots go to $E2E_ARTIFACTS_DIR (default: a temp folder); E2E_DOCS_SCREENSHOT=docs/demo.png also
 * writes the first wasm one there (the README's picture).
 * Run with `npm run test:e2e` (builds the demo first); needs chromium (`apt-get install -y chromium`).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import type { BrowserContext, Page } from 'playwright-core';
import { DAVIS_PALETTE, decodeLabelPng, decodePng } from '../../src/io/png.js';
import { unpackBits } from '../../src/predictor/transforms.js';
import { fixturePath, golden, goldenJson } from '../helpers/golden.js';
import { maskIou } from '../helpers/video.js';
import { findChromium, launchChromium, serveStatic } from './browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'demo/dist');

type MiniModel = 'sam21_mini' | 'sam21_mini_b';

interface Run {
  backend: 'webgl' | 'wasm';
  model: MiniModel;
  video: 'video1' | 'video2';
  /** How many frames of the video the page gets. */
  frames: number;
  /** The picker the frames go through. */
  input: '#frame-files' | '#frames-folder';
  /** SAM2Long paths P; absent = SAM 2 greedy. */
  pathways?: number;
  /** The official run to compare with (without .safetensors). */
  golden: string;
}

/**
 * WebGL runs on SwiftShader here, where compiling tfjs's shaders dominates (most of a minute before the
 * first mask), so it gets a prefix of video2, whose first tracked frames hold the object (greedy tracking
 * of frame t reads only frames ≤ t, so the prefix matches the full run). wasm tracks video1 whole, greedy
 * and with the SAM2Long tree (P = 3).
 */
const RUNS: Run[] = [
  { backend: 'webgl', model: 'sam21_mini_b', video: 'video2', frames: Number(process.env.E2E_WEBGL_FRAMES ?? 3), input: '#frame-files', golden: 'video2/sam21_mini_b.sam2_greedy.point' },
  { backend: 'wasm', model: 'sam21_mini', video: 'video1', frames: Infinity, input: '#frames-folder', golden: 'video1/sam21_mini.sam2_greedy.point' },
  { backend: 'wasm', model: 'sam21_mini', video: 'video1', frames: Infinity, input: '#frames-folder', pathways: 3, golden: 'video1/sam21_mini.sam2long_P3.point' },
];

interface GoldenPrompt { frame: number; points: [number, number][]; labels: number[] }

/** Waits until the page is done with its current action and fails with the page's own error, if any. */
async function settled(page: Page, what: string, timeout = 60_000): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.state !== 'busy', undefined, { timeout });
  const state = await page.evaluate(() => document.body.dataset.state);
  const status = await page.textContent('#status');
  assert.notEqual(state, 'error', `${what}: ${status}`);
}

/** Clicks the frame view at video pixel (x, y). */
async function clickVideoPixel(page: Page, x: number, y: number): Promise<void> {
  const box = await page.locator('#view').boundingBox();
  const size = await page.evaluate(() => {
    const c = document.getElementById('view') as HTMLCanvasElement;
    return { width: c.width, height: c.height };
  });
  assert.ok(box, 'the frame view is not visible');
  await page.mouse.click(box.x + (x * box.width) / size.width, box.y + (y * box.height) / size.height);
}

/** Sets a range input as a drag would (value, then an input event). */
async function setRange(page: Page, selector: string, value: number): Promise<void> {
  await page.locator(selector).evaluate((el, v) => {
    (el as HTMLInputElement).value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

/** Per frame: the IoU of the downloaded label PNG (object 1) with the official video-resolution mask. */
function iousAgainstGolden(zip: Uint8Array, rel: string, numFrames: number): number[] {
  const files = unzipSync(zip);
  const packed = golden(`${rel}.safetensors`).read('video_res_mask_packbits');
  const [, H, W8] = packed.shape.slice(-3);
  assert.equal(Object.keys(files).length, numFrames, `the zip has ${Object.keys(files).length} masks for ${numFrames} frames`);
  return Array.from({ length: numFrames }, (_, f) => {
    const name = `masks/${String(f).padStart(5, '0')}.png`;
    assert.ok(files[name], `the zip has no ${name}`);
    const labels = decodeLabelPng(files[name], name);
    assert.deepEqual(decodePng(files[name], name).palette?.subarray(0, 3 * 8), DAVIS_PALETTE.subarray(0, 3 * 8), `${name}: not the DAVIS palette`);
    assert.equal(labels.width * labels.height, H * W8 * 8, `${name}: size ${labels.width}x${labels.height}`);
    const ref = unpackBits((packed.data as Uint8Array).subarray(f * H * W8, (f + 1) * H * W8), H, W8 * 8);
    return maskIou(labels.data.map((v) => (v === 1 ? 1 : 0)), ref);
  });
}

/** The converted checkpoint files (.safetensors + .json) of a golden mini model, written to `dir` by the CLI. */
function convert(model: MiniModel, dir: string): string[] {
  const out = path.join(dir, model);
  execFileSync(process.execPath, [
    path.join(ROOT, 'bin/sam2long.js'), 'convert', fixturePath(`${model}.pt`), out, '--config', fixturePath(`${model}.config.json`),
  ], { stdio: 'pipe' });
  const files = fs.readdirSync(out).filter((f) => /\.(safetensors|json)$/.test(f)).map((f) => path.join(out, f));
  assert.equal(files.length, 2, `convert wrote ${fs.readdirSync(out).join(', ')}`);
  return files;
}

describe('demo page in headless Chromium (e2e)', function () {
  this.timeout(600_000);
  const artifacts = process.env.E2E_ARTIFACTS_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-e2e-'));
  const checkpoints = new Map<MiniModel, string[]>();
  let work: string;
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let context: BrowserContext;
  let docsShot = process.env.E2E_DOCS_SCREENSHOT;

  before(async function () {
    const executable = findChromium();
    assert.ok(executable, 'no chromium found: install it (apt-get install -y chromium) or set CHROMIUM_PATH');
    assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'demo/dist is missing: run `npm run build:demo` first');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-e2e-work-'));
    for (const model of new Set(RUNS.map((r) => r.model))) checkpoints.set(model, convert(model, work));
    fs.mkdirSync(artifacts, { recursive: true });
    server = await serveStatic(DIST);
    browser = await launchChromium(executable);
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    console.log(`      screenshots: ${artifacts}`);
  });

  for (const run of RUNS) {
    const mode = run.pathways ? `SAM2Long P=${run.pathways}` : 'SAM 2 greedy';
    const shot = `demo-${run.backend}-${run.pathways ? `tree-P${run.pathways}` : 'greedy'}.png`;
    it(`${run.backend}: ${mode} tracks the golden click through ${run.video} as the official predictor does`, async () => {
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
      try {
        await page.goto(`${server.url}?backend=${run.backend}`);
        await settled(page, 'starting');
        assert.equal(await page.evaluate(() => document.body.dataset.backend), run.backend);

        await page.setInputFiles('#model-files', checkpoints.get(run.model) as string[]);
        await settled(page, 'loading the model');
        const dir = fixturePath(`${run.video}/frames`);
        const frameFiles = fs.readdirSync(dir).sort().slice(0, run.frames);
        await page.setInputFiles(run.input, run.input === '#frames-folder' ? dir : frameFiles.map((f) => path.join(dir, f)));
        await settled(page, 'reading the frames');
        assert.match(await page.textContent('#video-status') ?? '', new RegExp(`${frameFiles.length} frames, 256×256`));

        const prompt = goldenJson<GoldenPrompt>(`${run.video}/prompt_point.json`);
        const [[x, y]] = prompt.points;
        await clickVideoPixel(page, x, y);
        await settled(page, 'segmenting the click', 180_000);
        assert.match(await page.textContent('#prompt-list') ?? '', new RegExp(`frame ${prompt.frame}: \\+\\(${x}\\.0, ${y}\\.0\\)`));

        if (run.pathways) {
          await page.check('input[name="mode"][value="tree"]');
          await setRange(page, '#pathways', run.pathways);
        }
        await page.click('#propagate');
        await settled(page, 'propagating', 180_000);
        const stats = await page.evaluate(() => ({ ...document.getElementById('stats')?.dataset }));

        const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
        const ious = iousAgainstGolden(new Uint8Array(fs.readFileSync(await download.path())), run.golden, frameFiles.length);
        const min = Math.min(...ious);
        console.log(`      ${run.backend} ${mode}: ${stats.done}/${stats.total} frames, ${stats.msPerFrame} ms/frame; mask IoU vs official min ${min.toFixed(4)} mean ${(ious.reduce((a, b) => a + b, 0) / ious.length).toFixed(4)}`);
        ious.forEach((iou, f) => assert.ok(iou >= 0.99, `${run.backend} ${mode} frame ${f}: IoU ${iou.toFixed(4)} < 0.99`));
        assert.deepEqual(pageErrors, [], `errors on the page: ${pageErrors.join('\n')}`);

        // A frame where the object is present, for the picture.
        await setRange(page, '#frame', Math.min(10, frameFiles.length - 1));
        await page.screenshot({ path: path.join(artifacts, shot) });
        if (run.backend === 'wasm' && docsShot) {
          await page.screenshot({ path: path.resolve(ROOT, docsShot) });
          docsShot = undefined;
        }
      } catch (err) {
        await page.screenshot({ path: path.join(artifacts, shot.replace('.png', '-failure.png')) }).catch(() => undefined);
        if (pageErrors.length) console.log(`      page errors:\n${pageErrors.join('\n')}`);
        throw err;
      } finally {
        await page.close();
      }
    });
  }
});
