/**
 * Adapts a frame source (directory, array, async stream: see io/frame-source.ts, and node/frames.ts for paths) to what the predictor needs: the
 * video size and the model input of frame i, decoded and preprocessed only when it is asked for.
 * A stream is read forward only; the last frame read is kept so a prompt frame can be revisited.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors.js';
import type { FrameSource, VideoFrame } from '../io/frame-source.js';
import { preprocessVideoFrame } from './transforms.js';
import type { FrameProvider } from './video-state.js';

export class SourceFrames implements FrameProvider {
  private iterator: AsyncIterator<VideoFrame> | null = null;
  private last: VideoFrame | null = null;
  private ended = false;

  private constructor(
    private readonly source: FrameSource,
    private readonly imageSize: number,
    readonly width: number,
    readonly height: number,
    first: VideoFrame,
    private readonly stream: boolean,
  ) {
    this.last = first;
  }

  /** Reads the first frame (for the video size) and returns the provider. */
  static async open(source: FrameSource, imageSize: number): Promise<SourceFrames> {
    const stream = source.count === undefined;
    let first: VideoFrame;
    let iterator: AsyncIterator<VideoFrame> | null = null;
    if (stream) {
      iterator = source[Symbol.asyncIterator]();
      const r = await iterator.next();
      if (r.done) throw new InputError('the video has no frames');
      first = r.value;
    } else {
      if (!source.count) throw new InputError('the video has no frames');
      first = await source.frame(0);
    }
    const p = new SourceFrames(source, imageSize, first.image.width, first.image.height, first, stream);
    p.iterator = iterator;
    return p;
  }

  /** Frame count; Infinity for a stream not yet read to its end. */
  get numFrames(): number {
    return this.source.count ?? Infinity;
  }

  name(i: number): string {
    return this.source.name(i);
  }

  async has(i: number): Promise<boolean> {
    if (!this.stream) return i >= 0 && i < this.numFrames;
    while (!this.ended && (this.last?.index ?? -1) < i) await this.advance();
    return (this.last?.index ?? -1) >= i;
  }

  private async advance(): Promise<void> {
    const r = await (this.iterator as AsyncIterator<VideoFrame>).next();
    if (r.done) this.ended = true;
    else this.last = r.value;
  }

  private async frame(i: number): Promise<VideoFrame> {
    if (!this.stream) return this.source.frame(i);
    if (this.last && this.last.index === i) return this.last;
    if (this.last && this.last.index > i) {
      throw new InputError(`frame ${i} of a streamed video was already passed (at frame ${this.last.index}); streams are read forward only`);
    }
    if (!(await this.has(i))) throw new InputError(`frame ${i} is past the end of the stream (${this.numFrames} frames)`);
    return this.last as VideoFrame;
  }

  /** Stops a stream's producer (e.g. an ffmpeg pipe) when the state is disposed before its end. */
  close(): void {
    void this.iterator?.return?.();
  }

  // → [1, S, S, 3]
  async input(i: number): Promise<tf.Tensor4D> {
    return preprocessVideoFrame((await this.frame(i)).image, this.imageSize);
  }
}
