/**
 * A page for the media tests (test/e2e/media.e2e.ts): exposes the page's media modules on `window.harness`
 * for the test to drive through page.evaluate. Built with vite by test/e2e/bundle.ts.
 */
import { initBrowserBackend, loadSam2FromBytes, openVideoFile, type CheckpointBytes, type VideoFrames } from '../../../src/browser.js';
import { isCached } from '../../../demo/src/model-cache.js';
import { exportOverlayVideo } from '../../../demo/src/overlay-export.js';
import { pageMessage } from '../../../demo/src/messages.js';
import { checkpointFromFiles, checkpointFromUrl } from '../../../demo/src/model-pick.js';

/** The colour at the centre of a frame's pixels. */
function centre(data: Uint8ClampedArray | Uint8Array, width: number, height: number, channels: number): number[] {
  const p = (Math.floor(height / 2) * width + Math.floor(width / 2)) * channels;
  return [data[p], data[p + 1], data[p + 2]];
}

function bitmapCentre(b: ImageBitmap): number[] {
  const c = new OffscreenCanvas(b.width, b.height);
  const ctx = c.getContext('2d') as OffscreenCanvasRenderingContext2D;
  ctx.drawImage(b, 0, 0);
  return centre(ctx.getImageData(0, 0, b.width, b.height).data, b.width, b.height, 4);
}

async function openUrl(url: string, decoding: 'auto' | 'video-element', options: { maxSide?: number; maxFrames?: number; cacheFrames?: number } = {}): Promise<{ video: VideoFrames; fallback?: string }> {
  const blob = await (await fetch(url)).blob();
  let fallback: string | undefined;
  const video = await openVideoFile(new File([blob], url.split('/').pop() as string), { ...options, decoding, onFallback: (r) => { fallback = r; } });
  return { video, fallback };
}

/** What loading a model gave: the model's size, or the message the page shows (its status line's words). */
async function modelOutcome(get: () => Promise<CheckpointBytes>): Promise<{ params?: number; imageSize?: number; error?: string }> {
  try {
    await initBrowserBackend({ backend: 'cpu' });
    const model = loadSam2FromBytes(await get());
    const out = { params: model.numParameters, imageSize: model.config.image_size };
    model.dispose();
    return out;
  } catch (err) {
    return { error: pageMessage('Loading the model', err) };
  }
}

const harness = {
  /** Exports `colours.length` frames, frame k filled with colours[k] under a half-transparent mask on its left half. */
  async exportColours(colours: number[][], width: number, height: number, fps: number, encoding: 'auto' | 'media-recorder') {
    const progress: number[] = [];
    const video = await exportOverlayVideo({
      count: colours.length, width, height, fps, encoding,
      draw: async (i, ctx) => {
        ctx.fillStyle = `rgb(${colours[i].join(',')})`;
        ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
        ctx.fillStyle = 'rgba(255, 255, 255, 0.5)';
        ctx.fillRect(0, 0, ctx.canvas.width >> 2, ctx.canvas.height);
      },
      onProgress: (done) => progress.push(done),
    });
    return { bytes: Array.from(new Uint8Array(await video.blob.arrayBuffer())), frames: video.frames, codec: video.codec, encoding: video.encoding, progress };
  },


  /** A checkpoint by URL: progress reports (bytes), whether it came from the cache, the model or the error. */
  async loadModelUrl(url: string) {
    const progress: { loaded: number; total?: number; fromCache: boolean }[] = [];
    let fromCache: boolean | undefined;
    const outcome = await modelOutcome(async () => {
      const c = await checkpointFromUrl(url, (p) => progress.push({ ...p }));
      fromCache = c.fromCache;
      return c;
    });
    return { ...outcome, fromCache, progress, cachedNow: await isCached(url) };
  },

  /** A checkpoint from picked files (fetched here from the test server, as a file input would hand them over). */
  async loadModelFiles(urls: string[]) {
    const files = await Promise.all(urls.map(async (u) => new File([await (await fetch(u)).blob()], u.split('/').pop() as string)));
    return modelOutcome(() => checkpointFromFiles(files));
  },


  /** Every frame through the predictor's FrameSource (in order), then `randomOrder` through bitmap(): centre colours. */
  async readVideo(url: string, decoding: 'auto' | 'video-element', randomOrder: number[], options: { maxSide?: number; maxFrames?: number; cacheFrames?: number; hideWebCodecs?: boolean } = {}) {
    if (options.hideWebCodecs) Reflect.deleteProperty(globalThis, 'VideoDecoder');
    const { video, fallback } = await openUrl(url, decoding, options);
    try {
      const source = video.source();
      const inOrder: number[][] = [];
      for await (const f of source) inOrder.push(centre(f.image.data, f.image.width, f.image.height, 3));
      const decodedInOrder = video.framesDecoded;
      const random: number[][] = [];
      for (const i of randomOrder) random.push(bitmapCentre(await video.bitmap(i)));
      let outOfRange = '';
      await video.bitmap(video.count).catch((e: Error) => { outOfRange = e.message; });
      return { decoding: video.decoding, fallback, count: video.count, width: video.width, height: video.height, fps: video.fps, framesCut: video.framesCut, decodedInOrder, inOrder, random, outOfRange };
    } finally {
      video.close();
    }
  },
};

Object.assign(globalThis, { harness });
export type Harness = typeof harness;
