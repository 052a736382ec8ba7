/** Reads a video file's container (MP4/MOV or WebM/MKV, told apart by their first bytes) into a VideoTrackIndex. */
import { InputError } from '../errors.js';
import { mp4Headers } from './mp4-headers.js';
import { mp4Track } from './mp4-demux.js';
import type { VideoTrackIndex } from './video-track.js';
import { webmTrack, webmTrackOfBlob } from './webm-demux.js';

/** Which container the bytes start like, if any. */
export function sniffContainer(head: Uint8Array): 'mp4' | 'webm' | null {
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'webm';
  const tag = String.fromCharCode(...head.subarray(4, 8));
  return ['ftyp', 'moov', 'mdat', 'free', 'wide', 'skip'].includes(tag) ? 'mp4' : null;
}

/**
 * The first video track of an MP4/MOV or WebM/MKV file held in memory. An MP4's `bytes` may be its boxes
 * without the media data (mdat), as long as `fileSize` is the whole file's: sample offsets are the file's own.
 */
export function demuxVideo(bytes: Uint8Array, label = 'video', fileSize = bytes.length): VideoTrackIndex {
  const kind = sniffContainer(bytes.subarray(0, 12));
  if (!kind) throw new InputError(`${label}: not an MP4 or WebM file (unknown container)`);
  const track = kind === 'mp4' ? mp4Track(bytes, label, fileSize) : webmTrack(bytes, label);
  if (!track.samples.length) throw new InputError(`${label}: the video track has no frames`);
  return track;
}

/**
 * The first video track of a video file (a File in a page), reading only its structure: an MP4's boxes without
 * the media data (a fragmented one whole), a WebM a window at a time with its frames skipped.
 */
export async function demuxVideoFile(file: Blob, label = 'video'): Promise<VideoTrackIndex> {
  const kind = sniffContainer(new Uint8Array(await file.slice(0, 12).arrayBuffer()));
  if (kind !== 'webm') {
    const headers = kind === 'mp4' ? await mp4Headers(file) : null;
    return demuxVideo(headers ?? new Uint8Array(await file.arrayBuffer()), label, file.size);
  }
  const track = await webmTrackOfBlob(file, label);
  if (!track.samples.length) throw new InputError(`${label}: the video track has no frames`);
  return track;
}
