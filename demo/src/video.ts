/** The page's video: what any video input gives the page (VideoInput), and the one over files or decoded bitmaps. */
import { imageFrames, type FrameImage, type FrameSource } from '../../src/browser.js';

/**
 * A video as the page uses it: the worker pulls the model's frames from `source()` (called once per video),
 * the view draws `bitmap(i)`. Any input (files, a <video> element, a streaming decoder) implements this.
 */
export interface VideoInput {
  readonly numFrames: number;
  readonly width: number;
  readonly height: number;
  /** Playback rate in frames per second. */
  readonly fps: number;
  /** Names the video in the page and in the download's file name. */
  readonly label: string;
  source(): FrameSource;
  bitmap(index: number): Promise<ImageBitmap>;
  close(): void;
}

/** Decoded bitmaps kept for display; a long frames folder is decoded again when scrolled back to. */
const DISPLAY_CACHE = 48;

/** A video held as frame files or decoded bitmaps (decoded again for display when scrolled back to). */
export class LoadedVideo implements VideoInput {
  private readonly cache = new Map<number, Promise<ImageBitmap>>();

  constructor(
    readonly frames: readonly FrameImage[],
    readonly width: number,
    readonly height: number,
    /** Playback rate in frames per second. */
    readonly fps: number,
    readonly label: string,
  ) {}

  /** Reads the size of the first frame. */
  static async open(frames: readonly FrameImage[], fps: number, label: string): Promise<LoadedVideo> {
    const first = frames[0] instanceof Blob ? await createImageBitmap(frames[0]) : frames[0];
    const video = new LoadedVideo(frames, first.width, first.height, fps, label);
    if (first instanceof ImageBitmap && first !== frames[0]) first.close();
    return video;
  }

  get numFrames(): number {
    return this.frames.length;
  }

  /** What the predictor reads (pixels decoded on demand, exactly as stored). */
  source(): FrameSource {
    return imageFrames(this.frames);
  }

  /** A drawable of frame `i` for the viewer. */
  bitmap(i: number): Promise<ImageBitmap> {
    const f = this.frames[i];
    if (f instanceof ImageBitmap) return Promise.resolve(f);
    let b = this.cache.get(i);
    if (!b) {
      b = createImageBitmap(f as Exclude<FrameImage, ImageBitmap>);
      this.cache.set(i, b);
      if (this.cache.size > DISPLAY_CACHE) this.evict(i);
    } else {
      this.cache.delete(i);
      this.cache.set(i, b);
    }
    return b;
  }

  private evict(keep: number): void {
    const [oldest] = this.cache.keys();
    if (oldest === keep) return;
    void this.cache.get(oldest)?.then((b) => b.close());
    this.cache.delete(oldest);
  }

  close(): void {
    this.cache.forEach((b) => void b.then((x) => x.close()));
    this.cache.clear();
    for (const f of this.frames) if (f instanceof ImageBitmap) f.close();
  }
}
