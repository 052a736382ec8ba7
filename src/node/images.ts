/**
 * Decoding image files to RGB bytes the way the official predictor sees them: `PIL.Image.open(p).convert("RGB")`.
 * JPEG and other formats go through sharp (libjpeg-turbo, like Pillow's decoder; no EXIF rotation and no ICC
 * transform, as Pillow does neither); PNG goes through our own decoder so that every PNG type gets
 * Pillow's exact mode conversion (see `pngToRgb`).
 */
import * as fs from 'node:fs/promises';
import sharp from 'sharp';
import { InputError } from '../errors.js';
import { decodePng, isPng, pngToRgb } from '../io/png.js';
import { checkPixels, pixelLimit } from '../io/pixel-limit.js';
import type { RgbImage } from '../io/pixels.js';

export type { RgbImage } from '../io/pixels.js';

/** Reads a file for decoding; a missing or unreadable file is an InputError naming it. */
export async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(path));
  } catch (err) {
    throw new InputError(`cannot read image '${path}': ${(err as Error).message}`);
  }
}

/** Pillow's cmyk2rgb: each channel is (255 − K) − C·(255 − K)/255 with Pillow's rounded division by 255. */
function cmykToRgb(cmyk: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - cmyk[4 * i + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[4 * i + c] * nk + 128;
      out[3 * i + c] = Math.max(0, nk - (((t >> 8) + t) >> 8));
    }
  }
  return out;
}

/** Interleaved 8-bit samples with 1–4 channels → RGB (grey replicated, alpha dropped). */
function channelsToRgb(data: Uint8Array, n: number, channels: number): Uint8Array {
  if (channels === 3) return data;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const s = i * channels;
    const grey = channels <= 2;
    out[3 * i] = data[s];
    out[3 * i + 1] = grey ? data[s] : data[s + 1];
    out[3 * i + 2] = grey ? data[s] : data[s + 2];
  }
  return out;
}

async function decodeWithSharp(bytes: Uint8Array, name: string, maxPixels: number): Promise<RgbImage> {
  // sharp enforces the limit while decoding (limitInputPixels), but its message does not give the size: the
  // header is read first, without the limit, to refuse with one that does.
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  if (meta.width !== undefined && meta.height !== undefined) checkPixels(meta.width, meta.height, name, maxPixels);
  const image = sharp(bytes, { ignoreIcc: true, limitInputPixels: maxPixels });
  const cmyk = meta.space === 'cmyk';
  const { data, info } = await (cmyk ? image.toColourspace('cmyk') : image).raw().toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (cmyk && info.channels === 4) return { width: info.width, height: info.height, data: cmykToRgb(pixels, n) };
  if (info.channels < 1 || info.channels > 4) throw new InputError(`${name}: decoded to ${info.channels} channels`);
  return { width: info.width, height: info.height, data: channelsToRgb(pixels, n, info.channels) };
}

export interface DecodeImageOptions {
  /** Refuse images of more pixels (default: the limit in force, see pixel-limit.ts). */
  maxPixels?: number;
}

/**
 * Decodes an encoded image (a file path, or the file's bytes) to RGB: {width, height, data: H·W·3 bytes}.
 * Unreadable or undecodable input, and images above the pixel limit, are InputErrors naming the file (or
 * `name` for bytes).
 */
export async function decodeImage(input: string | Uint8Array, name?: string, options: DecodeImageOptions = {}): Promise<RgbImage> {
  const label = name ?? (typeof input === 'string' ? input : 'image bytes');
  const bytes = typeof input === 'string' ? await readImageFile(input) : input;
  const maxPixels = options.maxPixels ?? pixelLimit();
  if (isPng(bytes)) return pngToRgb(decodePng(bytes, label, { maxPixels }));
  try {
    return await decodeWithSharp(bytes, label, maxPixels);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot decode image '${label}': ${(err as Error).message}`);
  }
}
