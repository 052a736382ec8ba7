/**
 * The first video track of a WebM/Matroska file, from a small EBML reader: codec, CodecPrivate and where
 * each frame's block lies. Reads elements in one linear pass, descending into the few masters that matter,
 * so the unknown-size Segment and Clusters of recorded (MediaRecorder) files read like any others.
 */
import { InputError } from '../errors.js';
import { displayOrderOf, type CodedSample, type VideoTrackIndex } from './video-track.js';

const ID = {
  segment: 0x18538067, info: 0x1549a966, timecodeScale: 0x2ad7b1, tracks: 0x1654ae6b, trackEntry: 0xae,
  trackNumber: 0xd7, trackType: 0x83, codecId: 0x86, codecPrivate: 0x63a2, video: 0xe0, pixelWidth: 0xb0,
  pixelHeight: 0xba, cluster: 0x1f43b675, timecode: 0xe7, simpleBlock: 0xa3, blockGroup: 0xa0, block: 0xa1,
  referenceBlock: 0xfb, ebml: 0x1a45dfa3,
} as const;
/** Masters read element by element; every other element is skipped by its size. */
const DESCEND = new Set<number>([ID.segment, ID.info, ID.tracks, ID.trackEntry, ID.video, ID.cluster, ID.blockGroup]);
const VIDEO_TRACK = 1;

interface TrackEntry { number?: number; type?: number; codecId?: string; codecPrivate?: Uint8Array; width?: number; height?: number }

/** A variable-length integer at `pos`: its value (marker bit kept for IDs, removed for sizes) and length. */
function vint(bytes: Uint8Array, pos: number, keepMarker: boolean, label: string): { value: number; length: number; unknown: boolean } {
  const first = bytes[pos];
  if (first === undefined) throw new InputError(`${label}: the file is cut short at byte ${pos}`);
  if (first === 0) throw new InputError(`${label}: malformed WebM at byte ${pos}`);
  const length = Math.clz32(first) - 23;
  if (pos + length > bytes.length) throw new InputError(`${label}: the file is cut short at byte ${pos}`);
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === (0xff >> length);
  for (let i = 1; i < length; i++) {
    value = value * 256 + bytes[pos + i];
    allOnes &&= bytes[pos + i] === 0xff;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

function uint(bytes: Uint8Array): number {
  return bytes.reduce((v, b) => v * 256 + b, 0);
}

/** VP9's profile from the first frame's header byte (frame_marker, then profile bits low, high). */
function vp9Codec(firstFrame: Uint8Array | undefined): string {
  const b = firstFrame?.[0] ?? 0;
  const profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
  return `vp09.0${profile}.10.${profile >= 2 ? '10' : '08'}`;
}

/** AV1's codec string from its av1C record (seq_profile, seq_level_idx_0, tier, bit depth). */
function av1Codec(av1C: Uint8Array | undefined, label: string): string {
  if (!av1C || av1C.length < 4) throw new InputError(`${label}: AV1 track without its av1C CodecPrivate`);
  const profile = av1C[1] >> 5;
  const level = av1C[1] & 0x1f;
  const tier = av1C[2] >> 7 ? 'H' : 'M';
  const depth = (av1C[2] >> 6) & 1 ? ((av1C[2] >> 5) & 1 ? 12 : 10) : 8;
  return `av01.${profile}.${String(level).padStart(2, '0')}${tier}.${String(depth).padStart(2, '0')}`;
}

function codecOf(entry: TrackEntry, firstFrame: Uint8Array | undefined, label: string): string {
  switch (entry.codecId) {
    case 'V_VP8': return 'vp8';
    case 'V_VP9': return vp9Codec(firstFrame);
    case 'V_AV1': return av1Codec(entry.codecPrivate, label);
    case 'V_MPEG4/ISO/AVC': {
      const p = entry.codecPrivate;
      if (!p || p.length < 4) throw new InputError(`${label}: H.264 track without its avcC CodecPrivate`);
      return `avc1.${[...p.subarray(1, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
    }
    default: throw new InputError(`${label}: video codec ${entry.codecId ?? '(none)'} is not supported (VP8, VP9, AV1, H.264 are)`);
  }
}

export function webmTrack(bytes: Uint8Array, label: string): VideoTrackIndex {
  const entries: TrackEntry[] = [];
  const blocks: { track: number; offset: number; size: number; time: number; key: boolean }[] = [];
  let timecodeScale = 1_000_000;
  let clusterTime = 0;
  /** The BlockGroup being read: its end and its block (keyframe unless a ReferenceBlock follows). */
  let group: { end: number; block?: (typeof blocks)[number]; referenced?: boolean } | null = null;
  let pos = 0;
  while (pos < bytes.length) {
    if (group && pos >= group.end) group = null;
    const id = vint(bytes, pos, true, label);
    const size = vint(bytes, pos + id.length, false, label);
    const start = pos + id.length + size.length;
    if (DESCEND.has(id.value)) {
      if (id.value === ID.trackEntry) entries.push({});
      if (id.value === ID.blockGroup && !size.unknown) group = { end: start + size.value };
      pos = start;
      continue;
    }
    if (size.unknown) throw new InputError(`${label}: element 0x${id.value.toString(16)} has an unknown size`);
    const end = start + size.value;
    if (end > bytes.length) {
      // A file cut short loses its last frames at most; a cut inside the headers leaves nothing to decode.
      if (id.value === ID.simpleBlock || id.value === ID.blockGroup || id.value === ID.block || id.value === ID.cluster) break;
      throw new InputError(`${label}: the file is cut short (an element at byte ${pos} reaches past its ${bytes.length} bytes)`);
    }
    const body = bytes.subarray(start, end);
    const entry = entries[entries.length - 1];
    switch (id.value) {
      case ID.timecodeScale: timecodeScale = uint(body); break;
      case ID.trackNumber: if (entry) entry.number = uint(body); break;
      case ID.trackType: if (entry) entry.type = uint(body); break;
      case ID.codecId: if (entry) entry.codecId = new TextDecoder().decode(body).replace(/\0+$/, ''); break;
      case ID.codecPrivate: if (entry) entry.codecPrivate = body.slice(); break;
      case ID.pixelWidth: if (entry) entry.width = uint(body); break;
      case ID.pixelHeight: if (entry) entry.height = uint(body); break;
      case ID.timecode: clusterTime = uint(body); break;
      case ID.simpleBlock:
      case ID.block: {
        const track = vint(body, 0, false, label);
        const relative = (body[track.length] << 24 >> 16) | body[track.length + 1];
        const flags = body[track.length + 2];
        if (flags & 0x06) throw new InputError(`${label}: laced video blocks are not supported`);
        const header = track.length + 3;
        const block = { track: track.value, offset: start + header, size: body.length - header, time: clusterTime + relative, key: id.value === ID.simpleBlock ? (flags & 0x80) !== 0 : !group?.referenced };
        blocks.push(block);
        if (id.value === ID.block && group) group.block = block;
        break;
      }
      case ID.referenceBlock:
        if (group) group.referenced = true;
        if (group?.block) group.block.key = false;
        break;
      default: break;
    }
    pos = end;
  }
  const video = entries.find((e) => e.type === VIDEO_TRACK);
  if (!video || video.number === undefined) throw new InputError(`${label}: the WebM file has no video track`);
  const mine = blocks.filter((b) => b.track === video.number);
  const toUs = (t: number) => Math.round((t * timecodeScale) / 1000);
  const samples: CodedSample[] = mine.map((b, i) => ({
    offset: b.offset, size: b.size, timestamp: toUs(b.time),
    duration: i + 1 < mine.length ? toUs(mine[i + 1].time - b.time) : 0, key: b.key,
  }));
  const firstFrame = mine.length ? bytes.subarray(mine[0].offset, mine[0].offset + mine[0].size) : undefined;
  const codec = codecOf(video, firstFrame, label);
  return {
    container: 'webm',
    codec,
    description: codec.startsWith('avc1') ? video.codecPrivate : undefined,
    width: video.width ?? 0,
    height: video.height ?? 0,
    samples,
    displayOrder: displayOrderOf(samples),
  };
}
