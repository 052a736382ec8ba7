/**
 * Opening a video file for the model and the display: WebCodecs from the file's own coded frames where the
 * browser can (MP4/MOV and WebM/MKV whose codec VideoDecoder takes), else a <video> element seeked frame by
 * frame. Either way frames are decoded on demand and only a few are held.
 */
import { InputError } from '../errors.js';
import { checkPixels } from '../io/pixel-limit.js';
import { demuxVideoFile } from '../io/video-container.js';
import { frameRate, type VideoTrackIndex } from '../io/video-track.js';
import { ElementFrames } from './video-element.js';
import type { VideoFrames, VideoLimits } from './video-frames.js';
import { WebCodecsFrames, supportedConfig } from './video-webcodecs.js';

export interface OpenVideoOptions extends VideoLimits {
  /** Frames per second for the <video> fallback when the container's frame times cannot be read. */
  fps?: number;
  /** 'video-element' skips WebCodecs (e.g. to compare); default: WebCodecs when possible. */
  decoding?: 'auto' | 'video-element';
  /** Why the fallback was taken, for the page to say. */
  onFallback?: (reason: string) => void;
}

/** Reads the container's sample table: null (with the reason) when the file is not one this reader knows. */
async function readTrack(file: Blob, label: string): Promise<{ track: VideoTrackIndex | null; reason?: string }> {
  try {
    return { track: await demuxVideoFile(file, label) };
  } catch (err) {
    if (err instanceof InputError) return { track: null, reason: err.message };
    throw err;
  }
}

export async function openVideoFile(file: Blob, options: OpenVideoOptions = {}): Promise<VideoFrames> {
  const label = file instanceof File ? `'${file.name}'` : 'video';
  const { track, reason } = await readTrack(file, label);
  if (track?.width && track.height) checkPixels(track.width, track.height, label);
  let why = reason ?? '';
  if (track && options.decoding !== 'video-element') {
    const config = await supportedConfig(track);
    if (config) return WebCodecsFrames.open(file, track, config, options, label);
    why = typeof VideoDecoder === 'undefined' ? 'this browser has no WebCodecs VideoDecoder' : `this browser's WebCodecs cannot decode ${track.codec}`;
  } else if (track) {
    why = 'asked for the <video> element';
  }
  options.onFallback?.(why);
  const times = track?.displayOrder.map((s) => (track.samples[s].timestamp - track.samples[track.displayOrder[0]].timestamp) / 1e6);
  return ElementFrames.open(file, { frameTimes: times, fps: track ? frameRate(track) : options.fps ?? 10, limits: options, label });
}
