/**
 * The browser entry on Chromium's WebGPU: a small page (webgpu-page/, built here with the demo's Node-only stubs)
 * runs the public VideoPredictor of `sam2long/browser` on headless Chromium's software WebGPU adapter
 * (SwiftShader, `--enable-unsafe-webgpu`) and the masks must match the official run: every final frame's mask
 * IoU ≥ 0.99, low-res logits and object scores within the golden tolerances, the SAM2Long results in their
 * order, and no tensor left behind. That adapter reads zeros through dataSync, so this also shows that nothing
 * on the predictors' path reads synchronously.
 * Run with `npm run test:e2e`; needs chromium (`apt-get install -y chromium`).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { nodeOnlyStubs } from '../../demo/node-only.js';
import type { FrameResult } from '../../src/browser.js';
import { golden, goldenJson } from '../helpers/golden.js';
import { compareRun } from '../helpers/video.js';
import { convertMiniTo } from '../helpers/weights.js';
import { findChromium, launchChromium, serveStatic } from './browser.js';
import type { TrackReport, TrackRequest, TrackedFrame } from './webgpu-page/main.js';

const PAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'webgpu-page');
/**
 * video2 holds its object from the first frames on (in video1 it is hidden from frame 1 to 7), so a prefix of
 * it checks real masks. SwiftShader runs the mini model at seconds a frame, most of it compiling shaders.
 */
const VIDEO = 'video2';
const MODEL = 'sam21_mini_b';
const FRAMES = Number(process.env.E2E_WEBGPU_FRAMES ?? 6);

const RUNS = [
  { pathways: 0, golden: `${VIDEO}/${MODEL}.sam2_greedy.point` },
  { pathways: 3, golden: `${VIDEO}/${MODEL}.sam2long_P3.point` },
];

/** The page, its model and the first FRAMES frames of the video as raw RGB, in `dir`. */
async function buildPage(dir: string): Promise<{ width: number; height: number }> {
  await build({
    configFile: false, root: PAGE, base: './', logLevel: 'warn', plugins: [nodeOnlyStubs()],
    build: { outDir: dir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192 },
  });
  const convertDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-e2e-webgpu-model-'));
  try {
    const weights = convertMiniTo(MODEL, convertDir);
    fs.copyFileSync(weights, path.join(dir, 'model.safetensors'));
    fs.copyFileSync(weights.replace(/\.safetensors$/, '.json'), path.join(dir, 'model.json'));
  } finally {
    fs.rmSync(convertDir, { recursive: true, force: true });
  }
  const frames = golden(`${VIDEO}/frames.safetensors`).read('frames_rgb_u8');
  const [, height, width] = frames.shape;
  fs.writeFileSync(path.join(dir, 'frames.rgb'), (frames.data as Uint8Array).subarray(0, FRAMES * height * width * 3));
  return { width, height };
}

function asFrameResults(frames: TrackedFrame[]): FrameResult[] {
  return frames.map((r) => ({
    ...r, lowResLogits: r.lowResLogits.map((l) => Float32Array.from(l)), masks: r.masks.map((m) => Uint8Array.from(m)),
  })) as unknown as FrameResult[];
}

/**
 * SAM2Long on a prefix of the video: its decisions and online results up to frame t depend on frames ≤ t only,
 * so they must be the full official run's; so must every final result given before the last frame (frames
 * that every path shared). The final results of the last frames come from hindsight over the prefix instead.
 */
function checkTree(rel: string, P: number, report: TrackReport): void {
  const g = golden(`${rel}.safetensors`);
  const parents = g.read('selected_parent_path').data as Int32Array;
  const js = g.read('selected_mask_index').data as Int32Array;
  assert.deepEqual(report.decisions.map((d) => d.frame), Array.from({ length: FRAMES - 2 }, (_, i) => i + 2), 'one tree step per frame from s+2 on');
  for (const d of report.decisions) {
    const expected = Array.from({ length: P }, (_, k) => [parents[d.frame * P + k], js[d.frame * P + k]]);
    assert.deepEqual(d.kept, expected, `frame ${d.frame}: kept (parent, mask) pairs`);
  }
  const slots = g.read('slot_low_res_logits');
  const best = g.read('best_path_slot_per_frame').data as Int32Array;
  const area = slots.shape[2] * slots.shape[3];
  const lastOnline = report.results.findIndex((r) => !r.final && r.frame === FRAMES - 1);
  const online = report.results.filter((r) => !r.final);
  assert.ok(online.length > 0 && lastOnline >= 0, 'SAM2Long gives provisional results as it goes');
  let maxDiff = 0;
  for (const r of online) {
    const ref = (slots.data as Float32Array).subarray((r.frame * P + best[r.frame]) * area, (r.frame * P + best[r.frame] + 1) * area);
    r.lowResLogits[0].forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - ref[i])); });
  }
  console.log(`      ${online.length} provisional results: max|Δ| low-res logits against the best path's ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff <= 5e-3, `provisional low-res logits differ by ${maxDiff}`);
  const settled = report.results.slice(0, lastOnline).filter((r) => r.final);
  assert.ok(settled.length >= 2, `only ${settled.length} frames settled while tracking`);
  compareRun(`${rel}.safetensors`, asFrameResults(settled), { logitTol: 5e-3, scoreTol: 5e-2, frames: settled.length });
}

describe('the browser entry on Chromium\'s WebGPU (e2e)', function () {
  this.timeout(900_000);
  let dir: string;
  let size: { width: number; height: number };
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;

  before(async function () {
    const executable = findChromium();
    assert.ok(executable, 'no chromium found: install it (apt-get install -y chromium) or set CHROMIUM_PATH');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-e2e-webgpu-'));
    size = await buildPage(dir);
    server = await serveStatic(dir);
    browser = await launchChromium(executable, { webgpu: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function track(page: Page, pathways: number): Promise<TrackReport> {
    const prompt = goldenJson<TrackRequest['prompt']>(`${VIDEO}/prompt_point.json`);
    const req: TrackRequest = { backend: 'webgpu', pathways, frames: FRAMES, ...size, prompt };
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    return page.evaluate((r) => (window as unknown as { track(r: TrackRequest): Promise<TrackReport> }).track(r), req);
  }

  for (const run of RUNS) {
    const mode = run.pathways ? `SAM2Long P=${run.pathways}` : 'SAM 2 greedy';
    it(`${mode} through VideoPredictor matches the official run on ${FRAMES} frames of ${VIDEO}`, async () => {
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        const report = await track(page, run.pathways);
        console.log(`      ${report.backend} on ${report.adapter}: dataSync of a sum of 2048 read ${report.syncSum}`);
        assert.equal(report.backend, 'webgpu');
        assert.deepEqual(errors, []);
        const finals = report.results.filter((r) => r.final);
        assert.deepEqual(finals.map((r) => r.frame), Array.from({ length: FRAMES }, (_, i) => i), 'final results, in order');
        if (run.pathways) checkTree(run.golden, run.pathways, report);
        else {
          assert.equal(report.results.length, FRAMES, 'greedy results are all final');
          compareRun(`${run.golden}.safetensors`, asFrameResults(finals), { logitTol: 5e-3, scoreTol: 5e-2, frames: FRAMES });
        }
        assert.equal(report.tensorsAfter, report.tensorsBefore, 'tensors left after state.dispose() and model.dispose()');
      } finally {
        await page.close();
      }
    });
  }
});
