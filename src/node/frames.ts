/**
 * Video frames in: a directory of numbered JPEG/PNG files, an array of files / encoded bytes / pixels, or an
 * async stream of those. Frames are decoded one at a time when asked for, never all up front.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { decodeImage } from './images.js';
import { readRgbImage, type RgbImage } from '../io/pixels.js';
import type { FrameInput, FrameSource, VideoFrame } from '../io/frame-source.js';

export type { FrameInput, FrameSource, VideoFrame } from '../io/frame-source.js';

/** Extensions taken as frames, compared case-insensitively (the official loader takes .jpg/.jpeg only). */
export const FRAME_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const;

function frameNumber(file: string): number | undefined {
  const stem = path.parse(file).name;
  return /^\d+$/.test(stem) ? Number(stem) : undefined;
}

/**
 * The JPEG/PNG frame files of `dir`, sorted by the integer value of their names as the official loader
 * does (`int(os.path.splitext(p)[0])`). A frame file whose name is not a number, two files with the same
 * number, or no frame at all is an InputError.
 */
export function listFrameFiles(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`cannot list frames in '${dir}': ${(err as Error).message}`);
  }
  const files = entries
    .filter((e) => !e.isDirectory() && (FRAME_EXTENSIONS as readonly string[]).includes(path.extname(e.name).toLowerCase()))
    .map((e) => e.name);
  if (!files.length) throw new InputError(`no frames (${FRAME_EXTENSIONS.join(', ')}) in '${dir}'`);
  const byNumber = new Map<number, string>();
  for (const file of files) {
    const n = frameNumber(file);
    if (n === undefined) {
      throw new InputError(`frame file '${path.join(dir, file)}' is not named by its frame number (like 00000.jpg)`);
    }
    const other = byNumber.get(n);
    if (other !== undefined) throw new InputError(`frames '${other}' and '${file}' in '${dir}' have the same number ${n}`);
    byNumber.set(n, file);
  }
  return [...byNumber].sort((a, b) => a[0] - b[0]).map(([, file]) => path.join(dir, file));
}

function frameName(input: FrameInput, index: number): string {
  return typeof input === 'string' ? path.parse(input).name : String(index).padStart(5, '0');
}

function frameLabel(input: FrameInput, index: number): string {
  return typeof input === 'string' ? `frame ${index} ('${input}')` : `frame ${index}`;
}

async function decodeFrame(input: FrameInput, label: string): Promise<RgbImage> {
  if (typeof input === 'string' || input instanceof Uint8Array) return decodeImage(input, label);
  return readRgbImage(input, label);
}

/** Holds the first frame's size and rejects frames of another size. */
class SizeCheck {
  private first: { width: number; height: number } | undefined;

  check(image: RgbImage, label: string): void {
    if (!this.first) {
      this.first = { width: image.width, height: image.height };
    } else if (image.width !== this.first.width || image.height !== this.first.height) {
      throw new InputError(`${label} is ${image.width}x${image.height}, but the first frame is ${this.first.width}x${this.first.height}`);
    }
  }

  get known(): boolean {
    return this.first !== undefined;
  }
}

class ListFrameSource implements FrameSource {
  private readonly sizes = new SizeCheck();
  constructor(private readonly inputs: readonly FrameInput[]) {}

  get count(): number {
    return this.inputs.length;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.inputs.length) {
      throw new InputError(`frame index ${index} is out of range (${this.inputs.length} frames)`);
    }
  }

  name(index: number): string {
    this.checkIndex(index);
    return frameName(this.inputs[index], index);
  }

  async frame(index: number): Promise<VideoFrame> {
    this.checkIndex(index);
    if (index > 0 && !this.sizes.known) await this.frame(0);
    const input = this.inputs[index];
    const label = frameLabel(input, index);
    const image = await decodeFrame(input, label);
    this.sizes.check(image, label);
    return { index, name: frameName(input, index), image };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<VideoFrame> {
    for (let i = 0; i < this.inputs.length; i++) yield await this.frame(i);
  }
}

class StreamFrameSource implements FrameSource {
  private readonly sizes = new SizeCheck();
  private started = false;
  private ended = false;
  private readonly names: string[] = [];
  constructor(private readonly stream: AsyncIterable<FrameInput>) {}

  get count(): number | undefined {
    return this.ended ? this.names.length : undefined;
  }

  name(index: number): string {
    const name = this.names[index];
    if (name === undefined) throw new InputError(`frame ${index} of the stream has not been read`);
    return name;
  }

  frame(index: number): Promise<VideoFrame> {
    return Promise.reject(new InputError(`frame ${index}: a streamed video has no random access; iterate it in order`));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<VideoFrame> {
    if (this.started) throw new InputError('a streamed video can be read only once');
    this.started = true;
    let index = 0;
    for await (const input of this.stream) {
      const label = frameLabel(input, index);
      const image = await decodeFrame(input, label);
      this.sizes.check(image, label);
      this.names.push(frameName(input, index));
      yield { index, name: this.names[index], image };
      index++;
    }
    this.ended = true;
  }
}

/**
 * Frames from a directory (see `listFrameFiles`), an array of frame inputs, or an async iterable of them.
 * Each frame is decoded when it is reached; unreadable frames and frames whose size differs from the first
 * are InputErrors naming the frame.
 */
export function frameSource(input: string | readonly FrameInput[] | AsyncIterable<FrameInput>): FrameSource {
  if (typeof input === 'string') return new ListFrameSource(listFrameFiles(input));
  if (Array.isArray(input)) {
    if (!input.length) throw new InputError('no frames given');
    return new ListFrameSource(input);
  }
  if (Symbol.asyncIterator in (input as object)) return new StreamFrameSource(input as AsyncIterable<FrameInput>);
  throw new InputError('frames must be a directory path, an array or an async iterable');
}
