/**
 * The demo page in real headless Chromium, driven as a person would: load a golden mini checkpoint
 * (converted by the CLI) and golden frames through the file pickers, click the golden point on frame 0,
 * pick SAM 2 greedy or the SAM2Long tree, propagate, download the masks zip and compare every frame with
 * the official run (IoU ≥ 0.99), on WebGL (software GL) and on wasm (threaded: the page is served
 * cross-origin isolated).
 * Screenshots go to $E2E_ARTIFACTS_DIR (default: a temp folder).
 * Run with `npm run test:e2e` (builds the demo first); needs chromium (`apt-get install -y chromium`).
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { goldenJson } from '../helpers/golden.js';
import { DemoHarness, clickVideoPixel, download, iousAgainstGolden, pngs, setRange, settled, type GoldenPrompt, type MiniModel } from './demo-page.js';

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

describe('demo page in headless Chromium (e2e): golden masks', function () {
  this.timeout(600_000);
  const harness = new DemoHarness();
  before(() => harness.start([...new Set(RUNS.map((r) => r.model))]));
  after(() => harness.stop());

  for (const run of RUNS) {
    const mode = run.pathways ? `SAM2Long P=${run.pathways}` : 'SAM 2 greedy';
    const shot = `demo-${run.backend}-${run.pathways ? `tree-P${run.pathways}` : 'greedy'}`;
    it(`${run.backend}: ${mode} tracks the golden click through ${run.video} as the official predictor does`, () => harness.withPage(shot, run.backend, async (page, pageErrors) => {
      assert.equal(await page.evaluate(() => document.body.dataset.backend), run.backend);
      if (run.backend === 'wasm') {
        assert.match(await page.textContent('#backend-name') ?? '', /^wasm, \d+ threads? \(cross-origin isolated\)$/);
      }
      const numFrames = await harness.load(page, run.model, run.video, run.frames, run.input);
      assert.match(await page.textContent('#video-status') ?? '', new RegExp(`${numFrames} frames, 256×256`));
      assert.equal(await page.isDisabled('#propagate'), true, 'Propagate is enabled with no prompt');
      assert.equal(await page.isDisabled('#download'), true, 'Download is enabled before any tracking');

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
      await settled(page, 'propagating', 300_000);
      const stats = await page.evaluate(() => ({ ...document.getElementById('stats')?.dataset }));

      const { files, name, readme } = await download(page);
      assert.match(readme, /: COMPLETE\n/, `README.txt of a full run: ${readme}`);
      assert.doesNotMatch(name, /partial/);
      const ious = iousAgainstGolden(pngs(files), run.golden, numFrames);
      const min = Math.min(...ious);
      console.log(`      ${run.backend} ${mode}: ${stats.done}/${stats.total} frames, ${stats.msPerFrame} ms/frame; mask IoU vs official min ${min.toFixed(4)} mean ${(ious.reduce((a, b) => a + b, 0) / ious.length).toFixed(4)}`);
      ious.forEach((iou, f) => assert.ok(iou >= 0.99, `${run.backend} ${mode} frame ${f}: IoU ${iou.toFixed(4)} < 0.99`));
      assert.deepEqual(pageErrors, [], `errors on the page: ${pageErrors.join('\n')}`);

      if (run.pathways) {
        // SAM2Long's paths, recorded on frames 2-6 (the page's default range), side by side.
        await page.click('#show-paths');
        assert.match(await page.textContent('#paths-caption') ?? '', new RegExp(`^SAM2Long's ${run.pathways} paths on frame 2 \\(recorded on frames 2–6\\)`));
        const width = await page.evaluate(() => (document.getElementById('paths-canvas') as HTMLCanvasElement).width);
        assert.equal(width, run.pathways * 256 + (run.pathways - 1) * 4);
        await setRange(page, '#frame', 4);
        assert.match(await page.textContent('#paths-caption') ?? '', /paths on frame 5 /);
        await page.screenshot({ path: path.join(harness.artifacts, `${shot}-paths.png`) });
        await page.click('#show-paths');
      }

      // A frame where the object is present, for the picture.
      await setRange(page, '#frame', Math.min(10, numFrames - 1));
      await page.screenshot({ path: path.join(harness.artifacts, `${shot}.png`) });
    }));
  }
});
