/**
 * Decompression bombs and oversized headers against every image decoder: the PNG decoder inflates no more than its
 * header implies, and one pixel limit (raised by setPixelLimit / --max-pixels / SAM2LONG_MAX_PIXELS) stops PNG,
 * JPEG (sharp) and video-frame headers before anything is allocated. The bombs are generated, never committed.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { InputError } from '../src/errors.js';
import { decodeImage } from '../src/node/images.js';
import { NetpbmStreamParser } from '../src/io/netpbm.js';
import { DEFAULT_PIXEL_LIMIT, PIXEL_LIMIT_ENV, pixelLimit, setPixelLimit } from '../src/io/pixel-limit.js';
import { decodePng, encodeMaskPng } from '../src/io/png.js';
import { readLabelPng } from '../src/node/mask-folders.js';
import { frameSource } from '../src/node/frames.js';
import { greyPngWithData, ihdr, pngChunk, pngFile } from './helpers/png-bytes.js';

const REPO = path.resolve(import.meta.dirname, '..');

function refused(re: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${(err as Error)?.stack ?? err}`);
    assert.match((err as Error).message, re);
    return true;
  };
}

describe('decoder limits: PNG bombs and the pixel limit', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-limits-'));
  });
  after(() => {
    setPixelLimit(undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  afterEach(() => setPixelLimit(undefined));

  it('a 256x256 PNG whose image data inflates to 100 MB is refused after inflating at most its 65,792 bytes', () => {
    const bomb = greyPngWithData(256, 256, new Uint8Array(100 * 2 ** 20));
    assert.ok(bomb.length < 200_000, `the bomb is ${bomb.length} bytes`);
    const before = process.memoryUsage().rss;
    const started = process.cpuUsage();
    // Every reader of PNGs: the decoder, the frame reader (frames, `predict` images) and the mask reader (`eval`).
    assert.throws(() => decodePng(bomb, 'bomb.png'), refused(/bomb\.png: PNG image data inflates to more than the 65792 bytes its header implies/));
    const file = path.join(tmp, 'bomb.png');
    fs.writeFileSync(file, bomb);
    assert.throws(() => readLabelPng(file), refused(/inflates to more than/));
    return decodeImage(file).then(() => assert.fail('decoded'), (err) => {
      refused(/inflates to more than/)(err);
      const { user, system } = process.cpuUsage(started);
      assert.ok((user + system) / 1000 < 5000, 'refused after little work');
      assert.ok(process.memoryUsage().rss - before < 100 * 2 ** 20, 'no gigabytes allocated');
    });
  });

  it('too little image data, bytes after the compressed stream and bytes after IEND are format errors', () => {
    const rows = new Uint8Array(8 * 9);
    assert.equal(decodePng(greyPngWithData(8, 8, rows.subarray(0, 72))).width, 8);
    assert.throws(() => decodePng(greyPngWithData(8, 8, rows.subarray(0, 71)), 'short.png'), refused(/short\.png: PNG image data inflates to 71 bytes, its header implies 72/));
    const good = greyPngWithData(8, 8, rows);
    const idat = pngFile([pngChunk('IHDR', ihdr(8, 8)), pngChunk('IDAT', Buffer.concat([
      // the zlib stream of the right data, then stray bytes inside the IDAT chunk
      good.subarray(8 + 25 + 8, good.length - 12 - 4), Buffer.from('stray bytes'),
    ]))]);
    assert.throws(() => decodePng(idat, 'stray.png'), refused(/bytes after the end of its compressed stream/));
    assert.throws(() => decodePng(Buffer.concat([good, Buffer.from('appended')]), 'tail.png'), refused(/tail\.png: 8 byte\(s\) after the PNG's IEND chunk/));
    assert.throws(() => decodePng(pngFile([pngChunk('IHDR', ihdr(8, 8))])), refused(/no image data/));
  });

  it('a 76-byte PNG claiming 200000x200000 is an InputError giving the size, not a RangeError', () => {
    const tiny = pngFile([pngChunk('IHDR', ihdr(200_000, 200_000)), pngChunk('IDAT', Buffer.from([0x78, 0x9c, 3, 0, 0, 0, 0, 1]))]);
    assert.ok(tiny.length < 100);
    assert.throws(() => decodePng(tiny, 'huge.png'), refused(/huge\.png: PNG: 200000x200000 is 40,000,000,000 pixels, above the limit of 100,000,000 \(raise it with --max-pixels/));
  });

  it('one limit on PNG, JPEG (sharp), and video frames, raised by setPixelLimit and per call', async () => {
    const png = encodeMaskPng(new Uint8Array(64 * 48), 64, 48);
    const jpeg = new Uint8Array(await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer());
    setPixelLimit(3000);
    assert.equal(pixelLimit(), 3000);
    await assert.rejects(decodeImage(png, 'a.png'), refused(/a\.png: PNG: 64x48 is 3,072 pixels, above the limit of 3,000/));
    await assert.rejects(decodeImage(jpeg, 'a.jpg'), refused(/a\.jpg: 64x48 is 3,072 pixels, above the limit of 3,000/));
    await assert.rejects(frameSource([jpeg]).frame(0), refused(/frame 0: 64x48 is 3,072 pixels/));
    const parser = new NetpbmStreamParser("video 'v.mp4'");
    assert.throws(() => parser.push(Buffer.from('P6\n64 48\n255\n')), refused(/video 'v\.mp4' frame 0: 64x48 is 3,072 pixels, above the limit/));
    // A per-call limit overrides the process's; the default comes back with setPixelLimit(undefined).
    assert.equal((await decodeImage(jpeg, 'a.jpg', { maxPixels: 3072 })).width, 64);
    setPixelLimit(undefined);
    assert.equal(pixelLimit(), DEFAULT_PIXEL_LIMIT);
    assert.equal((await decodeImage(png)).height, 48);
    assert.equal(new NetpbmStreamParser('v').push(Buffer.concat([Buffer.from('P5 2 1 255\n'), Buffer.from([1, 2])])).length, 1);
    // A header far past the default limit is refused before its frame buffer is allocated.
    assert.throws(() => new NetpbmStreamParser('v').push(Buffer.from('P6 99999 99999 255\n')), refused(/99999x99999/));
  });

  it(`${PIXEL_LIMIT_ENV} sets the limit; --max-pixels on the command line: exit 2 naming the size`, () => {
    const file = path.join(tmp, 'img.png');
    fs.writeFileSync(file, encodeMaskPng(new Uint8Array(40 * 30), 40, 30));
    const probe = `import { pixelLimit } from './src/io/pixel-limit.ts'; console.log(pixelLimit());`;
    const env = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
      cwd: REPO, encoding: 'utf8', env: { ...process.env, [PIXEL_LIMIT_ENV]: '250000000' },
    });
    assert.equal(env.stdout.trim(), '250000000', env.stderr);
    const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'tools/cli.ts', ...args], { cwd: REPO, encoding: 'utf8' });
    const r = cli('predict', '--model', file, '--image', file, '--points', '1,1,1', '--out', path.join(tmp, 'm.png'), '--max-pixels', '1000');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /40x30 is 1,200 pixels, above the limit of 1,000/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const bad = cli('predict', '--model', file, '--image', file, '--points', '1,1,1', '--out', path.join(tmp, 'm.png'), '--max-pixels', 'lots');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--max-pixels: 'lots' is not a positive whole number of pixels/);
  });
});
