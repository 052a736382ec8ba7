/**
 * Argument parsing and validation shared by the CLI commands. A malformed option is a UsageError, a missing file an
 * InputError (both exit code 2), each naming the option and the value that is wrong.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_PIXEL_LIMIT, InputError, PIXEL_LIMIT_ENV, UsageError, outputError, setPixelLimit } from '../src/index.js';
import { parsePixelLimit } from '../src/io/pixel-limit.js';

/** The `--max-pixels` option of every command that decodes images, and its help line. */
export const MAX_PIXELS_OPTION = { 'max-pixels': { type: 'string' } } as const;
export const MAX_PIXELS_HELP =
  `  --max-pixels <n>  refuse images and video frames of more than n pixels (default ${DEFAULT_PIXEL_LIMIT.toLocaleString('en-US')},
                    or ${PIXEL_LIMIT_ENV}): a guard against decompression bombs; raise it for genuine huge images`;

/** Applies `--max-pixels` to every decoder of this process (without it: SAM2LONG_MAX_PIXELS, else the default). */
export function applyPixelLimit(value: string | undefined): void {
  setPixelLimit(value === undefined ? undefined : parsePixelLimit(value, '--max-pixels'));
}

/**
 * node:util `parseArgs`; an unknown option or a missing value is a UsageError.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The value of a required option, or a UsageError naming it. */
export function required<V>(value: V | undefined, option: string): V {
  if (value === undefined) throw new UsageError(`${option} is required`);
  return value;
}

const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** A finite decimal number ('' and 'abc' are errors, unlike `Number()`). */
export function parseNumber(text: string, what: string): number {
  const t = text.trim();
  if (!DECIMAL.test(t)) throw new UsageError(`${what}: '${text}' is not a number`);
  return Number(t);
}

/** An integer in [min, max]. */
export function parseInteger(text: string, what: string, min = -Infinity, max = Infinity): number {
  const n = parseNumber(text, what);
  if (!Number.isInteger(n)) throw new UsageError(`${what}: '${text}' is not an integer`);
  if (n < min || n > max) {
    const range = max === Infinity ? `≥ ${min}` : `${min}..${max}`;
    throw new UsageError(`${what}: ${n} is out of range (${range})`);
  }
  return n;
}

export interface PointPrompt {
  /** (x, y) in image pixels. */
  points: [number, number][];
  /** 1 = on the object, 0 = background. */
  labels: number[];
}

/** `"x,y,label;x,y,label"`: clicks in pixels, label 1 (object) or 0 (background). */
export function parsePoints(text: string, option = '--points'): PointPrompt {
  const items = text.split(';').map((s) => s.trim());
  if (items.length === 1 && items[0] === '') throw new UsageError(`${option}: no points given; expected "x,y,label;x,y,label..."`);
  const points: [number, number][] = [];
  const labels: number[] = [];
  items.forEach((item, i) => {
    const what = `${option} point ${i + 1} '${item}'`;
    const fields = item.split(',');
    if (fields.length !== 3) {
      throw new UsageError(`${what}: expected x,y,label (label 1 = object, 0 = background), e.g. "46,128,1"`);
    }
    const [x, y] = [parseNumber(fields[0], `${what}: x`), parseNumber(fields[1], `${what}: y`)];
    const label = fields[2].trim();
    if (label !== '0' && label !== '1') throw new UsageError(`${what}: label '${label}' must be 1 (object) or 0 (background)`);
    points.push([x, y]);
    labels.push(Number(label));
  });
  return { points, labels };
}

/** `"x0,y0,x1,y1"`: a box in pixels, top-left then bottom-right corner. */
export function parseBox(text: string, option = '--box'): [number, number, number, number] {
  const fields = text.split(',');
  if (fields.length !== 4) throw new UsageError(`${option} '${text}': expected x0,y0,x1,y1 (top-left and bottom-right corners)`);
  const [x0, y0, x1, y1] = fields.map((f, i) => parseNumber(f, `${option} '${text}': ${['x0', 'y0', 'x1', 'y1'][i]}`));
  if (!(x1 > x0 && y1 > y0)) throw new UsageError(`${option} '${text}': the box needs x1 > x0 and y1 > y0`);
  return [x0, y0, x1, y1];
}

/** Throws an InputError unless `file` is an existing file. */
export function requireFile(file: string, what: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new InputError(`${what} '${file}' does not exist`);
  }
  if (!stat.isFile()) throw new InputError(`${what} '${file}' is not a file`);
}

/**
 * Writes `bytes` to `<file>.partial`, then renames it: a file under its final name is always complete.
 * Creates the file's directory when it is missing.
 */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const partial = `${file}.partial`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(partial, bytes);
    fs.renameSync(partial, file);
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw outputError(file, err);
  }
}
