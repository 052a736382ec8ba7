import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { InputError, ShapeError } from '../src/errors.js';
import {
  binarize, connectedComponents, fillHoles, fillHolesInScores, HOLE_FILL_SCORE, normalizeFrame, packBits, preprocessVideoFrame,
  resizeForImagePredictor, scalePoints, unpackBits, upsampleLogits,
} from '../src/predictor/transforms.js';
import { toRgbImage, type RgbImage } from '../src/io/pixels.js';
import { resizeRgbPillowBicubic } from '../src/ops/pixel-resize.js';
import { assertClose, goldenHost, goldenTensor, setupBackend } from './helpers/golden.js';

const FRAMES = 'video1/frames.safetensors';
const GREEDY = 'video1/sam21_mini.sam2_greedy.point.safetensors';

function goldenFrame(index: number): RgbImage {
  const t = goldenHost(FRAMES, 'frames_rgb_u8');
  const [, h, w] = t.shape;
  return { width: w, height: h, data: (t.data as Uint8Array).slice(index * h * w * 3, (index + 1) * h * w * 3) };
}

function image(width: number, height: number, pixel: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = pixel(x, y, c);
  return { width, height, data };
}

function mirrorX(img: RgbImage): RgbImage {
  return image(img.width, img.height, (x, y, c) => img.data[(y * img.width + (img.width - 1 - x)) * 3 + c]);
}

function bitsOf(t: tf.Tensor): Uint32Array {
  return new Uint32Array(new Float32Array(t.dataSync()).buffer);
}

describe('transforms', () => {
  before(async () => {
    await setupBackend();
  });

  describe('normalizeFrame / preprocessVideoFrame', () => {
    it('is bit-identical to the predictor input (preprocessed_first1)', () => {
      const expected = tf.tidy(() => tf.transpose(goldenTensor(FRAMES, 'preprocessed_first1'), [0, 2, 3, 1]));
      const actual = normalizeFrame(goldenFrame(0));
      assert.deepEqual(actual.shape, expected.shape);
      const a = bitsOf(actual);
      const e = bitsOf(expected);
      let differing = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== e[i]) differing++;
      console.log(`      preprocessed_first1: ${differing} of ${a.length} floats differ in any bit`);
      assert.equal(differing, 0);
      const viaResize = preprocessVideoFrame(goldenFrame(0), 256);
      assert.deepEqual(bitsOf(viaResize), a);
      tf.dispose([expected, actual, viaResize]);
    });
  });

  describe('resizeRgbPillowBicubic', () => {
    it('returns the same bytes at the same size', () => {
      const img = goldenFrame(3);
      const out = resizeRgbPillowBicubic(img, img.width, img.height);
      assert.deepEqual(out.data, img.data);
      assert.notEqual(out.data, img.data, 'a copy, not the input buffer');
    });

    it('matches hand-computed Pillow values on a 3→6 upscale', () => {
      // Upscale ×2: filter scale 1, support 2. Output x=1 has centre 0.75 and taps 0..2 at distances
      // −0.25, 0.75, 1.75 → cubic weights 111/128, 29/128, −3/128, normalised by their sum 137/128.
      // [0, 255, 0]: 255·29/137 = 53.98 → 22-bit weight 887843 → (255·887843 + 2^21) >> 22 = 54.
      // [255, 0, 255]: 255·108/137 = 201.02 → 201.
      const row = (v: number[]) => image(3, 1, (x) => v[x]);
      assert.equal(resizeRgbPillowBicubic(row([0, 255, 0]), 6, 1).data[3], 54);
      assert.equal(resizeRgbPillowBicubic(row([255, 0, 255]), 6, 1).data[3], 201);
      // An unchanged axis is not filtered: only x moves.
      const col = resizeRgbPillowBicubic(image(3, 2, (x, y) => (y === 0 ? [0, 255, 0][x] : 7)), 6, 2);
      assert.deepEqual(Array.from(col.data.subarray(18, 36)), Array(18).fill(7));
    });

    it('keeps constant images constant and clips overshoot to 0..255', () => {
      for (const [w, h, W, H] of [[17, 11, 5, 7], [5, 7, 23, 13], [256, 256, 64, 100]]) {
        const out = resizeRgbPillowBicubic(image(w, h, (_x, _y, c) => [0, 128, 255][c]), W, H);
        for (let i = 0; i < out.data.length; i++) assert.equal(out.data[i], [0, 128, 255][i % 3]);
      }
      // A hard edge overshoots with the negative lobes: Pillow clips to the byte range.
      const edge = resizeRgbPillowBicubic(image(4, 1, (x) => (x < 2 ? 20 : 235)), 16, 1);
      const values = Array.from(edge.data.filter((_, i) => i % 3 === 0));
      assert.ok(Math.min(...values) < 20 && Math.max(...values) > 235, `overshoot expected: ${values}`);
    });

    it('is mirror-symmetric and within 1.5 of an exact double-precision resampling', () => {
      const src = goldenFrame(5);
      for (const [W, H] of [[100, 77], [300, 512], [256, 31]]) {
        const out = resizeRgbPillowBicubic(src, W, H);
        assert.deepEqual(resizeRgbPillowBicubic(mirrorX(src), W, H).data, mirrorX(out).data);
        const ref = exactBicubic(src, W, H);
        let worst = 0;
        for (let i = 0; i < out.data.length; i++) worst = Math.max(worst, Math.abs(out.data[i] - ref[i]));
        assert.ok(worst <= 1.5, `max |Δ| vs double reference ${worst} for ${W}x${H}`);
      }
    });
  });

  describe('resizeForImagePredictor', () => {
    it('at the same size equals normalizeFrame bit for bit', () => {
      const img = goldenFrame(2);
      const a = resizeForImagePredictor(img, 256);
      const b = normalizeFrame(img);
      assert.deepEqual(bitsOf(a), bitsOf(b));
      tf.dispose([a, b]);
    });

    it('upscaling equals plain half-pixel bilinear (antialias changes nothing when enlarging)', () => {
      const img = image(20, 13, (x, y, c) => (x * 11 + y * 7 + c * 50) % 256);
      const ours = resizeForImagePredictor(img, 32);
      const plain = tf.tidy(() => {
        const x = tf.div(tf.tensor4d(Float32Array.from(img.data), [1, 13, 20, 3]), 255);
        const up = tf.image.resizeBilinear(x as tf.Tensor4D, [32, 32], false, true);
        return tf.div(tf.sub(up, tf.tensor1d([0.485, 0.456, 0.406])), tf.tensor1d([0.229, 0.224, 0.225]));
      });
      assertClose('AA bilinear upscale vs tf bilinear', ours, plain, 1e-5);
      tf.dispose([ours, plain]);
    });

    it('downscaling ×2 is the [1, 3, 3, 1]/8 triangle filter (a ramp x ↦ 2o + 0.5)', () => {
      // ramp value v = x (as u8), so u8/255 = x/255; the interior outputs are (2o + 0.5)/255 before Normalize.
      const img = image(64, 64, (x) => x);
      const out = resizeForImagePredictor(img, 32);
      const data = out.dataSync();
      for (let o = 1; o < 31; o++) {
        const expected = ((2 * o + 0.5) / 255 - 0.485) / 0.229;
        assert.ok(Math.abs(data[(5 * 32 + o) * 3] - expected) < 2e-6, `o=${o}: ${data[(5 * 32 + o) * 3]} vs ${expected}`);
      }
      out.dispose();
    });
  });

  describe('scalePoints', () => {
    it('scales video pixels to the model size in float32 steps', () => {
      assert.deepEqual(scalePoints([[46, 128]], { width: 256, height: 256 }, 256), [[46, 128]]);
      assert.deepEqual(scalePoints([[320, 90]], { width: 640, height: 360 }, 1024), [[512, 256]]);
      const [[x, y]] = scalePoints([[1, 2]], { width: 3, height: 7 }, 1024);
      assert.equal(x, Math.fround(Math.fround(1 / 3) * 1024));
      assert.equal(y, Math.fround(Math.fround(2 / 7) * 1024));
      assert.deepEqual(scalePoints([[0.5, 0.25]], { width: 1, height: 1 }, 1024), [[512, 256]]);
      assert.throws(() => scalePoints([[NaN, 1]], { width: 3, height: 3 }, 8), InputError);
    });
  });

  describe('upsampleLogits / binarize / packbits', () => {
    it('matches the golden video-resolution logits of frame 1 (64 → 256)', () => {
      const low = goldenTensor(GREEDY, 'low_res_logits');
      const expected = goldenTensor(GREEDY, 'video_res_logits_frame1');
      const frame1 = tf.tidy(() => tf.slice(low, [1, 0, 0], [1, 64, 64]));
      const before = tf.memory().numTensors;
      const nhwc = upsampleLogits(tf.reshape(frame1, [1, 64, 64, 1]) as tf.Tensor4D, 256, 256);
      const nchw = upsampleLogits(tf.reshape(frame1, [1, 1, 64, 64]) as tf.Tensor4D, 256, 256);
      assert.equal(tf.memory().numTensors, before + 4, 'two reshapes and two outputs, nothing else kept');
      assert.deepEqual(nhwc.shape, [1, 256, 256, 1]);
      assert.deepEqual(nchw.shape, [1, 1, 256, 256]);
      const e2 = tf.reshape(expected, [1, 256, 256, 1]);
      assertClose('video_res_logits_frame1 (NHWC)', nhwc, e2, 1e-4);
      assertClose('video_res_logits_frame1 (NCHW)', tf.reshape(nchw, [1, 256, 256, 1]), e2, 1e-4);

      const packed = goldenHost(GREEDY, 'video_res_mask_packbits');
      const golden1 = (packed.data as Uint8Array).subarray(256 * 32, 2 * 256 * 32);
      const goldenMask = unpackBits(golden1, 256, 256);
      assert.deepEqual(binarize(expected), goldenMask);
      assert.deepEqual(packBits(goldenMask, 256, 256), golden1);
      const mask = binarize(nhwc);
      let flips = 0;
      for (let i = 0; i < mask.length; i++) if (mask[i] !== goldenMask[i]) flips++;
      console.log(`      binarized frame 1: ${flips} pixels differ from the golden packbits`);
      assert.equal(flips, 0);
      tf.dispose([low, expected, frame1, nhwc, nchw, e2]);
    });

    it('packs MSB first with padded rows, and unpacks back', () => {
      const mask = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* row 2 */ 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
      const packed = packBits(mask, 2, 10);
      assert.deepEqual(Array.from(packed), [0x80, 0x40, 0x01, 0xc0]);
      assert.deepEqual(unpackBits(packed, 2, 10), mask);
      assert.throws(() => unpackBits(packed, 3, 10), ShapeError);
      assert.deepEqual(Array.from(binarize([-1, 0, 1e-7, 3])), [0, 0, 1, 1]);
    });
  });

  describe('fillHoles', () => {
    // 6×6 foreground with a 2×2 hole, a diagonal pair of background pixels, and a 1-pixel border notch.
    const H = 6;
    const W = 6;
    const rows = [
      '######',
      '#..###',
      '#..#.#',
      '####.#',
      '###.##',
      '#####.',
    ];
    const scores = Float32Array.from(rows.join(''), (ch) => (ch === '#' ? 5 : -5));

    it('labels 8-connected components', () => {
      const bg = Uint8Array.from(scores, (s) => (s <= 0 ? 1 : 0));
      const { labels, areas } = connectedComponents(bg, H, W);
      assert.deepEqual(areas, [0, 4, 3, 1]);
      assert.equal(labels[2 * W + 4], labels[4 * W + 3], 'diagonal neighbours join');
    });

    it('fills background regions of area ≤ maxArea with 0.1, including ones on the border', () => {
      const three = fillHolesInScores(scores, H, W, 3);
      const filled = (out: Float32Array) => Array.from(out).map((v, i): number => (v === Math.fround(HOLE_FILL_SCORE) && scores[i] < 0 ? 1 : 0));
      assert.equal(filled(three).reduce((a, b) => a + b), 4, 'the diagonal trio and the corner pixel');
      assert.equal(three[W + 1], -5, 'the 2×2 hole is larger than 3');
      const four = fillHolesInScores(scores, H, W, 4);
      assert.equal(filled(four).reduce((a, b) => a + b), 8);
      assert.throws(() => fillHolesInScores(scores, H, W, 0), InputError);
    });

    it('works on [B, 1, h, w] and [B, h, w, 1] batches without leaking tensors', async () => {
      const batch = new Float32Array(2 * H * W);
      batch.set(scores, 0);
      batch.fill(-1, H * W);
      for (const shape of [[2, 1, H, W], [2, H, W, 1]] as const) {
        const x = tf.tensor4d(batch, shape as unknown as [number, number, number, number]);
        const before = tf.memory().numTensors;
        const y = await fillHoles(x, 4);
        assert.equal(tf.memory().numTensors, before + 1);
        assert.deepEqual(y.shape, x.shape);
        const out = y.dataSync();
        assert.deepEqual(Array.from(out.subarray(0, H * W)), Array.from(fillHolesInScores(scores, H, W, 4)));
        assert.deepEqual(Array.from(out.subarray(H * W)), Array(H * W).fill(-1), 'all background: one big region stays');
        tf.dispose([x, y]);
      }
    });
  });

  describe('toRgbImage', () => {
    it('drops alpha from ImageData-like pixels and passes RGB through', () => {
      const rgba = new Uint8ClampedArray([1, 2, 3, 255, 4, 5, 6, 0]);
      assert.deepEqual(Array.from(toRgbImage({ width: 2, height: 1, data: rgba }).data), [1, 2, 3, 4, 5, 6]);
      const rgb = new Uint8Array([1, 2, 3, 4, 5, 6]);
      assert.equal(toRgbImage({ width: 1, height: 2, data: rgb }).data, rgb);
      assert.throws(() => toRgbImage({ width: 2, height: 2, data: rgb }), InputError);
      assert.throws(() => toRgbImage({ width: 0, height: 2, data: rgb }), InputError);
    });

    it('reads [H, W, 3] integer tensors and rejects others', () => {
      const t = tf.tensor3d([[[0, 128, 255], [1, 2, 3]]], [1, 2, 3], 'int32');
      assert.deepEqual(Array.from(toRgbImage(t).data), [0, 128, 255, 1, 2, 3]);
      const bad = tf.tensor3d([[[0, 0.5, 300]]]);
      assert.throws(() => toRgbImage(bad), InputError);
      const flat = tf.tensor2d([[1, 2, 3]]);
      assert.throws(() => toRgbImage(flat), ShapeError);
      tf.dispose([t, bad, flat]);
    });
  });
});

/**
 * Keys-cubic (a = −0.5) resampling with Pillow's geometry (half-pixel centres, support widened by the
 * downscale factor) in double: no fixed point and no byte rounding, only the clip to 0..255 after each pass.
 */
function exactBicubic(img: RgbImage, W: number, H: number): Float64Array {
  const cubic = (x: number) => {
    const t = Math.abs(x);
    return t < 1 ? (1.5 * t - 2.5) * t * t + 1 : t < 2 ? -0.5 * (((t - 5) * t + 8) * t - 4) : 0;
  };
  const weights = (inSize: number, outSize: number) => Array.from({ length: outSize }, (_, o) => {
    const scale = inSize / outSize;
    const c = (o + 0.5) * scale;
    const taps: [number, number][] = [];
    for (let i = 0; i < inSize; i++) {
      const w = cubic((i + 0.5 - c) / Math.max(scale, 1));
      if (w !== 0) taps.push([i, w]);
    }
    const sum = taps.reduce((s, [, w]) => s + w, 0);
    return taps.map(([i, w]) => [i, w / sum] as [number, number]);
  });
  const clip = (v: number) => Math.min(255, Math.max(0, v));
  const wx = weights(img.width, W);
  const wy = weights(img.height, H);
  const mid = new Float64Array(W * img.height * 3);
  for (let y = 0; y < img.height; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
    mid[(y * W + x) * 3 + c] = clip(wx[x].reduce((s, [i, k]) => s + k * img.data[(y * img.width + i) * 3 + c], 0));
  }
  const out = new Float64Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
    out[(y * W + x) * 3 + c] = clip(wy[y].reduce((s, [i, k]) => s + k * mid[(i * W + x) * 3 + c], 0));
  }
  return out;
}
