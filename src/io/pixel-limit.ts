/**
 * One pixel limit for every image decoder (PNG, JPEG and the other formats sharp reads, video frames): an image
 * whose header claims more pixels is refused before anything is allocated or inflated. A header is a few bytes,
 * so without a limit a tiny file can ask for gigabytes; and images far above the model's 1024 px input only
 * cost memory. The limit is raised with `setPixelLimit`, the CLI's `--max-pixels` or SAM2LONG_MAX_PIXELS.
 */
import { InputError } from '../errors.js';

/** 100 megapixels: above 8K video (33 MP) and nearly every camera; an RGB copy is 300 MB. */
export const DEFAULT_PIXEL_LIMIT = 100_000_000;

/** The environment variable read at start-up. */
export const PIXEL_LIMIT_ENV = 'SAM2LONG_MAX_PIXELS';

/** A pixel count from text: a positive integer (`1e9` and `250000000` both work). */
export function parsePixelLimit(text: string, what: string): number {
  const n = Number(text.trim());
  if (!text.trim() || !Number.isSafeInteger(n) || n <= 0) throw new InputError(`${what}: '${text}' is not a positive whole number of pixels`);
  return n;
}

function fromEnvironment(): number {
  const text = typeof process !== 'undefined' ? process.env?.[PIXEL_LIMIT_ENV] : undefined;
  return text === undefined || text === '' ? DEFAULT_PIXEL_LIMIT : parsePixelLimit(text, PIXEL_LIMIT_ENV);
}

let limit: number | undefined;

/** The limit in force: set by `setPixelLimit`, else SAM2LONG_MAX_PIXELS, else DEFAULT_PIXEL_LIMIT. */
export function pixelLimit(): number {
  limit ??= fromEnvironment();
  return limit;
}

/** Sets the limit for every decoder of this process; `undefined` goes back to the environment / default. */
export function setPixelLimit(pixels: number | undefined): void {
  if (pixels !== undefined && !(Number.isSafeInteger(pixels) && pixels > 0)) throw new InputError(`pixel limit ${pixels} is not a positive integer`);
  limit = pixels;
}

/** Throws an InputError naming the size unless `width`×`height` is within `max` (default: the limit in force). */
export function checkPixels(width: number, height: number, what: string, max = pixelLimit()): void {
  if (width * height <= max) return;
  throw new InputError(`${what}: ${width}x${height} is ${(width * height).toLocaleString('en-US')} pixels, above the limit of ` +
    `${max.toLocaleString('en-US')} (raise it with --max-pixels or ${PIXEL_LIMIT_ENV} if the image is genuine)`);
}
