/**
 * PNG encoding and decoding with node:zlib: masks (1/8-bit grey), label maps as palette PNGs in the DAVIS
 * layout (index = object id, 0 = background), RGB(A) overlays; and a decoder for every PNG type
 * (bit depths 1–16, filters 0–4, Adam7 interlace) that returns the stored samples, so label PNGs give
 * their raw indices, as `np.array(Image.open(path))` does.
 */
import * as zlib from 'node:zlib';
import { InputError } from '../errors.js';
import type { RgbImage } from './pixels.js';
import { checkPixels } from './pixel-limit.js';

export type PngColorType = 'grey' | 'rgb' | 'palette' | 'grey-alpha' | 'rgba';
export type PngBitDepth = 1 | 2 | 4 | 8 | 16;

/** A PNG's pixels as stored: one sample per element, channels interleaved, rows top to bottom, not bit-packed. */
export interface PngImage {
  readonly width: number;
  readonly height: number;
  readonly colorType: PngColorType;
  readonly bitDepth: PngBitDepth;
  /** Uint16Array for 16-bit images, else Uint8Array. */
  readonly samples: Uint8Array | Uint16Array;
  /** RGB triples (PLTE). */
  readonly palette?: Uint8Array;
  /** tRNS: per palette entry alpha for palette images; ignored by `pngToRgb`, like Pillow's convert("RGB"). */
  readonly transparency?: Uint8Array;
}

const SIGNATURE = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);

const COLOR_TYPE_CODES: Record<PngColorType, number> = { grey: 0, rgb: 2, palette: 3, 'grey-alpha': 4, rgba: 6 };
const CHANNELS: Record<PngColorType, number> = { grey: 1, rgb: 3, palette: 1, 'grey-alpha': 2, rgba: 4 };
const ALLOWED_DEPTHS: Record<PngColorType, readonly number[]> = {
  grey: [1, 2, 4, 8, 16], rgb: [8, 16], palette: [1, 2, 4, 8], 'grey-alpha': [8, 16], rgba: [8, 16],
};

/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/** The DAVIS / PASCAL VOC palette: entry i spreads the bits of i over the high bits of R, G and B. */
export const DAVIS_PALETTE: Uint8Array = (() => {
  const p = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let shift = 7; c > 0; shift--, c >>= 3) {
      p[i * 3] |= (c & 1) << shift;
      p[i * 3 + 1] |= ((c >> 1) & 1) << shift;
      p[i * 3 + 2] |= ((c >> 2) & 1) << shift;
    }
  }
  return p;
})();

// ---------------------------------------------------------------------------------------------------------
// CRC and chunks

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return crc;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, (crc32(out.subarray(4, 8 + body.length)) ^ 0xffffffff) >>> 0);
  return out;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

export type PngFilter = 0 | 1 | 2 | 3 | 4;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Packs one row of samples into bytes (big-endian for 16 bits, MSB-first bits below 8). */
function packRow(samples: ArrayLike<number>, offset: number, count: number, depth: number, out: Uint8Array): void {
  if (depth === 16) {
    for (let i = 0; i < count; i++) {
      out[2 * i] = samples[offset + i] >> 8;
      out[2 * i + 1] = samples[offset + i] & 0xff;
    }
  } else if (depth === 8) {
    for (let i = 0; i < count; i++) out[i] = samples[offset + i];
  } else {
    out.fill(0);
    const perByte = 8 / depth;
    for (let i = 0; i < count; i++) {
      out[Math.floor(i / perByte)] |= samples[offset + i] << (8 - depth * (1 + (i % perByte)));
    }
  }
}

function filterRow(type: PngFilter, row: Uint8Array, prev: Uint8Array, bpp: number, out: Uint8Array): void {
  out[0] = type;
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    const predictor = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c);
    out[1 + i] = (row[i] - predictor) & 0xff;
  }
}

function validate(img: PngImage): void {
  const { width, height, colorType, bitDepth, samples } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InputError(`PNG size ${width}x${height} is not a positive integer size`);
  }
  if (!ALLOWED_DEPTHS[colorType]?.includes(bitDepth)) throw new InputError(`PNG ${colorType} cannot have bit depth ${bitDepth}`);
  const n = width * height * CHANNELS[colorType];
  if (samples.length !== n) throw new InputError(`PNG ${width}x${height} ${colorType}: ${samples.length} samples, expected ${n}`);
  const max = 2 ** bitDepth - 1;
  for (let i = 0; i < samples.length; i++) {
    if (samples[i] > max) throw new InputError(`PNG sample ${samples[i]} at ${i} does not fit ${bitDepth} bits`);
  }
  if (colorType === 'palette') {
    const entries = (img.palette?.length ?? 0) / 3;
    if (!img.palette || !Number.isInteger(entries) || entries < 1 || entries > 256) {
      throw new InputError('palette PNG needs 1..256 RGB palette entries');
    }
  }
}

/** Encodes a PNG (not interlaced); every row uses `filter` (0 = none, the best choice for label maps). */
export function encodePng(img: PngImage, filter: PngFilter = 0): Uint8Array {
  validate(img);
  const { width, height, colorType, bitDepth, samples } = img;
  const channels = CHANNELS[colorType];
  const rowBytes = Math.ceil((width * channels * bitDepth) / 8);
  const bpp = Math.max(1, (channels * bitDepth) >> 3);
  const raw = new Uint8Array(height * (rowBytes + 1));
  let row = new Uint8Array(rowBytes);
  let prev = new Uint8Array(rowBytes);
  for (let y = 0; y < height; y++) {
    packRow(samples, y * width * channels, width * channels, bitDepth, row);
    filterRow(filter, row, prev, bpp, raw.subarray(y * (rowBytes + 1), (y + 1) * (rowBytes + 1)));
    [row, prev] = [prev, row];
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = bitDepth;
  ihdr[9] = COLOR_TYPE_CODES[colorType];
  const parts = [SIGNATURE, chunk('IHDR', ihdr)];
  if (img.palette) parts.push(chunk('PLTE', img.palette));
  if (img.transparency) parts.push(chunk('tRNS', img.transparency));
  parts.push(chunk('IDAT', new Uint8Array(zlib.deflateSync(raw))), chunk('IEND', new Uint8Array(0)));
  return concatBytes(parts);
}

/** A binary mask (0 / non-zero, H·W) as a greyscale PNG: 1-bit (0/1) or 8-bit (0/255). */
export function encodeMaskPng(mask: ArrayLike<number>, width: number, height: number, bitDepth: 1 | 8 = 8): Uint8Array {
  const on = bitDepth === 1 ? 1 : 255;
  const samples = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) samples[i] = mask[i] ? on : 0;
  return encodePng({ width, height, colorType: 'grey', bitDepth, samples });
}

/** A label map (H·W object ids 0..255, 0 = background) as an 8-bit palette PNG, DAVIS palette by default. */
export function encodeLabelPng(labels: Uint8Array, width: number, height: number, palette: Uint8Array = DAVIS_PALETTE): Uint8Array {
  return encodePng({ width, height, colorType: 'palette', bitDepth: 8, samples: labels, palette });
}

/** 8-bit RGB or RGBA pixels (3 or 4 interleaved channels, told apart by length) as a PNG. */
export function encodeRgbPng(data: Uint8Array, width: number, height: number): Uint8Array {
  const colorType = data.length === width * height * 4 ? 'rgba' : 'rgb';
  return encodePng({ width, height, colorType, bitDepth: 8, samples: data }, 1);
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

/** True when `bytes` start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

interface Header {
  width: number;
  height: number;
  bitDepth: PngBitDepth;
  colorType: PngColorType;
  interlaced: boolean;
}

function parseHeader(body: Uint8Array, name: string): Header {
  if (body.length !== 13) throw new InputError(`${name}: IHDR has ${body.length} bytes, expected 13`);
  const dv = new DataView(body.buffer, body.byteOffset, 13);
  const width = dv.getUint32(0);
  const height = dv.getUint32(4);
  const depth = body[8];
  const colorType = (Object.keys(COLOR_TYPE_CODES) as PngColorType[]).find((k) => COLOR_TYPE_CODES[k] === body[9]);
  if (!colorType) throw new InputError(`${name}: unknown PNG colour type ${body[9]}`);
  if (!ALLOWED_DEPTHS[colorType].includes(depth)) throw new InputError(`${name}: PNG ${colorType} with bit depth ${depth} is invalid`);
  if (width === 0 || height === 0) throw new InputError(`${name}: PNG size ${width}x${height} is empty`);
  if (body[10] !== 0 || body[11] !== 0) throw new InputError(`${name}: unknown PNG compression/filter method ${body[10]}/${body[11]}`);
  if (body[12] > 1) throw new InputError(`${name}: unknown PNG interlace method ${body[12]}`);
  return { width, height, bitDepth: depth as PngBitDepth, colorType, interlaced: body[12] === 1 };
}

function unfilterRow(type: number, row: Uint8Array, prev: Uint8Array, bpp: number, name: string): void {
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    let predictor: number;
    switch (type) {
      case 0: predictor = 0; break;
      case 1: predictor = a; break;
      case 2: predictor = b; break;
      case 3: predictor = (a + b) >> 1; break;
      case 4: predictor = paeth(a, b, c); break;
      default: throw new InputError(`${name}: unknown PNG row filter ${type}`);
    }
    row[i] = (row[i] + predictor) & 0xff;
  }
}

/** Reads `w`×`h` filtered, packed rows from `data` at `offset` into samples at positions given by `place`. */
function readPass(
  data: Uint8Array, offset: number, w: number, h: number, hdr: Header, samples: Uint8Array | Uint16Array,
  place: (x: number, y: number) => number, name: string,
): number {
  const channels = CHANNELS[hdr.colorType];
  const depth = hdr.bitDepth;
  const rowBytes = Math.ceil((w * channels * depth) / 8);
  const bpp = Math.max(1, (channels * depth) >> 3);
  let prev = new Uint8Array(rowBytes);
  for (let y = 0; y < h; y++) {
    if (offset + 1 + rowBytes > data.length) throw new InputError(`${name}: PNG image data ends early (row ${y})`);
    const row = data.slice(offset + 1, offset + 1 + rowBytes);
    unfilterRow(data[offset], row, prev, bpp, name);
    offset += 1 + rowBytes;
    for (let x = 0; x < w; x++) {
      const base = place(x, y);
      for (let c = 0; c < channels; c++) {
        const i = x * channels + c;
        samples[base + c] = depth === 16 ? (row[2 * i] << 8) | row[2 * i + 1]
          : depth === 8 ? row[i]
            : (row[(i * depth) >> 3] >> (8 - depth - ((i * depth) & 7))) & ((1 << depth) - 1);
      }
    }
    prev = row;
  }
  return offset;
}

export interface PngDecodeOptions {
  /** Refuse images of more pixels (default: the limit in force, see pixel-limit.ts). */
  maxPixels?: number;
}

/** Bytes of filtered image data (a filter byte per row of every pass) the header implies. */
function rawDataLength(hdr: Header): number {
  const rowBytes = (w: number) => Math.ceil((w * CHANNELS[hdr.colorType] * hdr.bitDepth) / 8);
  if (!hdr.interlaced) return hdr.height * (1 + rowBytes(hdr.width));
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = Math.ceil((hdr.width - x0) / dx);
    const h = Math.ceil((hdr.height - y0) / dy);
    if (w > 0 && h > 0) total += h * (1 + rowBytes(w));
  }
  return total;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length;) {
    // 5552 bytes is the longest run whose sums cannot overflow before the modulo (zlib's NMAX).
    const end = Math.min(bytes.length, i + 5552);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Inflates the IDAT stream to exactly `expected` bytes: inflation stops as soon as the output would pass them (a
 * decompression bomb costs no more than the image), and a stream that holds more or less data, or bytes after
 * its end, is corrupt.
 */
function inflateImageData(idat: Uint8Array, expected: number, name: string): Uint8Array {
  let data: Uint8Array;
  try {
    data = new Uint8Array(zlib.inflateSync(idat, { maxOutputLength: expected }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InputError(`${name}: PNG image data inflates to more than the ${expected} bytes its header implies`);
    }
    throw new InputError(`${name}: PNG image data is corrupt (${(err as Error).message})`);
  }
  if (data.length !== expected) throw new InputError(`${name}: PNG image data inflates to ${data.length} bytes, its header implies ${expected}`);
  // inflate stops at the stream's end and ignores what follows; the stream ends with the Adler-32 of the data.
  const tail = idat.length >= 4 ? new DataView(idat.buffer, idat.byteOffset + idat.length - 4, 4).getUint32(0) : -1;
  if (tail !== adler32(data)) throw new InputError(`${name}: PNG image data has bytes after the end of its compressed stream`);
  return data;
}

/**
 * Decodes any standard PNG to its stored samples (see `PngImage`); errors name `name`. Images above the pixel
 * limit, image data that inflates to more or less than the header implies, and bytes after IEND are InputErrors.
 */
export function decodePng(bytes: Uint8Array, name = 'PNG', options: PngDecodeOptions = {}): PngImage {
  if (!isPng(bytes)) throw new InputError(`${name}: not a PNG file (bad signature)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hdr: Header | undefined;
  let palette: Uint8Array | undefined;
  let transparency: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let pos = 8;
  for (let ended = false; !ended;) {
    if (pos + 12 > bytes.length) throw new InputError(`${name}: PNG ends before IEND`);
    const length = dv.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (pos + 12 + length > bytes.length) throw new InputError(`${name}: PNG chunk ${type} runs past the end of the file`);
    const body = bytes.subarray(pos + 8, pos + 8 + length);
    const crc = (crc32(bytes.subarray(pos + 4, pos + 8 + length)) ^ 0xffffffff) >>> 0;
    if (crc !== dv.getUint32(pos + 8 + length)) throw new InputError(`${name}: PNG chunk ${type} has a bad CRC`);
    pos += 12 + length;
    if (!hdr && type !== 'IHDR') throw new InputError(`${name}: PNG does not start with IHDR`);
    switch (type) {
      case 'IHDR':
        if (hdr) throw new InputError(`${name}: PNG has two IHDR chunks`);
        hdr = parseHeader(body, name);
        checkPixels(hdr.width, hdr.height, `${name}: PNG`, options.maxPixels);
        break;
      case 'PLTE': palette = body.slice(); break;
      case 'tRNS': transparency = body.slice(); break;
      case 'IDAT': idat.push(body); break;
      case 'IEND': ended = true; break;
      default:
        if (type.charCodeAt(0) < 97) throw new InputError(`${name}: unknown critical PNG chunk ${type}`);
    }
  }
  if (!hdr) throw new InputError(`${name}: PNG has no IHDR`);
  if (pos !== bytes.length) throw new InputError(`${name}: ${bytes.length - pos} byte(s) after the PNG's IEND chunk`);
  if (hdr.colorType === 'palette' && !palette) throw new InputError(`${name}: palette PNG has no PLTE chunk`);
  if (!idat.length) throw new InputError(`${name}: PNG has no image data (IDAT)`);
  const data = inflateImageData(concatBytes(idat), rawDataLength(hdr), name);
  const { width, height } = hdr;
  const channels = CHANNELS[hdr.colorType];
  const n = width * height * channels;
  const samples = hdr.bitDepth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  if (!hdr.interlaced) {
    readPass(data, 0, width, height, hdr, samples, (x, y) => (y * width + x) * channels, name);
  } else {
    let offset = 0;
    for (const [x0, y0, dx, dy] of ADAM7) {
      const w = Math.ceil((width - x0) / dx);
      const h = Math.ceil((height - y0) / dy);
      if (w <= 0 || h <= 0) continue;
      offset = readPass(data, offset, w, h, hdr, samples, (x, y) => ((y0 + y * dy) * width + x0 + x * dx) * channels, name);
    }
  }
  return { width, height, colorType: hdr.colorType, bitDepth: hdr.bitDepth, samples, palette, transparency };
}

/** Pillow's rawmode for 1/2/4-bit grey scales the values to 0..255 ("1" reads as 0/1 through numpy). */
function scaleLowDepthGrey(v: number, depth: number): number {
  return depth === 2 ? v * 85 : depth === 4 ? v * 17 : v;
}

/**
 * The label map of a palette or greyscale PNG as `np.array(Image.open(path))` gives it: palette indices;
 * grey values (1-bit as 0/1, 2/4-bit scaled to 0..255 as Pillow does, 16-bit as Uint16Array).
 */
export function decodeLabelPng(bytes: Uint8Array, name = 'PNG', options: PngDecodeOptions = {}): { width: number; height: number; data: Uint8Array | Uint16Array } {
  const img = decodePng(bytes, name, options);
  if (img.colorType !== 'palette' && img.colorType !== 'grey') {
    throw new InputError(`${name}: a label PNG must be palette or greyscale, this one is ${img.colorType}`);
  }
  const { width, height, samples, bitDepth } = img;
  if (img.colorType === 'grey' && (bitDepth === 2 || bitDepth === 4)) {
    return { width, height, data: (samples as Uint8Array).map((v) => scaleLowDepthGrey(v, bitDepth)) };
  }
  return { width, height, data: samples };
}

/**
 * Pillow's `Image.open(png).convert("RGB")`: 16-bit samples keep their high byte (RGB, grey+alpha),
 * except 16-bit grey, which Pillow opens as 32-bit "I" and clips to 0..255; low-depth grey is scaled;
 * palette entries past PLTE are Pillow's grey ramp; alpha and tRNS are dropped.
 */
export function pngToRgb(img: PngImage): RgbImage {
  const { width, height, colorType, bitDepth, samples } = img;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  const channels = CHANNELS[colorType];
  const byte = (v: number) => (bitDepth === 16 ? v >> 8 : v);
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    let r: number;
    let g: number;
    let b: number;
    if (colorType === 'palette') {
      const e = samples[s];
      const p = img.palette as Uint8Array;
      [r, g, b] = e * 3 < p.length ? [p[e * 3], p[e * 3 + 1], p[e * 3 + 2]] : [e, e, e];
    } else if (colorType === 'grey') {
      const v = bitDepth === 16 ? Math.min(samples[s], 255) : bitDepth === 1 ? samples[s] * 255 : scaleLowDepthGrey(samples[s], bitDepth);
      r = g = b = v;
    } else if (colorType === 'grey-alpha') {
      r = g = b = byte(samples[s]);
    } else {
      [r, g, b] = [byte(samples[s]), byte(samples[s + 1]), byte(samples[s + 2])];
    }
    out[3 * i] = r;
    out[3 * i + 1] = g;
    out[3 * i + 2] = b;
  }
  return { width, height, data: out };
}
