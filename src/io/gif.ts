/**
 * Animated GIF (GIF89a) encoding of RGB frames, streamed: each frame is quantised to its own 256-colour
 * palette (median cut over a 5-bit-per-channel histogram), LZW-compressed and handed to a sink, so a long
 * preview never sits in memory. No dithering: overlays are flat colours over video, where dithering only adds noise.
 */
import { InputError } from '../errors.js';

export interface Quantized {
  /** RGB triples, at most 256 entries. */
  palette: Uint8Array;
  /** One palette index per pixel. */
  indices: Uint8Array;
}

const BINS = 1 << 15;

/** 5 bits per channel: the histogram bin of an RGB colour. */
const binOf = (r: number, g: number, b: number) => ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);

interface Box {
  /** Non-empty bins in this box. */
  bins: number[];
  /** Pixels in it. */
  count: number;
  /** The channel (0 r, 1 g, 2 b) with the widest bin range, and that range. */
  channel: number;
  range: number;
}

function makeBox(bins: number[], counts: Uint32Array): Box {
  let widest = { channel: 0, range: -1 };
  for (let c = 0; c < 3; c++) {
    const shift = 10 - 5 * c;
    let lo = 31;
    let hi = 0;
    for (const bin of bins) {
      const v = (bin >> shift) & 31;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo > widest.range) widest = { channel: c, range: hi - lo };
  }
  return { bins, count: bins.reduce((n, bin) => n + counts[bin], 0), ...widest };
}

/** Splits a box at the pixel-count median of its widest channel. */
function splitBox(box: Box, counts: Uint32Array): [Box, Box] {
  const shift = 10 - 5 * box.channel;
  const sorted = [...box.bins].sort((a, b) => ((a >> shift) & 31) - ((b >> shift) & 31));
  let seen = 0;
  let cut = 1;
  for (; cut < sorted.length - 1; cut++) {
    seen += counts[sorted[cut - 1]];
    if (seen * 2 >= box.count) break;
  }
  return [makeBox(sorted.slice(0, cut), counts), makeBox(sorted.slice(cut), counts)];
}

/**
 * Reduces RGB pixels to at most `maxColours` colours: median cut on the colour histogram (the box with the
 * largest pixel count × colour range is split first), each box's colour the mean of its pixels. An image with
 * at most `maxColours` distinct 5-bit bins keeps one entry per bin, so colours that are multiples of 8 come out exact.
 */
export function quantize(rgb: Uint8Array, maxColours = 256): Quantized {
  if (rgb.length % 3 !== 0) throw new InputError(`RGB data of ${rgb.length} bytes is not a whole number of pixels`);
  const counts = new Uint32Array(BINS);
  const sums = new Float64Array(BINS * 3);
  const n = rgb.length / 3;
  const pixelBins = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
    const bin = binOf(r, g, b);
    pixelBins[i] = bin;
    counts[bin]++;
    sums[3 * bin] += r;
    sums[3 * bin + 1] += g;
    sums[3 * bin + 2] += b;
  }
  const used: number[] = [];
  for (let bin = 0; bin < BINS; bin++) if (counts[bin]) used.push(bin);
  const boxes: Box[] = [makeBox(used, counts)];
  while (boxes.length < maxColours) {
    let pick = -1;
    let pickPriority = 0;
    for (let k = 0; k < boxes.length; k++) {
      const priority = boxes[k].count * boxes[k].range;
      if (boxes[k].bins.length > 1 && priority > pickPriority) [pick, pickPriority] = [k, priority];
    }
    if (pick < 0) break;
    boxes.splice(pick, 1, ...splitBox(boxes[pick], counts));
  }
  const palette = new Uint8Array(boxes.length * 3);
  const binEntry = new Uint8Array(BINS);
  boxes.forEach((box, k) => {
    const total = [0, 0, 0];
    for (const bin of box.bins) {
      binEntry[bin] = k;
      for (let c = 0; c < 3; c++) total[c] += sums[3 * bin + c];
    }
    for (let c = 0; c < 3; c++) palette[3 * k + c] = Math.round(total[c] / box.count);
  });
  const indices = new Uint8Array(n);
  for (let i = 0; i < n; i++) indices[i] = binEntry[pixelBins[i]];
  return { palette, indices };
}

/** Writes codes of varying width, least significant bit first, into 255-byte data sub-blocks. */
class CodeWriter {
  private readonly bytes: number[] = [];
  private bits = 0;
  private nbits = 0;

  write(code: number, width: number): void {
    this.bits |= code << this.nbits;
    this.nbits += width;
    while (this.nbits >= 8) {
      this.bytes.push(this.bits & 0xff);
      this.bits >>>= 8;
      this.nbits -= 8;
    }
  }

  /** The sub-blocks, each prefixed with its length, and the zero-length terminator. */
  finish(): Uint8Array {
    if (this.nbits > 0) this.bytes.push(this.bits & 0xff);
    const blocks = Math.ceil(this.bytes.length / 255);
    const out = new Uint8Array(this.bytes.length + blocks + 1);
    let o = 0;
    for (let k = 0; k < blocks; k++) {
      const block = this.bytes.slice(k * 255, (k + 1) * 255);
      out[o++] = block.length;
      out.set(block, o);
      o += block.length;
    }
    return out;
  }
}

const MAX_CODES = 4096;

/** GIF's variable-width LZW of palette indices (all < 2^minCodeSize), as data sub-blocks. */
export function lzwEncode(indices: Uint8Array, minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const end = clear + 1;
  const out = new CodeWriter();
  let width = minCodeSize + 1;
  let next = end + 1;
  // (prefix code, next index) → code of the longer string
  const table = new Map<number, number>();
  out.write(clear, width);
  if (!indices.length) {
    out.write(end, width);
    return out.finish();
  }
  let prefix = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const k = indices[i];
    const key = (prefix << 8) | k;
    const code = table.get(key);
    if (code !== undefined) {
      prefix = code;
      continue;
    }
    out.write(prefix, width);
    if (next === MAX_CODES) {
      // The table is full: start over rather than keep coding with a stale table.
      out.write(clear, width);
      table.clear();
      width = minCodeSize + 1;
      next = end + 1;
    } else {
      // The decoder widens its codes one entry later than it adds them, so widen before the entry that needs it.
      if (next >= 1 << width) width++;
      table.set(key, next++);
    }
    prefix = k;
  }
  out.write(prefix, width);
  out.write(end, width);
  return out.finish();
}

function u16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}

export interface GifOptions {
  /** Time each frame is shown, in hundredths of a second (GIF's unit). */
  delayCs: number;
  /** Repetitions; 0 = forever. */
  loop?: number;
}

/**
 * Writes an animated GIF piece by piece into `sink`: the header on construction, one image per `addFrame`,
 * the trailer on `finish`.
 */
export class GifEncoder {
  frames = 0;
  private finished = false;

  constructor(readonly width: number, readonly height: number, private readonly opts: GifOptions, private readonly sink: (bytes: Uint8Array) => void) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width < 65536 && height < 65536)) {
      throw new InputError(`GIF size ${width}x${height} must be 1..65535 pixels each way`);
    }
    if (!(Number.isInteger(opts.delayCs) && opts.delayCs >= 0 && opts.delayCs < 65536)) throw new InputError(`GIF frame delay ${opts.delayCs} must be an integer of hundredths of a second`);
    const loop = opts.loop ?? 0;
    sink(Uint8Array.from([
      ...Array.from('GIF89a', (c) => c.charCodeAt(0)),
      ...u16(width), ...u16(height), 0, 0, 0, // no global colour table
      0x21, 0xff, 11, ...Array.from('NETSCAPE2.0', (c) => c.charCodeAt(0)), 3, 1, ...u16(loop), 0,
    ]));
  }

  /** One frame of RGB pixels (width × height × 3). */
  addFrame(rgb: Uint8Array): void {
    if (this.finished) throw new InputError('GIF already finished');
    if (rgb.length !== this.width * this.height * 3) {
      throw new InputError(`GIF frame ${this.frames} has ${rgb.length} bytes, expected ${this.width}x${this.height}x3`);
    }
    const { palette, indices } = quantize(rgb);
    // The colour table holds 2^(size+1) entries (at least 4: LZW needs a code size of 2 or more).
    const tableBits = Math.max(2, Math.ceil(Math.log2(palette.length / 3)));
    const table = new Uint8Array(3 << tableBits);
    table.set(palette);
    this.sink(Uint8Array.from([
      0x21, 0xf9, 4, 0x04, ...u16(this.opts.delayCs), 0, 0, // graphic control: keep the frame (disposal 1), delay
      0x2c, 0, 0, 0, 0, ...u16(this.width), ...u16(this.height), 0x80 | (tableBits - 1), // image descriptor, local table
    ]));
    this.sink(table);
    this.sink(Uint8Array.of(tableBits));
    this.sink(lzwEncode(indices, tableBits));
    this.frames++;
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.sink(Uint8Array.of(0x3b));
  }
}
