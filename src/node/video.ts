/**
 * Video files through the system ffmpeg (Node only). Reading streams the decoded frames through a pipe one at a
 * time (8-bit PPM/PGM frames, each with its own size), so no video is ever extracted to disk or held in memory
 * whole; writing pipes raw frames into an encoder: a lossless FFV1/Matroska mask video or an H.264 preview.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ExternalToolError, InputError } from '../errors.js';
import { makeDirectory } from './files.js';
import { NetpbmStreamParser, type NetpbmFrame } from '../io/netpbm.js';

/** Extensions read as video files (compared case-insensitively); ffmpeg decides whether it can decode them. */
export const VIDEO_EXTENSIONS = ['.mp4', '.mov', '.webm', '.mkv', '.avi', '.m4v'] as const;

export const FFMPEG_INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: `apt-get install ffmpeg`, macOS: `brew install ffmpeg`) or set SAM2LONG_FFMPEG to the ffmpeg program';

/** Only the last part of ffmpeg's messages is kept for an error: the cause is at the end. */
const STDERR_TAIL_CHARS = 2000;

export function isVideoFile(file: string): boolean {
  return (VIDEO_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());
}

/** The ffmpeg program: SAM2LONG_FFMPEG, else `ffmpeg` on the PATH. */
export function ffmpegCommand(): string {
  return process.env.SAM2LONG_FFMPEG || 'ffmpeg';
}

/** ffprobe beside the ffmpeg in use. */
function ffprobeCommand(): string {
  const ffmpeg = ffmpegCommand();
  return ffmpeg.includes(path.sep) ? path.join(path.dirname(ffmpeg), 'ffprobe') : 'ffprobe';
}

function missingFfmpeg(err: Error): ExternalToolError {
  const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
  return new ExternalToolError(missing
    ? `video files need ffmpeg, which was not found ('${ffmpegCommand()}'): ${FFMPEG_INSTALL_HINT}`
    : `cannot run ffmpeg ('${ffmpegCommand()}'): ${err.message}`);
}

/** Throws an ExternalToolError saying how to install ffmpeg unless it runs; returns its version line. */
export function requireFfmpeg(): string {
  const r = spawnSync(ffmpegCommand(), ['-hide_banner', '-version'], { encoding: 'utf8' });
  if (r.error) throw missingFfmpeg(r.error);
  if (r.status !== 0) throw new ExternalToolError(`'${ffmpegCommand()} -version' failed: ${r.stderr.trim()}`);
  return r.stdout.split('\n')[0];
}

/** The last non-empty line of ffmpeg's messages (its conclusion), shortened. */
function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? '').slice(0, 300);
}

export interface VideoInfo {
  /** Frames per second (the stream's average rate), when the container says. */
  fps?: number;
  /** Number of frames, when the container stores it (MP4 and MOV do, Matroska and WebM usually not). */
  frames?: number;
}

function rational(text: unknown): number | undefined {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(String(text));
  const v = m ? Number(m[1]) / Number(m[2] ?? 1) : NaN;
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** Frame rate and count of the first video stream from ffprobe; {} when ffprobe is missing or says nothing. */
export function probeVideo(file: string): VideoInfo {
  const r = spawnSync(ffprobeCommand(), ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=avg_frame_rate,r_frame_rate,nb_frames', '-of', 'json', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return {};
  try {
    const stream = JSON.parse(r.stdout).streams?.[0] ?? {};
    const frames = Number(stream.nb_frames);
    return { fps: rational(stream.avg_frame_rate) ?? rational(stream.r_frame_rate), frames: Number.isInteger(frames) && frames > 0 ? frames : undefined };
  } catch {
    return {};
  }
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** A running ffmpeg: its exit (rejects with an ExternalToolError when it cannot start) and a way to stop it. */
class FfmpegProcess {
  readonly child: ChildProcess;
  readonly exit: Promise<Exit>;

  constructor(args: string[], stdin: 'pipe' | 'ignore') {
    this.child = spawn(ffmpegCommand(), ['-hide_banner', '-loglevel', 'error', ...args], { stdio: [stdin, 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-STDERR_TAIL_CHARS);
    });
    // A write into a pipe ffmpeg has closed fails here; its exit status says why.
    this.child.stdin?.on('error', () => undefined);
    this.exit = new Promise<Exit>((resolve, reject) => {
      this.child.once('error', (err) => reject(missingFfmpeg(err)));
      this.child.once('close', (code, signal) => resolve({ code, signal, stderr: stderr.trim() }));
    });
    this.exit.catch(() => undefined);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills it (its output is not wanted any more). */
  stop(): void {
    this.child.stdout?.destroy();
    if (this.running) this.child.kill('SIGKILL');
  }
}

export interface VideoReadOptions {
  /** Decode to 8-bit grey (1 channel, e.g. a mask video) instead of RGB. */
  grey?: boolean;
}

/**
 * The frames of a video file, decoded by ffmpeg as they are read: `{ width, height, channels, data }`, RGB
 * (3 channels) or grey. Each iteration runs a new ffmpeg from the first frame; a frame is only read from the
 * pipe when the consumer asks for it, so ffmpeg waits while tracking runs. `close()` stops every ffmpeg this
 * reader started (a consumer that stops early without ending its loop leaves one waiting).
 */
export class VideoReader implements AsyncIterable<NetpbmFrame> {
  private readonly running = new Set<FfmpegProcess>();

  constructor(readonly file: string, private readonly opts: VideoReadOptions = {}) {}

  async *[Symbol.asyncIterator](): AsyncIterator<NetpbmFrame> {
    if (!fs.existsSync(this.file)) throw new InputError(`video file '${this.file}' does not exist`);
    const [codec, pixFmt] = this.opts.grey ? ['pgm', 'gray'] : ['ppm', 'rgb24'];
    // passthrough: every decoded frame exactly once (no duplicates or drops to reach a constant rate).
    const proc = new FfmpegProcess(['-nostdin', '-i', this.file, '-map', '0:v:0', '-vsync', 'passthrough',
      '-f', 'image2pipe', '-c:v', codec, '-pix_fmt', pixFmt, '-'], 'ignore');
    this.running.add(proc);
    const parser = new NetpbmStreamParser(`video '${this.file}'`);
    // The container's frame count (MP4 and MOV store one): fewer decoded frames means a truncated file.
    const listed = probeVideo(this.file).frames;
    try {
      for await (const chunk of proc.child.stdout as Readable) yield* parser.push(chunk as Buffer);
      const exit = await proc.exit;
      const read = `${parser.count}${listed ? ` of the ${listed}` : ''} frame(s) were read`;
      if (exit.code !== 0) {
        throw new InputError(`cannot decode video '${this.file}': ${lastLine(exit.stderr) || `ffmpeg exited with ${exit.code ?? exit.signal}`} (${read})`);
      }
      parser.end();
      if (!parser.count) throw new InputError(`video '${this.file}' has no video frames`);
      // ffmpeg reports a damaged or cut file (missing data, undecodable packets) on stderr and still exits 0.
      if (exit.stderr) throw new InputError(`video '${this.file}' is damaged or truncated: ffmpeg reported errors, ${read}: ${lastLine(exit.stderr)}`);
      if (listed !== undefined && parser.count < listed) {
        throw new InputError(`video '${this.file}' is truncated: ${parser.count} of the ${listed} frames its container lists were decoded`);
      }
    } finally {
      proc.stop();
      this.running.delete(proc);
    }
  }

  close(): void {
    for (const proc of this.running) proc.stop();
    this.running.clear();
  }
}

/** A video file's frames, decoded frame by frame (see VideoReader). */
export function readVideo(file: string, opts: VideoReadOptions = {}): VideoReader {
  return new VideoReader(file, opts);
}

export interface VideoWriteOptions {
  width: number;
  height: number;
  fps: number;
  /** The frames given to `write`: 8-bit RGB or grey, rows top to bottom. */
  input: 'rgb24' | 'gray';
  /** ffmpeg's output options: codec and its settings. */
  encode: readonly string[];
  /** ffmpeg's container name (`matroska`, `mp4`). */
  container: string;
}

/**
 * Encodes frames into a video file with ffmpeg. The file is written as `<file>.partial` and renamed when
 * `close()` succeeds, so a file under its final name is always complete.
 */
export class VideoWriter {
  private readonly proc: FfmpegProcess;
  private readonly partial: string;
  private readonly frameBytes: number;
  written = 0;

  constructor(readonly file: string, readonly opts: VideoWriteOptions) {
    const { width, height, fps, input } = opts;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new InputError(`video size ${width}x${height} is not a positive integer size`);
    if (!(fps > 0 && Number.isFinite(fps))) throw new InputError(`frame rate ${fps} must be a positive number`);
    this.frameBytes = width * height * (input === 'gray' ? 1 : 3);
    this.partial = `${file}.partial`;
    makeDirectory(path.dirname(path.resolve(file)));
    this.proc = new FfmpegProcess(['-f', 'rawvideo', '-pix_fmt', input, '-s', `${width}x${height}`, '-r', String(fps), '-i', '-',
      ...opts.encode, '-f', opts.container, '-y', this.partial], 'pipe');
  }

  private failure(exit: Exit | Error): Error {
    if (exit instanceof Error) return exit;
    return new ExternalToolError(`ffmpeg could not write '${this.file}': ${exit.stderr || `it exited with ${exit.code ?? exit.signal}`}`);
  }

  /** Appends one frame (width × height × 1 or 3 bytes); waits while ffmpeg's pipe is full. */
  async write(frame: Uint8Array): Promise<void> {
    if (frame.length !== this.frameBytes) {
      throw new InputError(`frame ${this.written} of '${this.file}' has ${frame.length} bytes, expected ${this.frameBytes} (${this.opts.width}x${this.opts.height} ${this.opts.input})`);
    }
    const stdin = this.proc.child.stdin as Writable;
    this.written++;
    if (stdin.write(frame)) return;
    const exited = this.proc.exit.then((e) => e, (err: Error) => err);
    const drained = once(stdin, 'drain').then(() => null, () => null);
    const outcome = await Promise.race([drained, exited]);
    if (outcome) throw this.failure(outcome);
  }

  /** Ends the stream, waits for ffmpeg, and gives the file its final name. */
  async close(): Promise<void> {
    (this.proc.child.stdin as Writable).end();
    const exit = await this.proc.exit.catch((err: Error) => err);
    if (exit instanceof Error || exit.code !== 0) {
      fs.rmSync(this.partial, { force: true });
      throw this.failure(exit);
    }
    fs.renameSync(this.partial, this.file);
  }

  /** Stops ffmpeg and removes the partial file. */
  abort(): void {
    this.proc.stop();
    fs.rmSync(this.partial, { force: true });
  }
}

/** Per-extension encoders: lossless FFV1 in Matroska for masks; H.264 for RGB previews. */
const MASK_VIDEO_ENCODE = ['-c:v', 'ffv1', '-level', '3', '-pix_fmt', 'gray'] as const;
// yuv420p (what every player shows) needs even sizes: odd ones get one padding row/column.
const PREVIEW_MP4_ENCODE = ['-c:v', 'libx264', '-crf', '20', '-pix_fmt', 'yuv420p', '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-movflags', '+faststart'] as const;

/**
 * A lossless mask video (.mkv, FFV1, 8-bit grey): frame k holds the label map of the k-th frame written,
 * pixel value = object id, 0 = background. `readVideo(file, { grey: true })` gives the label maps back exactly.
 */
export function openMaskVideo(file: string, width: number, height: number, fps: number): VideoWriter {
  if (path.extname(file).toLowerCase() !== '.mkv') throw new InputError(`mask video '${file}': use a .mkv file (lossless FFV1 in Matroska)`);
  return new VideoWriter(file, { width, height, fps, input: 'gray', encode: MASK_VIDEO_ENCODE, container: 'matroska' });
}

/** An H.264 .mp4 of RGB frames (lossy; for looking at, not for masks). */
export function openPreviewVideo(file: string, width: number, height: number, fps: number): VideoWriter {
  if (path.extname(file).toLowerCase() !== '.mp4') throw new InputError(`preview video '${file}': use a .mp4 file`);
  return new VideoWriter(file, { width, height, fps, input: 'rgb24', encode: PREVIEW_MP4_ENCODE, container: 'mp4' });
}
