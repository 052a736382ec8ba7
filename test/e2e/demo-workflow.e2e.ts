/**
 * The demo page as a tool, in headless Chromium on wasm: a correction after tracking updates its frame at once,
 * marks the frames after it stale (kept out of the download) and Propagate re-tracks from it; a backend switch
 * keeps the prompts; Stop leaves a partial export that says so, and the page stays responsive while the
 * worker tracks (a timer on the page keeps ticking).
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { goldenJson } from '../helpers/golden.js';
import {
  DemoHarness, WorkflowGif, clickVideoPixel, download, frameCounts, iousAgainstGolden, labelsOf, pngs, setRange, settled, type GoldenPrompt,
} from './demo-page.js';

const GOLDEN_RUN = 'video1/sam21_mini.sam2_greedy.point';

async function promptAndTrack(page: Page, gif?: WorkflowGif): Promise<void> {
  const prompt = goldenJson<GoldenPrompt>('video1/prompt_point.json');
  const [[x, y]] = prompt.points;
  await gif?.shot(page, 3);
  await clickVideoPixel(page, x, y);
  await settled(page, 'segmenting the click');
  await gif?.shot(page, 4);
  await page.click('#propagate');
  await gif?.whileBusy(page);
  await settled(page, 'propagating', 300_000);
  await gif?.shot(page, 3);
}

describe('demo page in headless Chromium (e2e): corrections, backend switch, stop', function () {
  this.timeout(600_000);
  const harness = new DemoHarness();
  before(() => harness.start(['sam21_mini']));
  after(() => harness.stop());

  it('a correction updates its frame at once, stales the frames after it, and Propagate re-tracks from it', () => harness.withPage('correction', 'wasm', async (page, errors) => {
    const n = await harness.load(page, 'sam21_mini', 'video1');
    const gif = new WorkflowGif();
    await promptAndTrack(page, gif);
    const first = pngs((await download(page)).files);
    assert.equal(first.size, n);
    assert.equal(await page.getAttribute('#frame-badge', 'data-frame'), '0', 'after tracking the view returns to the prompted frame');

    // A negative click on a pixel of the object on frame k.
    const k = 8;
    const before = labelsOf(first.get(String(k).padStart(5, '0')) as Uint8Array);
    const inside = Array.from(before).findIndex((v) => v === 1);
    assert.ok(inside >= 0, `the object is not on frame ${k}`);
    for (let f = 1; f <= k; f++) {
      await setRange(page, '#frame', f);
      if (f % 2 === 0) await gif.shot(page);
    }
    assert.match(await page.textContent('#frame-badge') ?? '', new RegExp(`^frame ${k + 1} / ${n}`));
    await page.check('input[name="tool"][value="negative"]');
    await gif.shot(page, 2);
    await clickVideoPixel(page, inside % 256, Math.floor(inside / 256));
    await settled(page, 'segmenting the correction');
    await gif.shot(page, 4);
    await page.check('input[name="tool"][value="positive"]');
    assert.match(await page.textContent('#prompt-list') ?? '', new RegExp(`frame ${k}: −\\(`));

    let counts = await frameCounts(page);
    assert.deepEqual([counts.fresh, counts.stale], [k + 1, n - k - 1], 'frames after the correction are stale');
    assert.ok(counts.progress < 1, `the progress bar reads ${counts.progress} over stale frames`);
    assert.match(await page.textContent('#status') ?? '', new RegExp(`${n - k - 1} frames are stale: press Propagate to re-track from frame ${k + 2}`));
    await setRange(page, '#frame', k + 3);
    assert.match(await page.textContent('#frame-badge') ?? '', /stale/);
    await gif.shot(page, 4);
    await setRange(page, '#frame', k);

    const partial = await download(page);
    const partialMasks = pngs(partial.files);
    assert.equal(partialMasks.size, k + 1, 'no stale frame in the download');
    assert.match(partial.name, new RegExp(`partial-${k + 1}of${n}`));
    assert.match(partial.readme, /: PARTIAL\n/);
    assert.match(partial.readme, new RegExp(`stale: +${k + 2}-${n} `));
    const corrected = labelsOf(partialMasks.get(String(k).padStart(5, '0')) as Uint8Array);
    assert.notDeepEqual(Array.from(corrected), Array.from(before), 'the corrected frame was not updated');
    for (let f = 0; f < k; f++) {
      const name = String(f).padStart(5, '0');
      assert.deepEqual(partialMasks.get(name), first.get(name), `frame ${f} (before the correction) changed`);
    }

    await page.click('#propagate');
    await gif.whileBusy(page);
    await settled(page, 're-tracking', 300_000);
    await gif.shot(page, 5);
    gif.write();
    const stats = await page.evaluate(() => ({ ...document.getElementById('stats')?.dataset }));
    assert.equal(Number(stats.total), n - k - 1, `re-tracked ${stats.total} frames, not the ${n - k - 1} after the correction`);
    counts = await frameCounts(page);
    assert.deepEqual([counts.fresh, counts.stale, counts.progress], [n, 0, 1]);
    const final = await download(page);
    assert.match(final.readme, /: COMPLETE\n/);
    const finalMasks = pngs(final.files);
    assert.equal(finalMasks.size, n);
    assert.deepEqual(finalMasks.get(String(k).padStart(5, '0')), partialMasks.get(String(k).padStart(5, '0')), 're-tracking overwrote the correction');
    const changed = Array.from({ length: n - k - 1 }, (_, i) => String(k + 1 + i).padStart(5, '0')).filter((name) => !first.get(name)?.every((b, i) => b === finalMasks.get(name)?.[i]));
    console.log(`      correction on frame ${k + 1}: ${changed.length} of ${n - k - 1} later frames changed on re-tracking`);
    assert.ok(changed.length > 0, 'no frame after the correction changed');
    await page.screenshot({ path: path.join(harness.artifacts, 'demo-correction.png') });
    assert.deepEqual(errors, []);
  }));

  it('a backend switch keeps the prompts; tracking again matches the official run', () => harness.withPage('backend-switch', 'wasm', async (page, errors) => {
    const n = await harness.load(page, 'sam21_mini', 'video1');
    await promptAndTrack(page);
    const promptsBefore = await page.textContent('#prompt-list');
    await page.selectOption('#backend', 'cpu');
    await settled(page, 'switching to cpu');
    assert.equal(await page.evaluate(() => document.body.dataset.backend), 'cpu');
    assert.match(await page.textContent('#backend-name') ?? '', /CPU/);
    assert.equal(await page.textContent('#prompt-list'), promptsBefore, 'the prompts were lost');
    assert.equal(await page.textContent('#stats'), '', 'the stats of the old backend are still shown');
    const counts = await frameCounts(page);
    assert.deepEqual([counts.fresh, counts.stale], [1, n - 1], 'the prompted frame is segmented again, the rest waits for Propagate');
    assert.equal(await page.isDisabled('#propagate'), false);

    await page.selectOption('#backend', 'wasm');
    await settled(page, 'switching back to wasm');
    await page.click('#propagate');
    await settled(page, 'propagating', 300_000);
    const ious = iousAgainstGolden(pngs((await download(page)).files), GOLDEN_RUN, n);
    ious.forEach((iou, f) => assert.ok(iou >= 0.99, `frame ${f}: IoU ${iou.toFixed(4)} < 0.99 after the backend switch`));
    assert.deepEqual(errors, []);
  }));

  it('Stop ends tracking within a frame and leaves a partial export that says so; the page keeps responding', () => harness.withPage('stop', 'wasm', async (page, errors) => {
    const n = await harness.load(page, 'sam21_mini', 'video1');
    const prompt = goldenJson<GoldenPrompt>('video1/prompt_point.json');
    await clickVideoPixel(page, prompt.points[0][0], prompt.points[0][1]);
    await settled(page, 'segmenting the click');
    // A timer on the page: the longest gap between its ticks is how long the page froze.
    await page.evaluate(() => {
      const w = window as unknown as { maxGap: number; ticks: number; lastTick: number; since: number };
      Object.assign(w, { maxGap: 0, ticks: 0, lastTick: performance.now(), since: performance.now() });
      setInterval(() => {
        const now = performance.now();
        w.maxGap = Math.max(w.maxGap, now - w.lastTick);
        w.lastTick = now;
        w.ticks++;
      }, 10);
    });
    await page.click('#propagate');
    await page.waitForFunction(() => (document.getElementById('progress') as HTMLProgressElement).value >= 0.25, undefined, { timeout: 120_000 });
    const stopAt = Date.now();
    await page.click('#stop');
    await settled(page, 'stopping');
    const stopMs = Date.now() - stopAt;
    const { maxGap, ticks, ms } = await page.evaluate(() => {
      const w = window as unknown as { maxGap: number; ticks: number; since: number };
      return { maxGap: w.maxGap, ticks: w.ticks, ms: performance.now() - w.since };
    });
    const stats = await page.evaluate(() => ({ ...document.getElementById('stats')?.dataset }));
    console.log(`      stopped after ${stats.done}/${stats.total} frames, ${stopMs} ms after Stop (${stats.msPerFrame} ms/frame); page timer: ${ticks} ticks in ${ms.toFixed(0)} ms, longest gap ${maxGap.toFixed(0)} ms`);
    assert.ok(Number(stats.done) < n, 'the run was not stopped');
    assert.ok(stopMs < 2 * Number(stats.msPerFrame) + 1000, `Stop took ${stopMs} ms at ${stats.msPerFrame} ms/frame`);
    // Tracking on the page's own thread would stall the timer for whole frames: one tick per frame instead of one
    // per 10 ms (a busy machine delays some ticks, never most of them), gaps as long as a frame.
    const tickShare = ticks / (ms / 10);
    assert.ok(tickShare >= 0.3, `the page timer ticked ${ticks} times in ${ms.toFixed(0)} ms`);
    assert.ok(maxGap < Math.max(250, 0.9 * Number(stats.msPerFrame)), `the page froze for ${maxGap.toFixed(0)} ms while tracking at ${stats.msPerFrame} ms/frame`);

    const counts = await frameCounts(page);
    assert.ok(counts.progress < 1);
    assert.match(await page.textContent('#export-note') ?? '', /^Partial/);
    const { files, name, readme } = await download(page);
    assert.equal(pngs(files).size, counts.fresh);
    assert.match(name, new RegExp(`partial-${counts.fresh}of${n}\\.zip$`));
    assert.match(readme, /: PARTIAL\n/);
    assert.match(readme, new RegExp(`${counts.fresh} of ${n} frames exported`));
    assert.deepEqual(errors, []);
  }));

  it('objects: a second object gets its tracklet, is renamed in the export, and deleting it re-tracks without it', () => harness.withPage('objects', 'wasm', async (page, errors) => {
    const n = await harness.load(page, 'sam21_mini', 'video1');
    const prompt = goldenJson<GoldenPrompt>('video1/prompt_point.json');
    await clickVideoPixel(page, prompt.points[0][0], prompt.points[0][1]);
    await settled(page, 'segmenting object 1');
    await page.click('#new-object');
    assert.equal(await page.locator('#objects li').count(), 2);
    assert.equal(await page.getAttribute('#objects li.active', 'data-obj-id'), '2', 'the new object is the one clicks go to');
    await clickVideoPixel(page, 200, 40);
    await settled(page, 'segmenting object 2');
    await page.fill('#objects li[data-obj-id="2"] .object-name', 'ball');
    await page.press('#objects li[data-obj-id="2"] .object-name', 'Enter');
    assert.match(await page.textContent('#prompt-list') ?? '', /ball · frame 0: \+\(200\.0, 40\.0\)/);
    await page.click('#propagate');
    await settled(page, 'propagating two objects', 300_000);
    const both = await download(page);
    assert.match(both.readme, /^ {2}2: ball$/m);
    const ids = new Set([...pngs(both.files).values()].flatMap((png) => [...new Set(Array.from(labelsOf(png)))]));
    assert.ok(ids.has(2), 'object 2 has no mask on any frame');

    await page.click('#objects li[data-obj-id="2"] .delete-object');
    await settled(page, 'deleting object 2');
    assert.equal(await page.locator('#objects li').count(), 1);
    assert.doesNotMatch(await page.textContent('#prompt-list') ?? '', /ball/);
    const counts = await frameCounts(page);
    assert.deepEqual([counts.fresh, counts.stale], [1, n - 1], 'after a deletion the tracked frames wait for Propagate');
    await page.click('#propagate');
    await settled(page, 'propagating without object 2', 300_000);
    const ious = iousAgainstGolden(pngs((await download(page)).files), GOLDEN_RUN, n);
    ious.forEach((iou, f) => assert.ok(iou >= 0.99, `frame ${f}: IoU ${iou.toFixed(4)} < 0.99 after deleting object 2`));
    assert.deepEqual(errors, []);
  }));
});
