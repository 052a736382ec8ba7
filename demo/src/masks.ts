/**
 * Masks out of the page: per-frame label maps (DAVIS layout: value = object id, 0 = background) as
 * palette PNGs (zipped by export.ts), the files `sam2long segment` writes and `sam2long eval` reads.
 * The library's PNG encoder sits on node:zlib, so the page writes its PNGs with fflate.
 */
import { zlibSync } from 'fflate';

/** The DAVIS / PASCAL VOC colour of label `id`: the bits of id spread over the high bits of R, G and B. */
function labelColor(id: number): [number, number, number] {
  const rgb: [number, number, number] = [0, 0, 0];
  for (let bit = 0, c = id; c > 0; bit++, c >>= 3) {
    for (let ch = 0; ch < 3; ch++) rgb[ch] |= ((c >> ch) & 1) << (7 - bit);
  }
  return rgb;
}

/** One label map from per-object binary masks; the lowest object id wins where masks overlap. */
export function labelMap(objIds: readonly number[], masks: readonly Uint8Array[], numPixels: number): Uint8Array {
  const labels = new Uint8Array(numPixels);
  const order = objIds.map((id, i) => [id, i] as const).sort((a, b) => b[0] - a[0]);
  for (const [id, i] of order) {
    const mask = masks[i];
    for (let p = 0; p < numPixels; p++) if (mask[p]) labels[p] = id;
  }
  return labels;
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A label map as an 8-bit palette PNG with the DAVIS palette (every row filter 0). */
export function labelPng(labels: Uint8Array, width: number, height: number): Uint8Array {
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(labels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 3; // palette colour type
  const palette = new Uint8Array(256 * 3);
  for (let id = 0; id < 256; id++) palette.set(labelColor(id), id * 3);
  const parts = [
    Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10),
    chunk('IHDR', header), chunk('PLTE', palette), chunk('IDAT', zlibSync(raw)), chunk('IEND', new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((offset, p) => (png.set(p, offset), offset + p.length), 0);
  return png;
}

/**
 * A label map packed as runs (after a 1 byte: [value, length as 4 bytes little-endian] each), or kept as it is
 * (after a 0 byte) when runs would not be smaller: a 900-frame video's masks at 1024×576 hold 530 MB as plain
 * label maps, a few MB as runs.
 */
export function packLabels(labels: Uint8Array): Uint8Array {
  const runs: number[] = [1];
  let i = 0;
  while (i < labels.length && runs.length < labels.length) {
    const v = labels[i];
    let j = i + 1;
    while (j < labels.length && labels[j] === v) j++;
    const n = j - i;
    runs.push(v, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
    i = j;
  }
  if (i >= labels.length && runs.length <= labels.length) return Uint8Array.from(runs);
  const raw = new Uint8Array(labels.length + 1);
  raw.set(labels, 1);
  return raw;
}

export function unpackLabels(packed: Uint8Array, numPixels: number): Uint8Array {
  if (packed[0] === 0) return packed.slice(1);
  const labels = new Uint8Array(numPixels);
  for (let r = 1, p = 0; r < packed.length; r += 5) {
    const n = packed[r + 1] | (packed[r + 2] << 8) | (packed[r + 3] << 16) | (packed[r + 4] << 24);
    labels.fill(packed[r], p, p + n);
    p += n;
  }
  return labels;
}
