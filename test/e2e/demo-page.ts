/**
 * Driving the demo page in headless Chromium as a person would: the built page served with the isolation
 * headers, golden mini checkpoints converted by the CLI, and helpers for the page's controls and downloads.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import type { BrowserContext, Page } from 'playwright-core';
import { ISOLATION_HEADERS } from '../../demo/headers.js';
import { DAVIS_PALETTE, decodeLabelPng, decodePng } from '../../src/io/png.js';
import { unpackBits } from '../../src/predictor/transforms.js';
import { fixturePath, golden } from '../helpers/golden.js';
import { maskIou } from '../helpers/video.js';
import { findChromium, launchChromium, serveStatic } from './browser.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'demo/dist');

export type MiniModel = 'sam21_mini' | 'sam21_mini_b';

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

/** Chromium, the served page and converted checkpoints, started in a mocha `before` and stopped in `after`. */
export class DemoHarness {
  readonly artifacts = process.env.E2E_ARTIFACTS_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-e2e-'));
  private readonly checkpoints = new Map<MiniModel, string[]>();
  private work = '';
  private server: Awaited<ReturnType<typeof serveStatic>> | null = null;
  private browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  context!: BrowserContext;

  async start(models: MiniModel[]): Promise<void> {
    const executable = findChromium();
    assert.ok(executable, 'no chromium found: install it (apt-get install -y chromium) or set CHROMIUM_PATH');
    assert.ok(fs.existsSync(path.join(DIST, 'index.html')), 'demo/dist is missing: run `npm run build:demo` first');
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-e2e-work-'));
    for (const model of new Set(models)) this.checkpoints.set(model, convert(model, this.work));
    fs.mkdirSync(this.artifacts, { recursive: true });
    this.server = await serveStatic(DIST, ISOLATION_HEADERS);
    this.browser = await launchChromium(executable);
    this.context = this.browser.context;
  }

  async stop(): Promise<void> {
    await this.browser?.close();
    await this.server?.close();
    if (this.work) fs.rmSync(this.work, { recursive: true, force: true });
    console.log(`      screenshots: ${this.artifacts}`);
  }

  checkpoint(model: MiniModel): string[] {
    return this.checkpoints.get(model) as string[];
  }

  /** A new page of the demo on `backend`, collecting the page's errors; `run` gets it, a screenshot is kept on failure. */
  async withPage(name: string, backend: string, run: (page: Page, errors: string[]) => Promise<void>, viewport?: { width: number; height: number }): Promise<void> {
    const page = await this.context.newPage();
    if (viewport) await page.setViewportSize(viewport);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    try {
      await page.goto(`${(this.server as { url: string }).url}?backend=${backend}`);
      await settled(page, 'starting');
      await run(page, errors);
    } catch (err) {
      await page.screenshot({ path: path.join(this.artifacts, `${name}-failure.png`) }).catch(() => undefined);
      if (errors.length) console.log(`      page errors:\n${errors.join('\n')}`);
      throw err;
    } finally {
      await page.close();
    }
  }

  /** Loads a golden mini model and the first `count` frames of a golden video through the pickers. */
  async load(page: Page, model: MiniModel, videoName: string, count = Infinity, picker: '#frame-files' | '#frames-folder' = '#frame-files'): Promise<number> {
    await page.setInputFiles('#model-files', this.checkpoint(model));
    await settled(page, 'loading the model');
    const dir = fixturePath(`${videoName}/frames`);
    const frameFiles = fs.readdirSync(dir).sort().slice(0, count);
    await page.setInputFiles(picker, picker === '#frames-folder' ? dir : frameFiles.map((f) => path.join(dir, f)));
    await settled(page, 'reading the frames');
    return frameFiles.length;
  }
}

/** Waits until the page is done with its current action and fails with the page's own error, if any. */
export async function settled(page: Page, what: string, timeout = 120_000): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.state !== 'busy', undefined, { timeout });
  const state = await page.evaluate(() => document.body.dataset.state);
  const status = await page.textContent('#status');
  assert.notEqual(state, 'error', `${what}: ${status}`);
}

/** Clicks the frame view at video pixel (x, y); `button: 'right'` for a negative click. */
export async function clickVideoPixel(page: Page, x: number, y: number, button: 'left' | 'right' = 'left'): Promise<void> {
  const box = await page.locator('#view').boundingBox();
  const size = await page.evaluate(() => {
    const c = document.getElementById('view') as HTMLCanvasElement;
    return { width: c.width, height: c.height };
  });
  assert.ok(box, 'the frame view is not visible');
  await page.mouse.click(box.x + (x * box.width) / size.width, box.y + (y * box.height) / size.height, { button });
}

/** Sets a range input as a drag would (value, then an input event). */
export async function setRange(page: Page, selector: string, value: number): Promise<void> {
  await page.locator(selector).evaluate((el, v) => {
    (el as HTMLInputElement).value = String(v);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

/** Clicks Download; the zip's files and the download's file name. */
export async function download(page: Page): Promise<{ files: Record<string, Uint8Array>; name: string; readme: string }> {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const files = unzipSync(new Uint8Array(fs.readFileSync(await dl.path())));
  return { files, name: dl.suggestedFilename(), readme: new TextDecoder().decode(files['README.txt'] ?? new Uint8Array()) };
}

/** The PNG masks of a downloaded zip, by frame name. */
export function pngs(files: Record<string, Uint8Array>): Map<string, Uint8Array> {
  return new Map(Object.entries(files).filter(([n]) => n.endsWith('.png')).map(([n, b]) => [n.replace(/^masks\/|\.png$/g, ''), b]));
}

export interface GoldenPrompt { frame: number; points: [number, number][]; labels: number[] }

/** Per frame: the IoU of the downloaded label PNG (object 1) with the official video-resolution mask of run `rel`. */
export function iousAgainstGolden(masks: Map<string, Uint8Array>, rel: string, numFrames: number): number[] {
  const packed = golden(`${rel}.safetensors`).read('video_res_mask_packbits');
  const [, H, W8] = packed.shape.slice(-3);
  assert.equal(masks.size, numFrames, `the zip has ${masks.size} masks for ${numFrames} frames`);
  return Array.from({ length: numFrames }, (_, f) => {
    const name = String(f).padStart(5, '0');
    const png = masks.get(name);
    assert.ok(png, `the zip has no ${name}.png`);
    const labels = decodeLabelPng(png, name);
    assert.deepEqual(decodePng(png, name).palette?.subarray(0, 3 * 8), DAVIS_PALETTE.subarray(0, 3 * 8), `${name}: not the DAVIS palette`);
    assert.equal(labels.width * labels.height, H * W8 * 8, `${name}: size ${labels.width}x${labels.height}`);
    const ref = unpackBits((packed.data as Uint8Array).subarray(f * H * W8, (f + 1) * H * W8), H, W8 * 8);
    return maskIou(labels.data.map((v) => (v === 1 ? 1 : 0)), ref);
  });
}

/** The label values of a mask PNG. */
export function labelsOf(png: Uint8Array, name = 'mask'): ArrayLike<number> {
  return decodeLabelPng(png, name).data;
}

/** How the page's frames stand (the counts under the progress bar) and the progress bar's value. */
export async function frameCounts(page: Page): Promise<{ fresh: number; stale: number; total: number; progress: number }> {
  return page.evaluate(() => {
    const d = (document.getElementById('frames-summary') as HTMLElement).dataset;
    return { fresh: Number(d.fresh), stale: Number(d.stale), total: Number(d.total), progress: (document.getElementById('progress') as HTMLProgressElement).value };
  });
}

/**
 * The README's GIF of the workflow: screenshots taken along an e2e flow, joined by ffmpeg (palette GIF,
 * 720 px wide). Records only when $E2E_DOCS_GIF names the output (e.g. docs/demo.gif).
 */
export class WorkflowGif {
  private readonly dir = process.env.E2E_DOCS_GIF ? fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-gif-')) : null;
  private count = 0;

  /** One frame of the GIF, shown `repeat` times as long as a plain one. */
  async shot(page: Page, repeat = 1): Promise<void> {
    if (!this.dir) return;
    const png = await page.screenshot();
    for (let i = 0; i < repeat; i++) fs.writeFileSync(path.join(this.dir, `${String(this.count++).padStart(4, '0')}.png`), png);
  }

  /** Screenshots every `ms` until the page is done with its action. */
  async whileBusy(page: Page, ms = 400): Promise<void> {
    if (!this.dir) return;
    while (await page.evaluate(() => document.body.dataset.state === 'busy')) {
      await this.shot(page);
      await page.waitForTimeout(ms);
    }
  }

  write(): void {
    if (!this.dir || !this.count) return;
    const out = path.resolve(ROOT, process.env.E2E_DOCS_GIF as string);
    execFileSync('ffmpeg', [
      '-y', '-loglevel', 'error', '-framerate', '2.5', '-i', path.join(this.dir, '%04d.png'),
      '-vf', 'scale=720:-1:flags=lanczos,split[a][b];[a]palettegen=max_colors=64:stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4:diff_mode=rectangle',
      out,
    ]);
    fs.rmSync(this.dir, { recursive: true, force: true });
    console.log(`      workflow GIF: ${out} (${(fs.statSync(out).size / 1024).toFixed(0)} KiB)`);
  }
}
