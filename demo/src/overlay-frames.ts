/**
 * The frames of the overlay video: each video frame with its masks drawn as the viewer draws them (maskImage:
 * fill and outline in the object's colour, stale masks grey and hatched, provisional ones dashed).
 */
import type { RgbImage } from '../../src/browser.js';
import type { TrackingSession } from './session.js';
import type { VideoInput } from './video.js';
import { maskImage, type MaskStyle } from './viewer.js';

function rgba(image: RgbImage): ImageData {
  const out = new ImageData(image.width, image.height);
  for (let p = 0, q = 0; p < image.width * image.height; p++, q += 3) {
    out.data[p * 4] = image.data[q];
    out.data[p * 4 + 1] = image.data[q + 1];
    out.data[p * 4 + 2] = image.data[q + 2];
    out.data[p * 4 + 3] = 255;
  }
  return out;
}

function styleOf(session: TrackingSession, frame: number): MaskStyle {
  const s = session.status.get(frame);
  return s === 'stale' ? 'stale' : s === 'provisional' ? 'provisional' : 'fresh';
}

/** Draws frame i of `video` with its masks, scaled to fill the target canvas. */
export function overlayDrawer(video: VideoInput, session: TrackingSession): (i: number, ctx: OffscreenCanvasRenderingContext2D) => Promise<void> {
  const frame = new OffscreenCanvas(video.width, video.height);
  const fctx = frame.getContext('2d') as OffscreenCanvasRenderingContext2D;
  const masks = new OffscreenCanvas(video.width, video.height);
  const mctx = masks.getContext('2d') as OffscreenCanvasRenderingContext2D;
  // The pixels the model reads (not the display bitmap, which the viewer owns).
  const source = video.source();
  return async (i, ctx) => {
    fctx.putImageData(rgba((await source.frame(i)).image), 0, 0);
    const labels = session.labelsOn(i);
    if (labels) {
      mctx.putImageData(maskImage(labels, video.width, video.height, styleOf(session, i)), 0, 0);
      fctx.drawImage(masks, 0, 0);
    }
    ctx.drawImage(frame, 0, 0, ctx.canvas.width, ctx.canvas.height);
  };
}
