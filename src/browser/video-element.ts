/**
 * The fallback decoder: a <video> element seeked to each frame, for browsers without WebCodecs or without the
 * file's codec in it. Frame times come from the container's sample table when it could be read (then every
 * frame is hit exactly), else from the frame rate the caller gives.
 */
import { InputError } from '../errors.js';
import { loadVideoElement, seekVideo, unloadVideoElement } from './frames.js';
import { CachedFrames, DEFAULT_CACHE_FRAMES, outputSize, type VideoLimits } from './video-frames.js';

export class ElementFrames extends CachedFrames {
  readonly decoding = 'video-element' as const;

  private constructor(
    private readonly video: HTMLVideoElement,
    private readonly url: string,
    /** Seek target (s) of each frame: the middle of its display interval, so rounding never lands on a neighbour. */
    private readonly times: number[],
    size: { width: number; height: number },
    fps: number,
    framesCut: number,
    limits: VideoLimits,
    label: string,
  ) {
    super(times.length, size.width, size.height, fps, framesCut, limits.cacheFrames ?? DEFAULT_CACHE_FRAMES, label);
  }

  /**
   * `frameTimes`: each frame's presentation time in seconds from the first, when known; otherwise frames are
   * sampled at `fps` over the video's duration.
   */
  static async open(file: Blob, options: { frameTimes?: number[]; fps: number; limits: VideoLimits; label: string }): Promise<ElementFrames> {
    const { fps, limits, label } = options;
    if (!(fps > 0)) throw new InputError(`fps must be positive, found ${fps}`);
    const url = URL.createObjectURL(file);
    let video: HTMLVideoElement | undefined;
    try {
      const v = (video = await loadVideoElement(url));
      const known = options.frameTimes;
      const starts = known ?? Array.from({ length: Math.max(1, Math.floor(v.duration * fps)) }, (_, i) => i / fps);
      const times = starts.map((t, i) => Math.min((t + (starts[i + 1] ?? t + 1 / fps)) / 2, v.duration));
      const count = Math.min(times.length, limits.maxFrames ?? Infinity);
      const size = outputSize(v.videoWidth, v.videoHeight, limits.maxSide);
      return new ElementFrames(v, url, times.slice(0, count), size, fps, times.length - count, limits, label);
    } catch (err) {
      if (video) unloadVideoElement(video);
      URL.revokeObjectURL(url);
      throw err;
    }
  }

  protected async decode(index: number): Promise<void> {
    await seekVideo(this.video, this.times[index], `seeking to frame ${index}`);
    this.store(index, await createImageBitmap(this.video, { resizeWidth: this.width, resizeHeight: this.height, resizeQuality: 'high' }));
  }

  protected release(): void {
    unloadVideoElement(this.video);
    URL.revokeObjectURL(this.url);
  }
}
