/**
 * The first video track of a WebM/Matroska file, from a small EBML reader: codec, CodecPrivate and where
 * each frame's block lies. Reads elements in one linear pass, descending into the few masters that matter,
 * so the unknown-size Segment and Clusters of recorded (MediaRecorder) files read like any others; a file
 * is read a window at a time, its frames skipped.
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
/** Leaves whose values are read. */
const PARSED = new Set<number>([
  ID.timecodeScale, ID.trackNumber, ID.trackType, ID.codecId, ID.codecPrivate, ID.pixelWidth, ID.pixelHeight, ID.timecode, ID.referenceBlock,
]);
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
function vp9Codec(firstByte: number | undefined): string {
  const b = firstByte ?? 0;
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

function codecOf(entry: TrackEntry, firstByte: number | undefined, label: string): string {
  switch (entry.codecId) {
    case 'V_VP8': return 'vp8';
    case 'V_VP9': return vp9Codec(firstByte);
    case 'V_AV1': return av1Codec(entry.codecPrivate, label);
    case 'V_MPEG4/ISO/AVC': {
      const p = entry.codecPrivate;
      if (!p || p.length < 4) throw new InputError(`${label}: H.264 track without its avcC CodecPrivate`);
      return `avc1.${[...p.subarray(1, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
    }
    default: throw new InputError(`${label}: video codec ${entry.codecId ?? '(none)'} is not supported (VP8, VP9, AV1, H.264 are)`);
  }
}

/** Longest element header: a 4-byte ID and an 8-byte size. */
const HEADER_MAX = 12;
/** Bytes of a block read for its header: track number (≤ 8), timecode (2), flags (1), the frame's first byte. */
const BLOCK_HEAD = 12;
/** Bytes read at a time from a file. */
const WINDOW = 4 << 20;

interface Block { track: number; offset: number; size: number; time: number; key: boolean }

/**
 * Reads a WebM file window by window: each `feed` parses the elements that lie in the bytes given (the file
 * from `base` on) and says how much the next window must hold; media data is skipped, never needed in a window.
 */
class WebmScanner {
  private readonly entries: TrackEntry[] = [];
  private readonly blocks: Block[] = [];
  /** Each track's first frame's first byte (VP9's profile is there). */
  private readonly firstByte = new Map<number, number>();
  private timecodeScale = 1_000_000;
  private clusterTime = 0;
  /** The BlockGroup being read: its end and its block (keyframe unless a ReferenceBlock is in the group). */
  private group: { end: number; block?: Block; referenced?: boolean } | null = null;
  /** The next element's position in the file. */
  pos = 0;

  constructor(private readonly label: string, private readonly fileSize: number) {}

  /** Parses from `pos` through `window` (the file's bytes from `base`); 0 when the file is done, else the bytes the next window (from `pos`) needs. */
  feed(window: Uint8Array, base: number): number {
    const { label } = this;
    const final = base + window.length >= this.fileSize;
    const windowEnd = base + window.length;
    while (this.pos < this.fileSize) {
      const pos = this.pos;
      if (windowEnd - pos < HEADER_MAX && !final) return HEADER_MAX;
      if (this.group && pos >= this.group.end) this.group = null;
      const id = vint(window, pos - base, true, label);
      const size = vint(window, pos - base + id.length, false, label);
      const start = pos + id.length + size.length;
      if (DESCEND.has(id.value)) {
        if (id.value === ID.trackEntry) this.entries.push({});
        if (id.value === ID.blockGroup && !size.unknown) this.group = { end: start + size.value };
        this.pos = start;
        continue;
      }
      if (size.unknown) throw new InputError(`${label}: element 0x${id.value.toString(16)} has an unknown size`);
      const end = start + size.value;
      const isBlock = id.value === ID.simpleBlock || id.value === ID.block;
      if (end > this.fileSize) {
        // A file cut short loses its last frames at most; a cut inside the headers leaves nothing to decode.
        if (isBlock || id.value === ID.blockGroup || id.value === ID.cluster) return 0;
        throw new InputError(`${label}: the file is cut short (an element at byte ${pos} reaches past its ${this.fileSize} bytes)`);
      }
      if (isBlock) {
        const head = Math.min(size.value, BLOCK_HEAD);
        if (start + head > windowEnd) return start + head - pos;
        this.block(id.value, window.subarray(start - base, start - base + head), start, size.value);
      } else if (PARSED.has(id.value)) {
        if (end > windowEnd) return end - pos;
        this.leaf(id.value, window.subarray(start - base, end - base));
      }
      this.pos = end;
      if (this.pos > windowEnd && !final) return HEADER_MAX;
    }
    return 0;
  }

  private leaf(id: number, body: Uint8Array): void {
    const entry = this.entries[this.entries.length - 1];
    switch (id) {
      case ID.timecodeScale: this.timecodeScale = uint(body); break;
      case ID.trackNumber: if (entry) entry.number = uint(body); break;
      case ID.trackType: if (entry) entry.type = uint(body); break;
      case ID.codecId: if (entry) entry.codecId = new TextDecoder().decode(body).replace(/\0+$/, ''); break;
      case ID.codecPrivate: if (entry) entry.codecPrivate = body.slice(); break;
      case ID.pixelWidth: if (entry) entry.width = uint(body); break;
      case ID.pixelHeight: if (entry) entry.height = uint(body); break;
      case ID.timecode: this.clusterTime = uint(body); break;
      case ID.referenceBlock:
        if (this.group) this.group.referenced = true;
        if (this.group?.block) this.group.block.key = false;
        break;
      default: break;
    }
  }

  /** A SimpleBlock or a BlockGroup's Block: `head` is its first bytes, `start` where it begins in the file. */
  private block(id: number, head: Uint8Array, start: number, size: number): void {
    const track = vint(head, 0, false, this.label);
    const relative = (head[track.length] << 24 >> 16) | head[track.length + 1];
    const flags = head[track.length + 2];
    if (flags & 0x06) throw new InputError(`${this.label}: laced video blocks are not supported`);
    const header = track.length + 3;
    const key = id === ID.simpleBlock ? (flags & 0x80) !== 0 : !this.group?.referenced;
    const block = { track: track.value, offset: start + header, size: size - header, time: this.clusterTime + relative, key };
    this.blocks.push(block);
    if (!this.firstByte.has(block.track) && head.length > header) this.firstByte.set(block.track, head[header]);
    if (id === ID.block && this.group) this.group.block = block;
  }

  /** The video track's index, once the whole file has been fed. */
  track(): VideoTrackIndex {
    const video = this.entries.find((e) => e.type === VIDEO_TRACK);
    if (!video || video.number === undefined) throw new InputError(`${this.label}: the WebM file has no video track`);
    const mine = this.blocks.filter((b) => b.track === video.number);
    const toUs = (t: number) => Math.round((t * this.timecodeScale) / 1000);
    const samples: CodedSample[] = mine.map((b, i) => ({
      offset: b.offset, size: b.size, timestamp: toUs(b.time),
      duration: i + 1 < mine.length ? toUs(mine[i + 1].time - b.time) : 0, key: b.key,
    }));
    const codec = codecOf(video, this.firstByte.get(video.number), this.label);
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
}

/** The video track of a WebM file held in memory. */
export function webmTrack(bytes: Uint8Array, label: string): VideoTrackIndex {
  const scanner = new WebmScanner(label, bytes.length);
  scanner.feed(bytes, 0);
  return scanner.track();
}

/** The video track of a WebM file read a window at a time (its frames are skipped, never read). */
export async function webmTrackOfBlob(file: Blob, label: string, windowBytes = WINDOW): Promise<VideoTrackIndex> {
  const scanner = new WebmScanner(label, file.size);
  for (let need = HEADER_MAX; need > 0 && scanner.pos < file.size;) {
    const base = scanner.pos;
    const window = new Uint8Array(await file.slice(base, base + Math.max(windowBytes, need)).arrayBuffer());
    need = scanner.feed(window, base);
  }
  return scanner.track();
}
