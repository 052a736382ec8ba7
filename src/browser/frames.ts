/**
 * Video frames in a page: image files (a frames folder picked with <input webkitdirectory>), decoded
 * bitmaps, canvases, ImageData, or a video file sampled through <video> + canvas. Each becomes a
 * FrameSource that VideoPredictor.initState takes; frames are turned into RGB pixels only when the
 * predictor asks for them, so a long video is not held as raw pixels.
 */
import { InputError } from '../errors.js';
import type { FrameSource, VideoFrame } from '../io/frame-source.js';
import { checkPixels } from '../io/pixel-limit.js';
import { readRgbImage, type PixelsLike, type RgbImage } from '../io/pixels.js';

/** Anything the page can draw: a File/Blob (decoded on demand), a decoded image, or raw pixels. */
export type FrameImage = Blob | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageData;

/** Frames a page holds as pixels or drawables, decoded one at a time. */
class PagedFrameSource implements FrameSource {
  private size: { width: number; height: number } | undefined;

  constructor(
    readonly count: number,
    private readonly read: (index: number) => Promise<PixelsLike>,
    private readonly names: (index: number) => string,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new InputError(`a video needs at least one frame, found ${count}`);
  }

  name(index: number): string {
    this.checkIndex(index);
    return this.names(index);
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new InputError(`frame index ${index} is out of range (${this.count} frames)`);
    }
  }

  async frame(index: number): Promise<VideoFrame> {
    this.checkIndex(index);
    const label = `frame ${index} (${this.names(index)})`;
    const image: RgbImage = await readRgbImage(await this.read(index), label);
    if (!this.size) this.size = { width: image.width, height: image.height };
    if (image.width !== this.size.width || image.height !== this.size.height) {
      throw new InputError(`${label} is ${image.width}x${image.height}, but the first frame is ${this.size.width}x${this.size.height}`);
    }
    return { index, name: this.names(index), image };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<VideoFrame> {
    for (let i = 0; i < this.count; i++) yield await this.frame(i);
  }
}

const padded = (i: number) => String(i).padStart(5, '0');

/** A FrameSource over `count` frames whose RGB(A) pixels `read(i)` gives (e.g. ImageData). */
export function pixelFrames(count: number, read: (index: number) => PixelsLike | Promise<PixelsLike>, name: (index: number) => string = padded): FrameSource {
  return new PagedFrameSource(count, async (i) => read(i), name);
}

/** The 8-bit RGBA pixels of a drawable, exactly as stored (no colour management, no premultiplied alpha). */
export async function imagePixels(image: FrameImage): Promise<ImageData> {
  if (image instanceof ImageData) return image;
  const bitmap = image instanceof Blob
    ? await createImageBitmap(image, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' })
    : image;
  const { width, height } = bitmap;
  // The browser has decoded it; the limit still keeps a huge image from a canvas and the model's input copies.
  try {
    checkPixels(width, height, image instanceof File ? `'${image.name}'` : 'image');
  } catch (err) {
    if (image instanceof Blob) (bitmap as ImageBitmap).close();
    throw err;
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new InputError('this browser has no 2D canvas to read frame pixels with');
  ctx.drawImage(bitmap, 0, 0);
  if (image instanceof Blob) (bitmap as ImageBitmap).close();
  return ctx.getImageData(0, 0, width, height);
}

function stem(file: Blob, index: number): string {
  return file instanceof File ? file.name.replace(/\.[^.]*$/, '') : padded(index);
}

/** A FrameSource over images (files named like 00000.jpg give their stems as frame names). */
export function imageFrames(images: readonly FrameImage[]): FrameSource {
  return new PagedFrameSource(images.length, (i) => imagePixels(images[i]), (i) => {
    const img = images[i];
    return img instanceof Blob ? stem(img, i) : padded(i);
  });
}

/** Frame image files (JPEG/PNG) sorted by their names' numbers, as a frames folder is read (00000.jpg, 00001.jpg, …). */
export function frameFilesInOrder(files: Iterable<File>): File[] {
  const frames = [...files].filter((f) => /\.(jpe?g|png)$/i.test(f.name));
  if (!frames.length) throw new InputError('no frame images (.jpg, .jpeg, .png) among the files');
  return frames.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

export interface VideoDecodeOptions {
  /** Frames sampled per second of video (a <video> element does not reveal the file's own rate). */
  fps: number;
  maxFrames?: number;
  /** Longest side of the decoded frames; larger videos are scaled down. */
  maxSide?: number;
  onProgress?: (decoded: number, total: number) => void;
}

function once(target: EventTarget, ok: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => { target.removeEventListener(ok, done); target.removeEventListener('error', fail); resolve(); };
    const fail = () => { target.removeEventListener(ok, done); target.removeEventListener('error', fail); reject(new InputError(`cannot decode the video (${what})`)); };
    target.addEventListener(ok, done);
    target.addEventListener('error', fail);
  });
}

/** A muted <video> element with `url` loaded and its duration known. */
export async function loadVideoElement(url: string): Promise<HTMLVideoElement> {
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'auto';
  video.crossOrigin = 'anonymous';
  try {
    const loaded = once(video, 'loadeddata', 'loading');
    video.src = url;
    await loaded;
    if (!Number.isFinite(video.duration)) {
      // Recorded WebM often has no duration in its header; seeking past the end makes the browser find it.
      await seekVideo(video, Number.MAX_SAFE_INTEGER, 'finding its duration');
    }
    return video;
  } catch (err) {
    unloadVideoElement(video);
    throw err;
  }
}

/** How long a seek waits for its frame to be presented after 'seeked' (a seek to the frame already shown presents none). */
const PRESENT_WAIT_MS = 300;

/**
 * Seeks to `time` (s) and waits until the frame there can be drawn. Chromium may fire 'seeked' before the new
 * frame is presented, so a bitmap taken at once can still hold the previous frame; where the browser has
 * requestVideoFrameCallback, the seek also waits for the presentation (bounded: none comes when the frame
 * shown does not change).
 */
export async function seekVideo(video: HTMLVideoElement, time: number, what: string): Promise<void> {
  const presented = 'requestVideoFrameCallback' in video
    ? new Promise<void>((resolve) => video.requestVideoFrameCallback(() => resolve()))
    : Promise.resolve();
  const seeked = once(video, 'seeked', what);
  video.currentTime = time;
  await seeked;
  await Promise.race([presented, new Promise<void>((resolve) => setTimeout(resolve, PRESENT_WAIT_MS))]);
}

export function unloadVideoElement(video: HTMLVideoElement): void {
  video.removeAttribute('src');
  video.load();
}

/** Samples a video file or URL at `fps` through a <video> element, one seek per frame. */
export async function decodeVideo(source: Blob | string, options: VideoDecodeOptions): Promise<ImageBitmap[]> {
  if (!(options.fps > 0)) throw new InputError(`fps must be positive, found ${options.fps}`);
  const url = typeof source === 'string' ? source : URL.createObjectURL(source);
  let video: HTMLVideoElement | undefined;
  try {
    video = await loadVideoElement(url);
    const scale = Math.min(1, (options.maxSide ?? Infinity) / Math.max(video.videoWidth, video.videoHeight));
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    const total = Math.min(Math.max(1, Math.floor(video.duration * options.fps)), options.maxFrames ?? Infinity);
    const frames: ImageBitmap[] = [];
    for (let i = 0; i < total; i++) {
      // The middle of the sampling interval: at the video's own rate that is frame i, never its neighbour.
      await seekVideo(video, Math.min((i + 0.5) / options.fps, video.duration), `seeking to frame ${i}`);
      frames.push(await createImageBitmap(video, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' }));
      options.onProgress?.(i + 1, total);
    }
    return frames;
  } finally {
    if (video) unloadVideoElement(video);
    if (typeof source !== 'string') URL.revokeObjectURL(url);
  }
}
