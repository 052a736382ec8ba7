/** The picture functions (src/render/overlay.ts) and the GIF quantiser, on small hand-made images. */
import * as assert from 'node:assert/strict';
import { InputError } from '../src/errors.js';
import { GifEncoder, quantize } from '../src/io/gif.js';
import { DAVIS_PALETTE } from '../src/io/png.js';
import {
  FILL_ALPHA, NEGATIVE_COLOUR, POSITIVE_COLOUR, downscale, drawLabels, labelContour, labelMap, lineWidth, objectColour, renderOverlay, sideBySide,
} from '../src/render/overlay.js';
import type { RgbImage } from '../src/io/pixels.js';

/** A w×h image of one colour. */
function plain(width: number, height: number, rgb: readonly number[]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, 3 * i);
  return { width, height, data };
}

function pixel(img: RgbImage, x: number, y: number): number[] {
  return [...img.data.subarray(3 * (y * img.width + x), 3 * (y * img.width + x) + 3)];
}

/** A label map with `id` on the rectangle [x0, x1) × [y0, y1). */
function rect(labels: Uint8Array, width: number, [x0, y0, x1, y1]: number[], id: number): Uint8Array {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) labels[y * width + x] = id;
  return labels;
}

describe('overlay pictures', () => {
  it('object colours are the DAVIS palette of the label PNGs', () => {
    assert.deepEqual(objectColour(1), [128, 0, 0]);
    assert.deepEqual(objectColour(2), [0, 128, 0]);
    assert.deepEqual(objectColour(200), [...DAVIS_PALETTE.subarray(600, 603)]);
    assert.throws(() => objectColour(256), InputError);
  });

  it('labelMap: the lower object id wins where masks overlap', () => {
    const a = Uint8Array.of(1, 1, 0, 0);
    const b = Uint8Array.of(0, 1, 1, 0);
    assert.deepEqual([...labelMap([7, 3], [a, b], 4)], [7, 3, 3, 0]);
  });

  it('contours: the inner edge of each object, where objects touch and at the image border', () => {
    const [w, h] = [8, 6];
    const labels = rect(rect(new Uint8Array(w * h), w, [1, 1, 4, 5], 1), w, [4, 1, 8, 5], 2);
    const edge = labelContour(labels, w, h, 1);
    const rows = Array.from({ length: h }, (_, y) => [...edge.subarray(y * w, (y + 1) * w)].join(''));
    assert.deepEqual(rows, [
      '00000000',
      '01111111',
      '01011001',
      '01011001',
      '01111111',
      '00000000',
    ]);
    assert.equal(lineWidth(256, 256), 1);
    assert.equal(lineWidth(1920, 1080), 2);
  });

  it('drawLabels tints objects at FILL_ALPHA, outlines them in full colour, leaves the background and the input alone', () => {
    const [w, h] = [9, 9];
    const frame = plain(w, h, [100, 50, 200]);
    const before = Uint8Array.from(frame.data);
    const labels = rect(new Uint8Array(w * h), w, [2, 2, 7, 7], 2);
    const out = { width: w, height: h, data: drawLabels(frame, labels) };
    assert.deepEqual(frame.data, before);
    assert.deepEqual(pixel(out, 0, 0), [100, 50, 200]);
    assert.deepEqual(pixel(out, 2, 2), [0, 128, 0]);
    assert.deepEqual(pixel(out, 4, 4), [100, 50, 200].map((v, c) => Math.round((1 - FILL_ALPHA) * v + FILL_ALPHA * [0, 128, 0][c])));
    assert.throws(() => drawLabels(frame, new Uint8Array(5)), /label map of 5 pixels for a 9x9 frame/);
  });

  it('renderOverlay marks clicks (green / red in a white ring) and boxes (object colour) on top of the masks', () => {
    const [w, h] = [40, 30];
    const frame = plain(w, h, [10, 10, 10]);
    const pic = renderOverlay(frame, new Uint8Array(w * h), [
      { objId: 1, points: [[10, 10], [30, 10]], labels: [1, 0] },
      { objId: 3, points: [], labels: [], box: [5, 18, 35, 28] },
    ]);
    assert.deepEqual(pixel(pic, 10, 10), [...POSITIVE_COLOUR]);
    assert.deepEqual(pixel(pic, 30, 10), [...NEGATIVE_COLOUR]);
    const r = 3 * lineWidth(w, h) + 1;
    assert.deepEqual(pixel(pic, 10 + r + 1, 10), [255, 255, 255], 'ring just outside the disc');
    assert.deepEqual(pixel(pic, 10 + r + 3, 10), [10, 10, 10]);
    assert.deepEqual(pixel(pic, 5, 18), [...objectColour(3)], 'box corner');
    assert.deepEqual(pixel(pic, 35, 28), [...objectColour(3)]);
    assert.deepEqual(pixel(pic, 20, 23), [10, 10, 10], 'inside the box');
  });

  it('sideBySide and downscale', () => {
    const row = sideBySide([plain(2, 2, [1, 1, 1]), plain(3, 2, [2, 2, 2])], 1, [9, 9, 9]);
    assert.deepEqual([row.width, row.height], [6, 2]);
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((x) => pixel(row, x, 1)[0]), [1, 1, 9, 2, 2, 2]);
    assert.throws(() => sideBySide([plain(2, 2, [0, 0, 0]), plain(2, 3, [0, 0, 0])]), /panel 1 is 3 px high/);

    const img: RgbImage = { width: 4, height: 2, data: Uint8Array.from([0, 0, 0, 4, 4, 4, 10, 0, 0, 10, 0, 0, 8, 8, 8, 4, 4, 4, 30, 0, 0, 30, 0, 1]) };
    const small = downscale(img, 2);
    assert.deepEqual([small.width, small.height], [2, 1]);
    assert.deepEqual([...small.data], [4, 4, 4, 20, 0, 0]);
    assert.equal(downscale(img, 4), img, 'an image that fits is returned as it is');
  });
});

describe('GIF quantiser and encoder', () => {
  it('at most 256 distinct colours on 8-level steps come out exact; more are reduced to 256 entries', () => {
    const n = 300;
    const exact = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) exact.set([(i % 16) * 8, ((i >> 4) % 16) * 16, 0], 3 * i);
    const q = quantize(exact);
    assert.equal(q.palette.length / 3, 256);
    for (let i = 0; i < n; i++) assert.deepEqual([...q.palette.subarray(3 * q.indices[i], 3 * q.indices[i] + 3)], [...exact.subarray(3 * i, 3 * i + 3)]);

    const many = Uint8Array.from({ length: 4096 * 3 }, (_, i) => (i * 7919) % 256);
    const r = quantize(many);
    assert.ok(r.palette.length / 3 <= 256);
    assert.ok(r.indices.every((k) => k < r.palette.length / 3));
  });

  it('writes header, one image per frame and the trailer, piece by piece', () => {
    const pieces: Uint8Array[] = [];
    const gif = new GifEncoder(3, 2, { delayCs: 10 }, (b) => pieces.push(b));
    gif.addFrame(new Uint8Array(18).fill(200));
    gif.finish();
    const bytes = Buffer.concat(pieces);
    assert.equal(bytes.subarray(0, 6).toString('latin1'), 'GIF89a');
    assert.deepEqual([bytes.readUInt16LE(6), bytes.readUInt16LE(8)], [3, 2]);
    assert.ok(bytes.includes(Buffer.from('NETSCAPE2.0')));
    assert.equal(bytes[bytes.length - 1], 0x3b);
    assert.throws(() => gif.addFrame(new Uint8Array(18)), /already finished/);
    assert.throws(() => new GifEncoder(3, 2, { delayCs: 10 }, () => undefined).addFrame(new Uint8Array(5)), /expected 3x2x3/);
  });
});
