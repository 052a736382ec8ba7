import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { InputError } from '../src/errors.js';
import { decodeImage } from '../src/node/images.js';
import {
  DAVIS_PALETTE, decodeLabelPng, decodePng, encodeLabelPng, encodeMaskPng, encodePng, encodeRgbPng, pngToRgb, type PngBitDepth, type PngColorType, type PngFilter, type PngImage,
} from '../src/io/png.js';
import { readLabelPng } from '../src/node/mask-folders.js';
import { frameSource, listFrameFiles, type FrameInput, type VideoFrame } from '../src/node/frames.js';
import { fixturePath, goldenHost, goldenJson } from './helpers/golden.js';

const CHANNELS: Record<PngColorType, number> = { grey: 1, rgb: 3, palette: 1, 'grey-alpha': 2, rgba: 4 };

function pseudoRandomSamples(n: number, depth: number, seed: number): Uint8Array | Uint16Array {
  const out = depth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s >>> 8) % 2 ** depth;
  }
  return out;
}

function pngOf(colorType: PngColorType, bitDepth: PngBitDepth, width = 13, height = 7, seed = 1): PngImage {
  const samples = pseudoRandomSamples(width * height * CHANNELS[colorType], bitDepth, seed);
  const palette = colorType === 'palette' ? DAVIS_PALETTE.subarray(0, 3 * 2 ** bitDepth) : undefined;
  return { width, height, colorType, bitDepth, samples, palette };
}

async function sharpRgb(bytes: Uint8Array): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return new Uint8Array(data);
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-images-'));
}

async function collect(source: AsyncIterable<VideoFrame>): Promise<VideoFrame[]> {
  const out: VideoFrame[] = [];
  for await (const f of source) out.push(f);
  return out;
}

const video1Frame = (i: number) => fixturePath(`video1/frames/${String(i).padStart(5, '0')}.jpg`);

describe('images', () => {
  const dirs: string[] = [];
  const scratch = () => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  describe('decodeImage', () => {
    for (const video of ['video1', 'video2']) {
      it(`decodes every ${video} JPEG exactly as the predictor saw it (frames_rgb_u8)`, async () => {
        const t = goldenHost(`${video}/frames.safetensors`, 'frames_rgb_u8');
        const [n, h, w] = t.shape;
        let differing = 0;
        for (let f = 0; f < n; f++) {
          const img = await decodeImage(fixturePath(`${video}/frames/${String(f).padStart(5, '0')}.jpg`));
          assert.equal(img.width, w);
          assert.equal(img.height, h);
          const ref = (t.data as Uint8Array).subarray(f * h * w * 3, (f + 1) * h * w * 3);
          for (let i = 0; i < ref.length; i++) if (img.data[i] !== ref[i]) differing++;
        }
        console.log(`      ${video}: ${differing} of ${n * h * w * 3} bytes differ over ${n} frames`);
        assert.equal(differing, 0);
      });
    }

    it('does not apply EXIF orientation (Pillow does not)', async () => {
      const rgb = pseudoRandomSamples(8 * 4 * 3, 8, 3) as Uint8Array;
      const rotated = await sharp(rgb, { raw: { width: 8, height: 4, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
      const jpeg = await sharp(rgb, { raw: { width: 8, height: 4, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
      for (const bytes of [rotated, jpeg]) {
        const img = await decodeImage(new Uint8Array(bytes));
        assert.deepEqual([img.width, img.height], [8, 4]);
      }
    });

    it('converts grey, grey+alpha, RGBA, palette and 16-bit PNGs like Pillow convert("RGB")', async () => {
      // 8-bit types: libpng (through sharp) expands them the same way.
      for (const [colorType, depth] of [['grey', 8], ['grey', 1], ['grey', 2], ['grey', 4], ['grey-alpha', 8], ['rgba', 8], ['palette', 4], ['palette', 8]] as const) {
        const png = encodePng(pngOf(colorType, depth));
        assert.deepEqual((await decodeImage(png)).data, await sharpRgb(png), `${colorType} ${depth}-bit`);
      }
      // 16-bit RGB(A) and grey+alpha keep the high byte (Pillow's "RGB;16B" / "LA;16B" raw modes).
      const rgb16 = pngOf('rgb', 16);
      const rgbOut = await decodeImage(encodePng(rgb16));
      assert.deepEqual(Array.from(rgbOut.data), Array.from(rgb16.samples, (v) => v >> 8));
      const la16 = pngOf('grey-alpha', 16);
      const laOut = await decodeImage(encodePng(la16));
      assert.equal(laOut.data[3 * 5 + 1], la16.samples[2 * 5] >> 8);
      // 16-bit grey opens as 32-bit "I" in Pillow, and I → RGB clips to 0..255.
      const grey16: PngImage = { width: 4, height: 1, colorType: 'grey', bitDepth: 16, samples: Uint16Array.from([0, 200, 255, 40000]) };
      assert.deepEqual(Array.from((await decodeImage(encodePng(grey16))).data), [0, 0, 0, 200, 200, 200, 255, 255, 255, 255, 255, 255]);
    });

    it('converts grey JPEGs to three equal channels', async () => {
      const grey = pseudoRandomSamples(16 * 16, 8, 5) as Uint8Array;
      const jpeg = await sharp(grey, { raw: { width: 16, height: 16, channels: 1 } }).jpeg().toBuffer();
      const img = await decodeImage(new Uint8Array(jpeg));
      for (let i = 0; i < 256; i++) assert.ok(img.data[3 * i] === img.data[3 * i + 1] && img.data[3 * i] === img.data[3 * i + 2]);
    });

    it('names the file in errors for missing, non-image and truncated input', async () => {
      const dir = scratch();
      const missing = path.join(dir, 'nope.jpg');
      await assert.rejects(decodeImage(missing), (e: Error) => e instanceof InputError && e.message.includes(missing));
      const junk = path.join(dir, 'junk.jpg');
      fs.writeFileSync(junk, 'not an image');
      await assert.rejects(decodeImage(junk), (e: Error) => e instanceof InputError && e.message.includes(junk));
      const cut = path.join(dir, 'cut.jpg');
      fs.writeFileSync(cut, fs.readFileSync(video1Frame(0)).subarray(0, 3000));
      await assert.rejects(decodeImage(cut), (e: Error) => e instanceof InputError && e.message.includes(cut));
      const badPng = encodePng(pngOf('rgb', 8));
      badPng[40] ^= 0xff;
      await assert.rejects(decodeImage(badPng, 'frame.png'), (e: Error) => e instanceof InputError && e.message.includes('frame.png'));
    });
  });

  describe('png', () => {
    it('round-trips every colour type, bit depth and row filter', () => {
      const types: [PngColorType, PngBitDepth[]][] = [
        ['grey', [1, 2, 4, 8, 16]], ['rgb', [8, 16]], ['palette', [1, 2, 4, 8]], ['grey-alpha', [8, 16]], ['rgba', [8, 16]],
      ];
      for (const [colorType, depths] of types) {
        for (const depth of depths) {
          for (const filter of [0, 1, 2, 3, 4] as PngFilter[]) {
            const img = pngOf(colorType, depth, 13, 7, depth * 7 + filter);
            const back = decodePng(encodePng(img, filter));
            assert.deepEqual([back.width, back.height, back.colorType, back.bitDepth], [13, 7, colorType, depth]);
            assert.deepEqual(back.samples, img.samples, `${colorType} ${depth}-bit filter ${filter}`);
          }
        }
      }
    });

    it('decodes libpng output: adaptive filtering, Adam7 interlacing, palettes', async () => {
      const rgb = pseudoRandomSamples(37 * 23 * 3, 8, 9) as Uint8Array;
      for (let i = 0; i < rgb.length; i++) rgb[i] = (rgb[i] & 0x0f) + (i % 97);
      const raw = { raw: { width: 37, height: 23, channels: 3 as const } };
      for (const options of [{ adaptiveFiltering: true }, { progressive: true }, { palette: true, colours: 16, dither: 0 }]) {
        const png = new Uint8Array(await sharp(rgb, raw).png(options).toBuffer());
        assert.deepEqual(pngToRgb(decodePng(png)).data, await sharpRgb(png), JSON.stringify(options));
      }
    });

    it('writes 1-bit and 8-bit masks, RGB overlays and DAVIS palette label maps', async () => {
      const mask = Uint8Array.from({ length: 10 * 3 }, (_, i) => (i % 3 === 0 ? 1 : 0));
      for (const depth of [1, 8] as const) {
        const png = decodePng(encodeMaskPng(mask, 10, 3, depth));
        assert.equal(png.bitDepth, depth);
        assert.deepEqual(Array.from(png.samples), Array.from(mask, (v) => v * (depth === 1 ? 1 : 255)));
      }
      const labels = Uint8Array.from({ length: 6 * 4 }, (_, i) => [0, 1, 2, 255][i % 4]);
      const labelPng = encodeLabelPng(labels, 6, 4);
      assert.deepEqual(decodeLabelPng(labelPng).data, labels);
      assert.deepEqual(Array.from(DAVIS_PALETTE.subarray(0, 12)), [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]);
      const colours = await sharpRgb(labelPng);
      assert.deepEqual(Array.from(colours.subarray(0, 12)), [0, 0, 0, 128, 0, 0, 0, 128, 0, 224, 224, 192]);
      const overlay = pseudoRandomSamples(5 * 4 * 4, 8, 2) as Uint8Array;
      const rgba = decodePng(encodeRgbPng(overlay, 5, 4));
      assert.equal(rgba.colorType, 'rgba');
      assert.deepEqual(rgba.samples, overlay);
    });

    it('reads the golden GT label PNGs to raw indices with the areas the evaluator counted', () => {
      const expected = goldenJson<{ video1: { gt_area: number[] } }>('eval/expected.json');
      const areas: number[] = [];
      for (let f = 0; f < 24; f++) {
        const file = fixturePath(`eval/gt/${String(f).padStart(5, '0')}.png`);
        const { width, height, data } = readLabelPng(file);
        assert.deepEqual([width, height], [256, 256]);
        assert.ok(data.every((v) => v === 0 || v === 1), `${file}: only indices 0 and 1`);
        areas.push(Array.from(data).reduce((n, v) => n + v, 0));
        const png = decodePng(fs.readFileSync(file));
        assert.deepEqual(Array.from(png.palette?.subarray(0, 6) ?? []), [0, 0, 0, 128, 0, 0]);
      }
      assert.deepEqual(areas, expected.video1.gt_area);
    });

    it('reads the multi-label edge suite (ids 1, 2, 3 and 255) as the evaluator did', () => {
      interface Row { video: string; frame: string; objects: { label: number; gt_area: number; pred_area: number }[] }
      const rows = goldenJson<{ edge: { do_not_skip_first_and_last_frame: { per_frame: Row[] } } }>('eval/expected.json')
        .edge.do_not_skip_first_and_last_frame.per_frame.filter((r) => r.video === 'e3_davislike_multi');
      assert.ok(rows.length > 0);
      const seen = new Set<number>();
      for (const row of rows) {
        const gt = readLabelPng(fixturePath(`eval/edge/gt/e3_davislike_multi/${row.frame}`)).data;
        const pred = readLabelPng(fixturePath(`eval/edge/pred/e3_davislike_multi/${row.frame}`)).data;
        gt.forEach((v) => seen.add(v));
        for (const o of row.objects) {
          assert.equal(gt.filter((v) => v === o.label).length, o.gt_area, `${row.frame} gt label ${o.label}`);
          assert.equal(pred.filter((v) => v === o.label).length, o.pred_area, `${row.frame} pred label ${o.label}`);
        }
      }
      assert.ok(seen.has(255), 'the 255 patch is read as 255');
    });

    it('rejects broken PNGs with a clear InputError naming the file', () => {
      const good = encodeLabelPng(new Uint8Array(16), 4, 4);
      const cases: [string, Uint8Array][] = [
        ['signature', Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9])],
        ['ends', good.subarray(0, good.length - 20)],
        ['CRC', Uint8Array.from(good, (b, i) => (i === 20 ? b ^ 1 : b))],
      ];
      for (const [what, bytes] of cases) {
        assert.throws(() => decodePng(bytes, 'x.png'), (e: Error) => e instanceof InputError && e.message.includes('x.png'), what);
      }
      const idat = zlib.deflateSync(Buffer.from([9, 0, 0, 0, 0]));
      const badFilter = encodePng({ width: 4, height: 1, colorType: 'grey', bitDepth: 8, samples: new Uint8Array(4) });
      const start = badFilter.indexOf(0x49, 33); // the 'I' of IDAT
      const patched = spliceIdat(badFilter, start - 4, new Uint8Array(idat));
      assert.throws(() => decodePng(patched, 'f.png'), /row filter 9/);
      assert.throws(() => decodeLabelPng(encodeRgbPng(new Uint8Array(12), 2, 2), 'c.png'), /palette or greyscale/);
      assert.throws(() => readLabelPng('/nonexistent/a.png'), (e: Error) => e instanceof InputError && e.message.includes('/nonexistent/a.png'));
    });
  });

  describe('frames', () => {
    it('lists JPEG/PNG frames sorted by frame number and rejects other names', () => {
      const dir = scratch();
      for (const name of ['10.jpg', '2.JPEG', '1.png', '0003.jpg', 'notes.txt']) fs.writeFileSync(path.join(dir, name), '');
      fs.mkdirSync(path.join(dir, '7.jpg'));
      assert.deepEqual(listFrameFiles(dir).map((p) => path.basename(p)), ['1.png', '2.JPEG', '0003.jpg', '10.jpg']);
      fs.writeFileSync(path.join(dir, 'frame_a.jpg'), '');
      assert.throws(() => listFrameFiles(dir), (e: Error) => e instanceof InputError && e.message.includes('frame_a.jpg'));
      fs.rmSync(path.join(dir, 'frame_a.jpg'));
      fs.writeFileSync(path.join(dir, '01.png'), '');
      assert.throws(() => listFrameFiles(dir), /same number 1/);
      assert.throws(() => listFrameFiles(scratch()), /no frames/);
      assert.throws(() => listFrameFiles('/nonexistent/dir'), InputError);
    });

    it('streams a directory lazily and names the unreadable or mis-sized frame', async () => {
      const dir = scratch();
      for (let i = 0; i < 4; i++) fs.copyFileSync(video1Frame(i), path.join(dir, `${String(i).padStart(5, '0')}.jpg`));
      const source = frameSource(dir);
      assert.equal(source.count, 4);
      assert.equal(source.name(1), '00001');
      const frames = await collect(source);
      assert.deepEqual(frames.map((f) => f.name), ['00000', '00001', '00002', '00003']);
      assert.deepEqual(frames[2].image.data, (await decodeImage(video1Frame(2))).data);
      assert.equal((await source.frame(3)).name, '00003');
      await assert.rejects(source.frame(4), InputError);

      const broken = path.join(dir, '00002.jpg');
      fs.writeFileSync(broken, 'garbage');
      const lazy = frameSource(dir);
      const got: string[] = [];
      await assert.rejects(async () => {
        for await (const f of lazy) got.push(f.name);
      }, (e: Error) => e instanceof InputError && e.message.includes(broken));
      assert.deepEqual(got, ['00000', '00001'], 'frames before the broken one were decoded one by one');

      const small = await sharp(fs.readFileSync(video1Frame(2))).resize(128, 128).jpeg().toBuffer();
      fs.writeFileSync(broken, small);
      await assert.rejects(frameSource(dir).frame(2), (e: Error) => e instanceof InputError && e.message.includes(broken) && e.message.includes('128x128'));
    });

    it('takes arrays of paths, bytes and pixels', async () => {
      const first = await decodeImage(video1Frame(0));
      const inputs: FrameInput[] = [video1Frame(0), new Uint8Array(fs.readFileSync(video1Frame(1))), first];
      const frames = await collect(frameSource(inputs));
      assert.deepEqual(frames.map((f) => f.name), ['00000', '00001', '00002']);
      assert.deepEqual(frames[2].image.data, first.data);
      const wrong: FrameInput[] = [first, { width: 2, height: 2, data: new Uint8Array(16) }];
      await assert.rejects(collect(frameSource(wrong)), /frame 1 is 2x2, but the first frame is 256x256/);
      assert.throws(() => frameSource([]), InputError);
    });

    it('pulls an async stream one frame at a time, once', async () => {
      let pulled = 0;
      async function* stream(): AsyncGenerator<FrameInput> {
        for (let i = 0; i < 3; i++) {
          pulled++;
          yield video1Frame(i);
        }
      }
      const source = frameSource(stream());
      assert.equal(source.count, undefined);
      const it = source[Symbol.asyncIterator]();
      assert.equal((await it.next()).value?.index, 0);
      assert.equal(pulled, 1, 'only the frame asked for was read');
      assert.equal(source.name(0), '00000');
      assert.throws(() => source.name(1), /not been read/);
      await assert.rejects(source.frame(0), /no random access/);
      while (!(await it.next()).done);
      assert.equal(source.count, 3);
      await assert.rejects(collect(source), /only once/);
    });
  });
});

/** Replaces the IDAT chunk starting at `at` (its length field) with one holding `data`, with a valid CRC. */
function spliceIdat(png: Uint8Array, at: number, data: Uint8Array): Uint8Array {
  const oldLength = new DataView(png.buffer, png.byteOffset).getUint32(at);
  const chunk = new Uint8Array(12 + data.length);
  const dv = new DataView(chunk.buffer);
  dv.setUint32(0, data.length);
  chunk.set([0x49, 0x44, 0x41, 0x54], 4);
  chunk.set(data, 8);
  dv.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  const out = new Uint8Array(png.length - (12 + oldLength) + chunk.length);
  out.set(png.subarray(0, at));
  out.set(chunk, at);
  out.set(png.subarray(at + 12 + oldLength), at + chunk.length);
  return out;
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
