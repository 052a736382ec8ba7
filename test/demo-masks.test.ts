/** The demo page's label-map packing (how it keeps every frame's masks) and its label PNGs, in Node. */
import * as assert from 'node:assert/strict';
import { labelPng, packLabels, unpackLabels } from '../demo/src/masks.js';
import { decodeLabelPng } from '../src/io/png.js';
import { seededRandom } from './helpers/random.js';

describe('demo masks', () => {
  const width = 640;
  const height = 480;
  const n = width * height;
  const random = seededRandom(7);
  const maps: Record<string, Uint8Array> = {
    empty: new Uint8Array(n),
    full: new Uint8Array(n).fill(3),
    blobs: Uint8Array.from({ length: n }, (_, p) => ((p % width) > 100 && (p % width) < 300 && p / width > 50 ? 1 : (p % width) > 400 ? 2 : 0)),
    noise: Uint8Array.from({ length: n }, () => Math.floor(random() * 4)),
    // Runs longer than 2^24 pixels would overflow a 3-byte length; 4 bytes hold any frame.
    long: new Uint8Array(1 << 25).fill(9),
  };

  for (const [name, labels] of Object.entries(maps)) {
    it(`${name}: packs and unpacks to the same label map`, () => {
      const packed = packLabels(labels);
      assert.ok(packed.length <= labels.length + 1, `${name}: ${packed.length} bytes packed for ${labels.length} pixels`);
      assert.deepEqual(unpackLabels(packed, labels.length), labels);
    });
  }

  it('smooth masks pack small; noise is kept as it is', () => {
    assert.ok(packLabels(maps.blobs).length < n / 20, `${packLabels(maps.blobs).length} bytes for ${n} pixels`);
    assert.equal(packLabels(maps.noise).length, n + 1);
  });

  it('labelPng writes the label values the library reads back', () => {
    const decoded = decodeLabelPng(labelPng(maps.blobs, width, height), 'blobs');
    assert.deepEqual([decoded.width, decoded.height], [width, height]);
    assert.deepEqual(Uint8Array.from(decoded.data), maps.blobs);
  });
});
