/** Hand-built PNG files for the decoder's hostile-input tests: any header, any image data, chunks with valid CRCs. */
import * as zlib from 'node:zlib';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** One chunk: length, type, body, CRC (valid unless `badCrc`). */
export function pngChunk(type: string, body: Uint8Array, badCrc = false): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((zlib.crc32(Buffer.concat([head.subarray(4), body])) ^ (badCrc ? 1 : 0)) >>> 0);
  return Buffer.concat([head, body, crc]);
}

/** An IHDR body: 8-bit (by default) grey, not interlaced. */
export function ihdr(width: number, height: number, colorType = 0, bitDepth = 8, interlace = 0): Buffer {
  const b = Buffer.alloc(13);
  b.writeUInt32BE(width, 0);
  b.writeUInt32BE(height, 4);
  b[8] = bitDepth;
  b[9] = colorType;
  b[12] = interlace;
  return b;
}

/** A PNG of the given chunks after the signature; IEND is added unless `iend` is false. */
export function pngFile(chunks: Buffer[], iend = true): Buffer {
  return Buffer.concat([Buffer.from(SIGNATURE), ...chunks, ...(iend ? [pngChunk('IEND', Buffer.alloc(0))] : [])]);
}

/** A grey 8-bit PNG whose header says `width`×`height` and whose IDAT inflates to `raw` (filtered rows). */
export function greyPngWithData(width: number, height: number, raw: Uint8Array): Buffer {
  return pngFile([pngChunk('IHDR', ihdr(width, height)), pngChunk('IDAT', zlib.deflateSync(raw, { level: 9 }))]);
}

/** The chunks of a PNG: type and the offsets of its body. */
export function pngChunks(bytes: Uint8Array): { type: string; start: number; end: number }[] {
  const out: { type: string; start: number; end: number }[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let pos = 8; pos + 12 <= bytes.length;) {
    const length = dv.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    out.push({ type, start: pos + 8, end: pos + 8 + length });
    pos += 12 + length;
  }
  return out;
}

/** Recomputes the CRC of every chunk in place (so a mutated body reaches the decoder past the CRC check). */
export function fixCrcs(bytes: Uint8Array): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const c of pngChunks(bytes)) {
    if (c.end + 4 > bytes.length) break;
    dv.setUint32(c.end, zlib.crc32(bytes.subarray(c.start - 4, c.end)) >>> 0);
  }
}
