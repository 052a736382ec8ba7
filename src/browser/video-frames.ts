/**
 * A video decoded on demand: random access to any frame for display, a FrameSource the predictor reads
 * frame by frame, and a few decoded frames held at a time, so a long video never sits in memory decoded.
 * The two decoders (video-webcodecs.ts, video-element.ts) fill the cache; this file serializes their
 * work, keeps the cache small and hands out frames.
 */
import { InputError } from '../errors.js';
import type { FrameSource } from '../io/frame-source.js';
import { imagePixels, pixelFrames } from './frames.js';

export interface VideoFrames {
  readonly count: number;
  /** Size of the frames handed out (the video's own size scaled down to the longest side asked for). */
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /** How frames are decoded: WebCodecs from the file's own samples, or by seeking a <video> element. */
  readonly decoding: 'webcodecs' | 'video-element';
  /** Frames the file holds beyond the frame limit (not offered). */
  readonly framesCut: number;
  /** Frames decoded so far (a frame decoded twice counts twice): what reading costs. */
  readonly framesDecoded: number;
  /** Frame `index` for display; the cache owns it (draw it, do not close it). It stays valid until the next call. */
  bitmap(index: number): Promise<ImageBitmap>;
  /** What VideoPredictor.initState takes: each frame's pixels, decoded when asked for. */
  source(): FrameSource;
  close(): void;
}

export interface VideoLimits {
  /** Longest side of the frames handed out; larger videos are scaled down. */
  maxSide?: number;
  /** Frames beyond this are not offered. */
  maxFrames?: number;
  /** Decoded frames held at once (display and model together). */
  cacheFrames?: number;
}

export const DEFAULT_CACHE_FRAMES = 16;

/** The size frames are handed out at: the video's size scaled to fit `maxSide`. */
export function outputSize(width: number, height: number, maxSide = Infinity): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

export abstract class CachedFrames implements VideoFrames {
  abstract readonly decoding: VideoFrames['decoding'];
  private readonly cache = new Map<number, ImageBitmap>();
  private readonly waiters = new Map<number, (() => void)[]>();
  private queue: Promise<unknown> = Promise.resolve();
  /** The frame last handed to the display: never closed while it may still be drawn. */
  private shown: ImageBitmap | null = null;
  protected closed = false;
  framesDecoded = 0;

  protected constructor(
    readonly count: number,
    readonly width: number,
    readonly height: number,
    readonly fps: number,
    readonly framesCut: number,
    protected readonly cacheFrames: number,
    protected readonly label: string,
  ) {}

  /** Decodes until frame `index` is in the cache (the decoder calls `store` with every frame it produces). */
  protected abstract decode(index: number): Promise<void>;

  protected abstract release(): void;

  protected has(index: number): boolean {
    return this.cache.has(index);
  }

  /** Keeps a decoded frame (the most recent `cacheFrames`), waking whoever waits for it. */
  protected store(index: number, bitmap: ImageBitmap): void {
    this.framesDecoded++;
    if (this.closed || index < 0 || index >= this.count) {
      bitmap.close();
      return;
    }
    this.drop(index);
    this.cache.set(index, bitmap);
    while (this.cache.size > this.cacheFrames) {
      const [oldest] = this.cache.keys();
      this.drop(oldest);
    }
    for (const wake of this.waiters.get(index) ?? []) wake();
    this.waiters.delete(index);
  }

  private drop(index: number): void {
    const b = this.cache.get(index);
    this.cache.delete(index);
    if (b && b !== this.shown) b.close();
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new InputError(`frame index ${index} is out of range (${this.count} frames)`);
    }
  }

  /** The cached frame, decoding it first if needed; one decode at a time. */
  private cached(index: number): Promise<ImageBitmap> {
    this.checkIndex(index);
    if (this.closed) return Promise.reject(new InputError(`${this.label} is closed`));
    const hit = this.cache.get(index);
    if (hit) {
      this.cache.delete(index);
      this.cache.set(index, hit);
      return Promise.resolve(hit);
    }
    const run = this.queue.then(async () => {
      if (!this.cache.has(index)) await this.decode(index);
      const b = this.cache.get(index);
      if (!b) throw new InputError(`${this.label}: frame ${index} could not be decoded`);
      return b;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async bitmap(index: number): Promise<ImageBitmap> {
    const b = await this.cached(index);
    const previous = this.shown;
    this.shown = b;
    // The previous display frame, once evicted, is closed when the display moves on.
    if (previous && previous !== b && ![...this.cache.values()].includes(previous)) previous.close();
    return b;
  }

  /** Resolves when frame `index` reaches the cache (a decoder waiting on its output). */
  protected arrival(index: number): Promise<void> {
    if (this.cache.has(index)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(index, [...(this.waiters.get(index) ?? []), resolve]));
  }

  source(): FrameSource {
    // The pixels are read in the same turn the frame is handed out, before any decoder output can evict it.
    return pixelFrames(this.count, (i) => this.cached(i).then((b) => imagePixels(b)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
    for (const b of this.cache.values()) b.close();
    this.shown?.close();
    this.cache.clear();
    this.shown = null;
  }
}
