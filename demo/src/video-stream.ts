/**
 * A video file as the page's video: frames decoded on demand (WebCodecs, or the <video> fallback) by the
 * library's openVideoFile, a few held at a time, so a long video streams to the model instead of sitting in
 * memory decoded. Says how it decodes and what the page's limits cut.
 */
import { openVideoFile, type FrameSource, type VideoFrames } from '../../src/browser.js';
import type { VideoInput } from './video.js';

export interface VideoFileLimits {
  maxSide: number;
  maxFrames: number;
  /** Frame rate for the <video> fallback when the file's frame times cannot be read. */
  fps: number;
}

export class StreamedVideo implements VideoInput {
  private constructor(private readonly frames: VideoFrames, readonly label: string, private readonly fallback: string | undefined) {}

  static async open(file: File, limits: VideoFileLimits): Promise<StreamedVideo> {
    let fallback: string | undefined;
    const frames = await openVideoFile(file, { ...limits, onFallback: (why) => { fallback = why; } });
    return new StreamedVideo(frames, file.name, fallback);
  }

  get numFrames(): number { return this.frames.count; }
  get width(): number { return this.frames.width; }
  get height(): number { return this.frames.height; }
  get fps(): number { return this.frames.fps; }
  get decoding(): VideoFrames['decoding'] { return this.frames.decoding; }

  /** How the frames are decoded, and what the limits left out, in the page's words. */
  describe(limits: VideoFileLimits): string {
    const how = this.frames.decoding === 'webcodecs'
      ? 'decoded frame-accurately (WebCodecs)'
      : `decoded by seeking a <video> element (${this.fallback || 'no WebCodecs'})`;
    const cut = this.frames.framesCut ? ` · only the first ${limits.maxFrames} of ${this.frames.count + this.frames.framesCut} frames (the page's limit)` : '';
    return `${this.frames.fps.toFixed(2).replace(/\.?0+$/, '')} fps, ${how}${cut}`;
  }

  source(): FrameSource { return this.frames.source(); }
  bitmap(i: number): Promise<ImageBitmap> { return this.frames.bitmap(i); }
  close(): void { this.frames.close(); }
}
