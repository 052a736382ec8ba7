/**
 * Frame-accurate decoding of a video file through WebCodecs: the container's sample table (MP4 or WebM,
 * src/io/video-container.ts) says where every coded frame is; frame i is decoded from the keyframe before it,
 * reading the coded samples from the file as they are fed, and a run of frames read in order is decoded
 * once, in one pass. Works in a page and in a worker (no DOM).
 */
import { InputError } from '../errors.js';
import { frameRate, type VideoTrackIndex } from '../io/video-track.js';
import { CachedFrames, DEFAULT_CACHE_FRAMES, outputSize, type VideoLimits } from './video-frames.js';

/**
 * Decode-order samples fed ahead of the frame asked for (at most half the cache, so they are still there when
 * read): covers B-frame reordering and gives a reader in order its next frames.
 */
const LOOKAHEAD = 8;
/** Chunks queued in the decoder at once. */
const MAX_QUEUE = 4;
/** With no output for this long, the decoder is taken to wait for more input (frames held for reordering). */
const STALL_MS = 30;
/**
 * Frames a decoder may hold for reordering (H.264's largest picture buffer): fed beyond the lookahead only while
 * the decoder is silent, so a slow decoder, busy rather than starved, is not run far ahead of the reader.
 */
const MAX_REORDER = 16;
/** Silence after which a decoder past MAX_REORDER is flushed to give out what it holds. */
const GIVE_UP_MS = 2000;

/** The decoder configuration of a track, if this browser can decode it; null otherwise. */
export async function supportedConfig(track: VideoTrackIndex): Promise<VideoDecoderConfig | null> {
  if (typeof VideoDecoder === 'undefined') return null;
  const config: VideoDecoderConfig = { codec: track.codec, codedWidth: track.width || undefined, codedHeight: track.height || undefined };
  if (track.description) config.description = track.description;
  try {
    return (await VideoDecoder.isConfigSupported(config)).supported ? config : null;
  } catch {
    return null;
  }
}

interface Pass {
  decoder: VideoDecoder;
  /** The keyframe (decode order) the pass started from, and the next sample to feed. */
  start: number;
  next: number;
  /** Display indices already handed to the cache in this pass. */
  emitted: Set<number>;
  /** Frames being converted to bitmaps. */
  converting: number;
  failure?: Error;
  /** Wakes the feeding loop on output, dequeue or error. */
  wake: () => void;
}

export class WebCodecsFrames extends CachedFrames {
  readonly decoding = 'webcodecs' as const;
  private pass: Pass | null = null;
  /** Display index of each sample timestamp (µs). */
  private readonly frameAt = new Map<number, number>();
  /** For each sample (decode order), the keyframe at or before it. */
  private readonly keyBefore: number[];
  private readonly lookahead = Math.min(LOOKAHEAD, Math.floor(this.cacheFrames / 2));

  private constructor(
    private readonly file: Blob,
    private readonly track: VideoTrackIndex,
    private readonly config: VideoDecoderConfig,
    size: { width: number; height: number },
    limits: VideoLimits,
    label: string,
  ) {
    const total = track.displayOrder.length;
    const count = Math.min(total, limits.maxFrames ?? Infinity);
    super(count, size.width, size.height, frameRate(track), total - count, limits.cacheFrames ?? DEFAULT_CACHE_FRAMES, label);
    track.displayOrder.forEach((s, f) => this.frameAt.set(track.samples[s].timestamp, f));
    let key = -1;
    this.keyBefore = track.samples.map((s, i) => (key = s.key ? i : key));
  }

  /** Opens a file whose track this browser decodes; the size is that of the first decoded frame. */
  static async open(file: Blob, track: VideoTrackIndex, config: VideoDecoderConfig, limits: VideoLimits, label: string): Promise<WebCodecsFrames> {
    if (!track.samples.some((s) => s.key)) {
      throw new InputError(`${label}: the video has no keyframe to start decoding from`);
    }
    const probe = new WebCodecsFrames(file, track, config, { width: 1, height: 1 }, { ...limits, cacheFrames: 1 }, label);
    const first = await probe.firstFrameSize();
    probe.close();
    return new WebCodecsFrames(file, track, config, outputSize(first.width, first.height, limits.maxSide), limits, label);
  }

  /** Decodes frame 0 at its own size. */
  private async firstFrameSize(): Promise<{ width: number; height: number }> {
    await this.decode(0);
    return this.decodedSize ?? { width: this.track.width, height: this.track.height };
  }

  private decodedSize: { width: number; height: number } | undefined;

  private startPass(start: number): Pass {
    this.endPass();
    const pass: Pass = { decoder: undefined as unknown as VideoDecoder, start, next: start, emitted: new Set(), converting: 0, wake: () => undefined };
    pass.decoder = new VideoDecoder({
      output: (frame) => this.output(pass, frame),
      error: (err) => { pass.failure = err; pass.wake(); },
    });
    pass.decoder.addEventListener('dequeue', () => pass.wake());
    pass.decoder.configure(this.config);
    this.pass = pass;
    return pass;
  }

  private endPass(): void {
    const p = this.pass;
    this.pass = null;
    if (p && p.decoder.state !== 'closed') p.decoder.close();
  }

  private output(pass: Pass, frame: VideoFrame): void {
    const index = this.frameAt.get(frame.timestamp);
    if (pass !== this.pass || index === undefined || index >= this.count || this.closed) {
      frame.close();
      pass.wake();
      return;
    }
    this.decodedSize ??= { width: frame.displayWidth, height: frame.displayHeight };
    pass.emitted.add(index);
    pass.converting++;
    const resize = this.width !== frame.displayWidth || this.height !== frame.displayHeight
      ? { resizeWidth: this.width, resizeHeight: this.height, resizeQuality: 'high' as const } : {};
    createImageBitmap(frame, resize).then(
      (b) => this.store(index, b),
      (err: Error) => { pass.failure = err; },
    ).finally(() => { frame.close(); pass.converting--; pass.wake(); });
  }

  private async feed(pass: Pass): Promise<void> {
    const s = this.track.samples[pass.next];
    const data = new Uint8Array(await this.file.slice(s.offset, s.offset + s.size).arrayBuffer());
    if (data.length !== s.size) throw new InputError(`${this.label}: the file ends inside frame data (byte ${s.offset})`);
    pass.decoder.decode(new EncodedVideoChunk({ type: s.key ? 'key' : 'delta', timestamp: s.timestamp, duration: s.duration, data }));
    pass.next++;
  }

  protected async decode(index: number): Promise<void> {
    const sample = this.track.displayOrder[index];
    const key = this.keyBefore[sample];
    if (key < 0) throw new InputError(`${this.label}: frame ${index} has no keyframe before it to decode from`);
    let pass = this.pass;
    // Going on with the current pass decodes no frame twice: its keyframe run reaches this frame, which it has not emitted yet.
    const reusable = pass && pass.start <= key && key < pass.next && !pass.emitted.has(index) && !pass.failure;
    if (!reusable) pass = this.startPass(key);
    const p = pass as Pass;
    let done = false;
    void this.arrival(index).then(() => { done = true; p.wake(); });
    /** How long the decoder has been silent with nothing queued (ms). */
    let quiet = 0;
    let flushed = false;
    while (!done) {
      if (this.closed) throw new InputError(`${this.label} was closed while frame ${index} was being decoded`);
      if (p.failure) break;
      const more = p.next < this.track.samples.length;
      const ahead = p.next - sample;
      const stalled = quiet >= STALL_MS;
      if (more && !flushed && p.decoder.decodeQueueSize < MAX_QUEUE && (ahead <= this.lookahead || (stalled && ahead <= this.lookahead + MAX_REORDER))) {
        await this.feed(p);
        quiet = 0;
        continue;
      }
      if (stalled && !flushed && (!more || quiet >= GIVE_UP_MS)) {
        // The end of the file (or a decoder that holds more than any stream needs): it gives out the frames it
        // holds for reordering, and this pass is over (decoding goes on only from a keyframe).
        flushed = true;
        await p.decoder.flush().catch((err: Error) => { p.failure ??= err; });
        continue;
      }
      if (flushed && stalled && p.converting === 0) break;
      const woken = await this.wait(p);
      quiet = !woken && p.converting === 0 && p.decoder.decodeQueueSize === 0 ? quiet + STALL_MS : 0;
    }
    if (flushed || p.failure) this.endPass();
    if (p.failure) throw new InputError(`${this.label}: cannot decode frame ${index} (${p.failure.message})`);
    if (!done) throw new InputError(`${this.label}: the decoder gave no frame ${index}`);
  }

  /** Waits for the decoder's next output, dequeue or error: true, or false after STALL_MS of silence. */
  private wait(pass: Pass): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), STALL_MS);
      pass.wake = () => { clearTimeout(timer); resolve(true); };
    });
  }

  protected release(): void {
    this.endPass();
  }
}
