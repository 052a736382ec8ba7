/**
 * Seeded fuzzing of every image reader, as test/fuzz.test.ts does for checkpoints: mutated and truncated PNGs
 * through the PNG decoder and the mask reader (`eval`'s label PNGs), PNG and JPEG bytes through the frame reader
 * (`segment` frames, `predict` images), and PGM/PPM streams through the video-frame parser. Every case decodes or
 * is refused with an InputError; none may take long or take memory beyond a ceiling.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { InputError } from '../src/errors.js';
import { frameSource } from '../src/node/frames.js';
import { NetpbmStreamParser } from '../src/io/netpbm.js';
import { DAVIS_PALETTE, decodePng, encodePng, encodeRgbPng } from '../src/io/png.js';
import { readLabelPng } from '../src/node/mask-folders.js';
import { fixCrcs, pngChunks } from './helpers/png-bytes.js';
import { seededRandom } from './helpers/random.js';

const CASES = 2000;
/** Peak RSS above the baseline: a case that allocates for a claimed size instead of the real data breaks it. */
const MEMORY_CEILING = 256 * 2 ** 20;
/** CPU time (not wall time: the machine may be loaded) a case may take before it counts as runaway. */
const SLOW_CPU_MS = 2000;

/**
 * A mutated copy of a PNG: truncated, bytes changed anywhere (mostly caught by CRCs), or bytes changed inside one
 * chunk's body with the CRCs fixed so that the change reaches the header, palette and image-data parsing; or a
 * header size set to a random (often huge) value; or data appended.
 */
function mutatePng(base: Uint8Array, rand: () => number): { bytes: Uint8Array; what: string } {
  const int = (n: number) => Math.floor(rand() * n);
  const kind = rand();
  if (kind < 0.1) {
    const length = int(base.length);
    return { bytes: base.slice(0, length), what: `truncated to ${length}` };
  }
  if (kind < 0.15) {
    const extra = Uint8Array.from({ length: 1 + int(64) }, () => int(256));
    return { bytes: Uint8Array.from([...base, ...extra]), what: `${extra.length} bytes appended` };
  }
  const bytes = base.slice();
  const chunks = pngChunks(bytes);
  if (kind < 0.3) {
    const dv = new DataView(bytes.buffer);
    const bits = 1 + int(31);
    const [w, h] = [int(2 ** bits), int(2 ** (1 + int(31)))];
    dv.setUint32(16, w);
    dv.setUint32(20, h);
    fixCrcs(bytes);
    return { bytes, what: `header size ${w}x${h}` };
  }
  const changes = 1 + int(6);
  const chunk = chunks[int(chunks.length)];
  const fix = kind >= 0.45;
  for (let i = 0; i < changes; i++) {
    const [start, end] = fix && chunk.end > chunk.start ? [chunk.start, chunk.end] : [0, bytes.length];
    const at = start + int(end - start);
    bytes[at] = rand() < 0.5 ? int(256) : bytes[at] ^ (1 << int(8));
  }
  if (fix) fixCrcs(bytes);
  return { bytes, what: `${changes} byte(s) changed ${fix ? `in ${chunk.type}, CRCs fixed` : 'anywhere'}` };
}

function mutateAny(base: Uint8Array, rand: () => number): { bytes: Uint8Array; what: string } {
  const int = (n: number) => Math.floor(rand() * n);
  if (rand() < 0.2) {
    const length = int(base.length);
    return { bytes: base.slice(0, length), what: `truncated to ${length}` };
  }
  const bytes = base.slice();
  const changes = 1 + int(8);
  // Headers are where sizes live: half the changes go to the first 64 bytes.
  for (let i = 0; i < changes; i++) {
    const at = rand() < 0.5 ? int(Math.min(64, bytes.length)) : int(bytes.length);
    bytes[at] = rand() < 0.5 ? int(256) : bytes[at] ^ (1 << int(8));
  }
  return { bytes, what: `${changes} byte(s) changed` };
}

/** Runs every case, checking each outcome, its time and the process's peak memory; returns the tally of outcomes. */
async function fuzz(cases: number, run: (i: number) => Promise<{ what: string; result: () => unknown }>): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  for (let i = 0; i < cases; i++) {
    const started = process.cpuUsage();
    const { what, result } = await run(i);
    let outcome: string;
    try {
      await result();
      outcome = 'decoded';
    } catch (err) {
      if (!(err instanceof InputError)) throw new Error(`case ${i} (${what}) escaped as ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack ?? err}`);
      outcome = 'InputError';
    }
    tally[outcome] = (tally[outcome] ?? 0) + 1;
    const { user, system } = process.cpuUsage(started);
    assert.ok((user + system) / 1000 < SLOW_CPU_MS, `case ${i} (${what}) took ${((user + system) / 1000).toFixed(0)} ms of CPU`);
    if (i % 50 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  assert.ok(peak - baseline < MEMORY_CEILING, `peak RSS grew by ${((peak - baseline) / 2 ** 20).toFixed(0)} MB`);
  return tally;
}

describe('fuzzing the image readers', () => {
  let tmp: string;
  let pngs: Uint8Array[];
  let jpeg: Uint8Array;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-fuzz-img-'));
    const [w, h] = [23, 17];
    const labels = Uint8Array.from({ length: w * h }, (_, i) => (i * 7) % 5);
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 31) % 256);
    const grey16 = Uint16Array.from({ length: w * h }, (_, i) => (i * 2039) % 65536);
    pngs = [
      encodePng({ width: w, height: h, colorType: 'palette', bitDepth: 8, samples: labels, palette: DAVIS_PALETTE.subarray(0, 15) }),
      encodePng({ width: w, height: h, colorType: 'grey', bitDepth: 16, samples: grey16 }, 4),
      encodeRgbPng(rgb, w, h),
      // Adam7-interlaced, as sharp writes a progressive PNG.
      new Uint8Array(await sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } }).png({ progressive: true }).toBuffer()),
    ];
    assert.ok(pngs.every((p) => decodePng(p).width === w));
    jpeg = new Uint8Array(await sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels: 3 } }).jpeg().toBuffer());
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it(`${CASES} mutated PNGs through the PNG decoder and the mask reader: each decodes or is an InputError`, async () => {
    const file = path.join(tmp, 'mask.png');
    const tally = await fuzz(CASES, async (i) => {
      const rand = seededRandom(i);
      const { bytes, what } = mutatePng(pngs[i % pngs.length], rand);
      return {
        what,
        result: () => {
          const ok = (() => {
            try {
              return decodePng(bytes, `case ${i}`);
            } catch (err) {
              return err as Error;
            }
          })();
          fs.writeFileSync(file, bytes);
          // The mask reader agrees with the decoder (it adds only the label-PNG colour type check).
          if (ok instanceof Error) assert.throws(() => readLabelPng(file), (e) => e instanceof InputError);
          if (ok instanceof Error) throw ok;
          if (ok.colorType === 'palette' || ok.colorType === 'grey') readLabelPng(file);
        },
      };
    });
    console.log(`      PNG: ${JSON.stringify(tally)}`);
    assert.ok(tally.decoded > 0 && tally.InputError > 0);
  });

  it(`${CASES} mutated PNGs and JPEGs through the frame reader: each decodes or is an InputError`, async () => {
    const tally = await fuzz(CASES, async (i) => {
      const rand = seededRandom(1_000_000 + i);
      const { bytes, what } = i % 2 ? mutatePng(pngs[(i >> 1) % pngs.length], rand) : mutateAny(jpeg, rand);
      return { what, result: () => frameSource([bytes]).frame(0) };
    });
    console.log(`      frames: ${JSON.stringify(tally)}`);
    assert.ok(tally.decoded > 0 && tally.InputError > 0);
  });

  it(`${CASES} mutated PGM/PPM streams through the video-frame parser: each parses or is an InputError`, async () => {
    const frame = (magic: string, w: number, h: number, c: number) => Uint8Array.from([
      ...new TextEncoder().encode(`${magic}\n# a comment\n${w} ${h}\n255\n`), ...Array.from({ length: w * h * c }, (_, k) => k % 256),
    ]);
    const stream = Uint8Array.from([...frame('P6', 7, 5, 3), ...frame('P5', 9, 4, 1), ...frame('P6', 7, 5, 3)]);
    const tally = await fuzz(CASES, async (i) => {
      const rand = seededRandom(2_000_000 + i);
      const { bytes, what } = mutateAny(stream, rand);
      return {
        what,
        result: () => {
          const parser = new NetpbmStreamParser(`case ${i}`);
          // In chunks cut anywhere, as a pipe delivers them.
          for (let pos = 0; pos < bytes.length;) {
            const n = 1 + Math.floor(rand() * 40);
            parser.push(bytes.subarray(pos, pos + n));
            pos += n;
          }
          parser.end();
        },
      };
    });
    console.log(`      PGM/PPM: ${JSON.stringify(tally)}`);
    assert.ok(tally.decoded > 0 && tally.InputError > 0);
  });
});
