/**
 * Binary PGM/PPM (P5 grey, P6 RGB, 8-bit) frames cut out of a byte stream that arrives in arbitrary chunks:
 * what `ffmpeg -f image2pipe -c:v ppm|pgm` writes. Each frame carries its own size, so a reader needs no
 * probing and still follows a rotated or resized stream.
 */
import { InputError } from '../errors.js';
import { checkPixels } from './pixel-limit.js';

export interface NetpbmFrame {
  readonly width: number;
  readonly height: number;
  /** 1 (P5, grey) or 3 (P6, RGB), interleaved. */
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

interface Header {
  width: number;
  height: number;
  channels: 1 | 3;
}

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;

/** A header longer than this is not one (the largest real one is ~30 bytes). */
const MAX_HEADER_BYTES = 1024;

/**
 * Parses a header from its first bytes: the header and its length in bytes, or null when more bytes are
 * needed. Comments (`#` to the end of the line) are skipped; only maxval 255 is accepted.
 */
export function parseNetpbmHeader(bytes: readonly number[], label: string): { header: Header; length: number } | null {
  const tokens: string[] = [];
  let token = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x23 && !token) {
      while (i < bytes.length && bytes[i] !== 0x0a && bytes[i] !== 0x0d) i++;
      if (i === bytes.length) return null;
      continue;
    }
    if (!isSpace(b)) {
      token += String.fromCharCode(b);
      continue;
    }
    if (!token) continue;
    tokens.push(token);
    token = '';
    if (tokens.length === 4) return { header: checkHeader(tokens, label), length: i + 1 };
  }
  const magic = tokens[0] ?? token;
  if (magic.length >= 2 && magic !== 'P5' && magic !== 'P6') checkHeader([magic], label);
  if (bytes.length > MAX_HEADER_BYTES) throw new InputError(`${label}: no PGM/PPM header in the first ${MAX_HEADER_BYTES} bytes`);
  return null;
}

function checkHeader(tokens: string[], label: string): Header {
  const [magic, w, h, max] = tokens;
  if (magic !== 'P5' && magic !== 'P6') throw new InputError(`${label}: expected a binary PGM/PPM frame (P5/P6), found '${magic.slice(0, 8)}'`);
  const [width, height, maxval] = [w, h, max].map((t) => (/^\d+$/.test(t) ? Number(t) : NaN));
  if (!(width > 0 && height > 0)) throw new InputError(`${label}: bad frame size '${w}x${h}'`);
  // Checked before the frame's buffer is allocated: a corrupt or hostile header asks for any size.
  checkPixels(width, height, label);
  if (maxval !== 255) throw new InputError(`${label}: only 8-bit frames (maxval 255) are read, found maxval '${max}'`);
  return { width, height, channels: magic === 'P5' ? 1 : 3 };
}

/** Collects chunks into whole frames; holds at most one frame plus a header. */
export class NetpbmStreamParser {
  private headerBytes: number[] = [];
  private header: Header | null = null;
  private frame: Uint8Array | null = null;
  private filled = 0;
  /** Frames completed so far. */
  count = 0;

  constructor(private readonly label: string) {}

  /** Feeds one chunk; returns the frames it completed, in order. */
  push(chunk: Uint8Array): NetpbmFrame[] {
    const done: NetpbmFrame[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.header) {
        pos = this.readHeader(chunk, pos);
        continue;
      }
      const frame = this.frame as Uint8Array;
      const take = Math.min(frame.length - this.filled, chunk.length - pos);
      frame.set(chunk.subarray(pos, pos + take), this.filled);
      this.filled += take;
      pos += take;
      if (this.filled === frame.length) {
        const { width, height, channels } = this.header;
        done.push({ width, height, channels, data: frame });
        this.count++;
        this.header = null;
        this.frame = null;
      }
    }
    return done;
  }

  /** Consumes header bytes from `pos`; returns the position after them. */
  private readHeader(chunk: Uint8Array, pos: number): number {
    // The header is parsed again after each byte: it is a few dozen bytes, and a chunk may end inside it.
    while (pos < chunk.length) {
      this.headerBytes.push(chunk[pos++]);
      const parsed = parseNetpbmHeader(this.headerBytes, `${this.label} frame ${this.count}`);
      if (parsed) {
        this.header = parsed.header;
        this.frame = new Uint8Array(parsed.header.width * parsed.header.height * parsed.header.channels);
        this.filled = 0;
        this.headerBytes = [];
        break;
      }
    }
    return pos;
  }

  /** Throws when the stream stopped inside a frame. */
  end(): void {
    if (this.header || this.headerBytes.some((b) => !isSpace(b))) {
      throw new InputError(`${this.label}: the stream ends inside frame ${this.count}`);
    }
  }
}
