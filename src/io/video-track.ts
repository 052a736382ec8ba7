/**
 * What a compressed video file holds for a frame-accurate decoder: one video track's codec (as a
 * WebCodecs codec string), its decoder configuration, and where each coded frame lies in the file.
 * Built from the file's bytes by the MP4 (mp4-demux.ts) and WebM/Matroska (webm-demux.ts) readers;
 * the frames themselves stay in the file and are read one at a time.
 */

/** One coded frame: its bytes in the file, its presentation time (µs) and whether decoding may start at it. */
export interface CodedSample {
  offset: number;
  size: number;
  timestamp: number;
  duration: number;
  key: boolean;
}

export interface VideoTrackIndex {
  container: 'mp4' | 'webm';
  /** WebCodecs codec string ('avc1.4d401e', 'vp8', 'vp09.00.10.08', 'av01.0.04M.08', …). */
  codec: string;
  /** The decoder configuration record (avcC, hvcC, or Matroska's CodecPrivate), when the codec needs one. */
  description?: Uint8Array;
  /** Frame size the container states (the decoder's frames are authoritative). */
  width: number;
  height: number;
  /** Coded frames in decode order (the order a decoder must receive them). */
  samples: CodedSample[];
  /** For each frame in display order, its index in `samples`. */
  displayOrder: number[];
}

/** Frames per second from the frames' timestamps (the median spacing, robust to a short first or last frame). */
export function frameRate(track: VideoTrackIndex): number {
  const times = track.displayOrder.map((s) => track.samples[s].timestamp);
  const gaps = times.slice(1).map((t, i) => t - times[i]).filter((d) => d > 0).sort((a, b) => a - b);
  if (!gaps.length) return 1;
  return 1e6 / gaps[Math.floor(gaps.length / 2)];
}

/** Display order of samples: by presentation time, ties kept in decode order. */
export function displayOrderOf(samples: readonly CodedSample[]): number[] {
  return samples.map((_, i) => i).sort((a, b) => samples[a].timestamp - samples[b].timestamp || a - b);
}
