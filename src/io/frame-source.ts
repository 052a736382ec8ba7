/**
 * What a video's frames are, browser-safe: the inputs a predictor takes and the source it reads them from.
 * The sources over paths and encoded bytes are Node-only (src/node/frames.ts); a page builds its own
 * (src/browser/frames.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { PixelsLike, RgbImage } from './pixels.js';

/** A frame file path, its encoded bytes, RGB(A) pixels, or an [H, W, 3] integer tensor. */
export type FrameInput = string | Uint8Array | PixelsLike | tf.Tensor;

export interface VideoFrame {
  readonly index: number;
  /** For output files: the file name without extension ("00000"), else the zero-padded index. */
  readonly name: string;
  readonly image: RgbImage;
}

export interface FrameSource extends AsyncIterable<VideoFrame> {
  /** Number of frames, when known: always for a directory or an array, for a stream once it has ended. */
  readonly count: number | undefined;
  /** Decodes frame `index` now (directory and array sources; a stream can only be iterated once). */
  frame(index: number): Promise<VideoFrame>;
  /** The output name of frame `index`, without decoding it (for a stream: once the frame has been read). */
  name(index: number): string;
}
