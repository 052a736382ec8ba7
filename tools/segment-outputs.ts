/**
 * What `sam2long segment` writes besides the label PNGs: overlay pictures, an animated preview, a lossless
 * mask video, the SAM2Long paths view and the run summary. Final results arrive in frame order and each output
 * takes them one at a time, so nothing grows with the length of the video (except the summary's few numbers
 * per frame, and the paths view's low-resolution masks of its frame range).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  downscale, encodeLabelPng, type FrameResult, frameSource, type FrameSource, GifEncoder, InputError, isVideoFile, labelMap,
  openMaskVideo, type PromptMarks, readVideo, renderOverlay, type RgbImage, Sam2LongError, sideBySide, tree, type TreeOptions,
  type TreeStepInfo, type VideoPredictor, type VideoReader, type VideoState,
} from '../src/index.js';
import type { NetpbmFrame } from '../src/io/netpbm.js';
import { encodeRgbPng } from '../src/io/png.js';
import { openPreviewVideo, type VideoWriter } from '../src/node/video.js';
import { MaskDirectory } from './output-dir.js';

/** Previews are shrunk to at most this many pixels on their longer side. */
export const PREVIEW_MAX_SIDE = 640;
/** Frame rate of the preview and mask video of a frame directory, which has none of its own. */
export const DEFAULT_FPS = 10;
export const SUMMARY_FILE = 'summary.json';

/** A prompt as drawn: its frame and marks. */
export type FramePrompt = PromptMarks & { frame: number };

/**
 * The input frames again, as RGB pictures to draw on: a directory is read at random, a video file forward
 * (asking for an earlier frame starts its decoding over).
 */
export class FrameImages {
  private readonly files: FrameSource | null;
  private readonly reader: VideoReader | null;
  private iterator: AsyncIterator<NetpbmFrame> | null = null;
  private index = -1;
  private current: RgbImage | null = null;

  constructor(input: string) {
    const video = isVideoFile(input);
    this.reader = video ? readVideo(input) : null;
    this.files = video ? null : frameSource(input);
  }

  async at(i: number): Promise<RgbImage> {
    if (this.files) return (await this.files.frame(i)).image;
    const reader = this.reader as VideoReader;
    if (!this.iterator || i < this.index) {
      reader.close();
      this.iterator = reader[Symbol.asyncIterator]();
      this.index = -1;
    }
    while (this.index < i) {
      const r = await this.iterator.next();
      if (r.done) throw new InputError(`frame ${i} is past the end of the video (${this.index + 1} frames)`);
      this.current = r.value;
      this.index++;
    }
    return this.current as RgbImage;
  }

  close(): void {
    this.reader?.close();
  }
}

/** An animated preview: .gif (our encoder) or .mp4 (ffmpeg), of pictures shrunk to PREVIEW_MAX_SIDE. */
export class PreviewWriter {
  private gif: { encoder: GifEncoder; fd: number } | null = null;
  private video: VideoWriter | null = null;
  frames = 0;

  constructor(readonly file: string, private readonly fps: number) {}

  private get partial(): string {
    return `${this.file}.partial`;
  }

  private open(width: number, height: number): void {
    if (path.extname(this.file).toLowerCase() === '.mp4') {
      this.video = openPreviewVideo(this.file, width, height, this.fps);
      return;
    }
    fs.mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
    const fd = fs.openSync(this.partial, 'w');
    // GIF counts in hundredths of a second; most viewers slow delays under 2 down to 10.
    const delayCs = Math.max(2, Math.round(100 / this.fps));
    this.gif = { fd, encoder: new GifEncoder(width, height, { delayCs }, (bytes) => fs.writeSync(fd, bytes)) };
  }

  async add(picture: RgbImage): Promise<void> {
    const small = downscale(picture, PREVIEW_MAX_SIDE);
    if (!this.frames) this.open(small.width, small.height);
    if (this.video) await this.video.write(small.data);
    else this.gif?.encoder.addFrame(small.data);
    this.frames++;
  }

  async finish(): Promise<void> {
    if (this.video) await this.video.close();
    if (this.gif) {
      this.gif.encoder.finish();
      fs.closeSync(this.gif.fd);
      fs.renameSync(this.partial, this.file);
      this.gif = null;
    }
  }

  abort(): void {
    this.video?.abort();
    if (this.gif) {
      fs.closeSync(this.gif.fd);
      fs.rmSync(this.partial, { force: true });
      this.gif = null;
    }
  }
}

/** Overlay pictures of the final results: PNGs in a directory and/or frames of a preview. */
export class OverlayPictures {
  constructor(
    private readonly images: FrameImages,
    private readonly prompts: readonly FramePrompt[],
    private readonly dir: MaskDirectory | null,
    private readonly preview: PreviewWriter | null,
  ) {}

  async add(frame: number, name: string, labels: Uint8Array): Promise<void> {
    const marks = this.prompts.filter((p) => p.frame === frame);
    const picture = renderOverlay(await this.images.at(frame), labels, marks);
    this.dir?.write(name, encodeRgbPng(picture.data, picture.width, picture.height));
    await this.preview?.add(picture);
  }
}

/** The label maps as one lossless video: frame k is tracked frame `firstFrame + k`. */
export class MaskVideoOutput {
  private writer: VideoWriter | null = null;
  firstFrame = -1;
  frames = 0;

  constructor(readonly file: string, readonly fps: number) {}

  async add(frame: number, labels: Uint8Array, width: number, height: number): Promise<void> {
    if (!this.writer) {
      this.writer = openMaskVideo(this.file, width, height, this.fps);
      this.firstFrame = frame;
    } else if (frame !== this.firstFrame + this.frames) {
      throw new Sam2LongError(`mask video: frame ${frame} arrived after frame ${this.firstFrame + this.frames - 1}; a mask video needs consecutive frames`);
    }
    await this.writer.write(labels);
    this.frames++;
  }

  async finish(): Promise<void> {
    await this.writer?.close();
  }

  abort(): void {
    this.writer?.abort();
  }
}

export interface SummaryObject {
  id: number;
  /** Object-score logit (> 0: the model sees the object). */
  objectScore: number;
  /** Pixels of the object's mask. */
  area: number;
  /** SAM2Long: the slot of this frame on the final (traced-back) path, 0 = the best candidate kept on that frame. */
  slot?: number;
  /** SAM2Long: the predicted IoU of that slot's mask and the path's cumulative score up to this frame. */
  iou?: number;
  pathScore?: number;
}

export interface SummaryFrame {
  frame: number;
  name: string;
  /** Milliseconds from the previous tracked frame (for the first one: from the start of tracking). */
  ms?: number;
  objects: SummaryObject[];
}

/** How a run ended, as summary.json says. */
export type RunStatus = 'complete' | 'failed' | 'interrupted';

/** What a run was asked to do, for the summary. */
export interface RunSettings {
  model: string;
  input: string;
  mode: 'sam2' | 'sam2long';
  tree?: { pathways: number; iouThreshold?: number; uncertainty?: number };
  reverse: boolean;
  prompts: readonly FramePrompt[];
  /** Output paths by option; those not asked for are undefined (and left out of the JSON). */
  outputs: Record<string, string | undefined>;
}

/** What the run found once the video was open and the prompts were in. */
export interface RunVideo {
  width: number;
  height: number;
  objects: number[];
  startFrame: number;
}

/** The per-run summary (summary.json): settings, timing and every final frame's numbers. */
export class RunSummary {
  private readonly frames = new Map<number, SummaryFrame>();
  private readonly ms = new Map<number, number>();
  private readonly trees = new Map<number, tree.MemoryTree>();
  private readonly created = performance.now();
  private video: RunVideo | null = null;
  private trackingStarted = 0;
  private lastSeen = 0;

  constructor(private readonly settings: RunSettings) {}

  /** Prompts are in: tracking starts now. */
  startTracking(video: RunVideo): void {
    this.video = video;
    this.trackingStarted = this.lastSeen = performance.now();
  }

  /** Tracking reached `frame`. */
  seen(frame: number): void {
    const now = performance.now();
    this.ms.set(frame, now - this.lastSeen);
    this.lastSeen = now;
  }

  final(r: FrameResult): void {
    this.frames.set(r.frame, {
      frame: r.frame,
      name: r.name,
      objects: r.objIds.map((id, i) => ({ id, objectScore: r.objectScores[i], area: r.exclusiveMasks[i].reduce((n, v) => n + (v ? 1 : 0), 0) })),
    });
  }

  onStep(step: TreeStepInfo): void {
    this.trees.set(step.objId, step.tree);
  }

  /** An object's numbers on a frame, with the slot, IoU and score of its final path (`finalSlots`: per object, from its latest tree). */
  private withPath(frame: number, o: SummaryObject, finalSlots: Map<number, number[]>): SummaryObject {
    const objTree = this.trees.get(o.id);
    const slots = finalSlots.get(o.id);
    const k = objTree ? frame - objTree.startFrame - 1 : -1;
    if (!objTree || !slots || k < 0 || k >= slots.length) return o;
    const rec = tree.slotRecord(objTree, frame, slots[k]);
    return { ...o, slot: slots[k], iou: rec.iou, pathScore: rec.score };
  }

  json(status: RunStatus, error?: string): object {
    const finalSlots = new Map([...this.trees].map(([id, objTree]) => [id, tree.traceBack(objTree)]));
    const frames = [...this.frames.values()].sort((a, b) => a.frame - b.frame)
      .map((f) => ({ ...f, ms: this.ms.get(f.frame), objects: f.objects.map((o) => this.withPath(f.frame, o, finalSlots)) }));
    const trackSeconds = this.trackingStarted ? (this.lastSeen - this.trackingStarted) / 1000 : 0;
    return {
      status,
      ...(error !== undefined ? { error } : {}),
      ...this.settings,
      ...this.video,
      framesTracked: this.ms.size,
      timing: {
        totalSeconds: (performance.now() - this.created) / 1000,
        trackSeconds,
        framesPerSecond: trackSeconds > 0 ? this.ms.size / trackSeconds : null,
      },
      frames,
    };
  }

  write(dir: MaskDirectory, status: RunStatus, error?: string): void {
    dir.writeFile(SUMMARY_FILE, new TextEncoder().encode(`${JSON.stringify(this.json(status, error), null, 1)}\n`));
  }
}

/**
 * SAM2Long's paths side by side for frames a..b: the P paths alive after frame b (path 0, the best, on
 * the left), each traced back over the range, so panels that differ show where the paths diverge. Keeps
 * the low-resolution masks of every slot in the range until `render`.
 */
export class PathsView {
  private readonly logits = new Map<number, Map<number, readonly Float32Array[]>>();
  private readonly trees = new Map<number, tree.MemoryTree>();

  constructor(readonly dir: MaskDirectory, readonly first: number, readonly last: number, private readonly pathways: number) {}

  onSlots(frame: number, objId: number, logits: readonly Float32Array[]): void {
    if (frame < this.first || frame > this.last) return;
    if (!this.logits.has(frame)) this.logits.set(frame, new Map());
    this.logits.get(frame)?.set(objId, logits);
  }

  onStep(step: TreeStepInfo): void {
    if (step.frame <= this.last) this.trees.set(step.objId, step.tree);
  }

  /** Path p's slot on `frame` for an object; frame s+1 (stored before any tree step) has one slot. */
  private slot(objId: number, frame: number, p: number): number {
    const objTree = this.trees.get(objId);
    return objTree ? tree.pathSlots(objTree, p)[frame - objTree.startFrame - 1] : 0;
  }

  /** Writes one picture per frame of the range that was tracked; returns how many. */
  async render(predictor: VideoPredictor, state: VideoState, images: FrameImages): Promise<number> {
    const { width, height } = state.frames;
    const frames = [...this.logits.keys()].sort((a, b) => a - b);
    for (const frame of frames) {
      const slots = this.logits.get(frame) as Map<number, readonly Float32Array[]>;
      const image = await images.at(frame);
      const panels = Array.from({ length: this.pathways }, (_, p) => {
        const r = predictor.frameResult(state, frame, (o) => {
          const logits = slots.get(o.id);
          return logits && { logits: logits[this.slot(o.id, frame, p)], objectScore: 0 };
        }, true);
        return renderOverlay(image, labelMap(r.objIds, r.exclusiveMasks, width * height));
      });
      const row = sideBySide(panels);
      this.dir.write(state.frames.name(frame), encodeRgbPng(row.data, row.width, row.height));
    }
    return frames.length;
  }
}

/** The outputs a command line asks for. */
export interface OutputRequest {
  /** The label PNGs' directory (summary.json goes there too). */
  masks: string;
  overwrite: boolean;
  /** The input (directory or video file), read again for pictures. */
  input: string;
  prompts: readonly FramePrompt[];
  overlay?: string;
  preview?: string;
  maskVideo?: string;
  fps: number;
  pathsView?: { dir: string; first: number; last: number; pathways: number };
}

/**
 * Every output of a run. Created before the model loads, so a directory holding an earlier run's PNGs is
 * refused first; fed the final results in order; completed (or failed) at the end.
 */
export class SegmentOutputs {
  readonly masks: MaskDirectory;
  readonly summary: RunSummary;
  private readonly overlayDir: MaskDirectory | null;
  private readonly preview: PreviewWriter | null;
  private readonly maskVideo: MaskVideoOutput | null;
  private readonly pathsView: PathsView | null;
  private readonly images: FrameImages | null;
  private readonly pictures: OverlayPictures | null;

  constructor(req: OutputRequest, settings: RunSettings) {
    this.masks = new MaskDirectory(req.masks, req.overwrite);
    this.overlayDir = req.overlay !== undefined ? new MaskDirectory(req.overlay, req.overwrite, 'overlay') : null;
    const view = req.pathsView;
    this.pathsView = view ? new PathsView(new MaskDirectory(view.dir, req.overwrite, 'paths view'), view.first, view.last, view.pathways) : null;
    this.preview = req.preview !== undefined ? new PreviewWriter(req.preview, req.fps) : null;
    this.maskVideo = req.maskVideo !== undefined ? new MaskVideoOutput(req.maskVideo, req.fps) : null;
    this.images = this.overlayDir || this.preview || this.pathsView ? new FrameImages(req.input) : null;
    this.pictures = this.images && (this.overlayDir || this.preview) ? new OverlayPictures(this.images, req.prompts, this.overlayDir, this.preview) : null;
    this.summary = new RunSummary(settings);
  }

  /** SAM2Long hooks that feed the summary (final path) and the paths view (every slot's mask). */
  treeHooks(): Pick<TreeOptions, 'onStep' | 'onSlots'> {
    const view = this.pathsView;
    return {
      onStep: (step) => {
        this.summary.onStep(step);
        view?.onStep(step);
      },
      onSlots: view ? (frame, objId, logits) => view.onSlots(frame, objId, logits) : undefined,
    };
  }

  async add(r: FrameResult, width: number, height: number): Promise<void> {
    const labels = labelMap(r.objIds, r.exclusiveMasks, width * height);
    this.masks.write(r.name, encodeLabelPng(labels, width, height));
    this.summary.final(r);
    await this.maskVideo?.add(r.frame, labels, width, height);
    await this.pictures?.add(r.frame, r.name, labels);
  }

  /** After tracking: draws the paths view, then finishes every output; returns what to tell the user. */
  async complete(predictor: VideoPredictor, state: VideoState): Promise<string[]> {
    const notes: string[] = [];
    if (this.pathsView && this.images) {
      const n = await this.pathsView.render(predictor, state, this.images);
      this.pathsView.dir.complete();
      notes.push(`paths view: ${n} picture(s) in ${this.pathsView.dir.dir}`);
    }
    await this.maskVideo?.finish();
    await this.preview?.finish();
    this.overlayDir?.complete();
    this.summary.write(this.masks, 'complete');
    this.masks.complete();
    return notes;
  }

  /**
   * Marks what was written as unfinished (`status` says why: a failure or an interruption), removes partial
   * videos, and writes the summary if masks were written.
   */
  fail(reason: string, status: Exclude<RunStatus, 'complete'> = 'failed'): void {
    this.maskVideo?.abort();
    this.preview?.abort();
    this.overlayDir?.fail(reason, status);
    this.pathsView?.dir.fail(reason, status);
    this.masks.fail(reason, status);
    if (this.masks.written) this.summary.write(this.masks, status, reason);
  }

  /** Stops the decoding of pictures (a video file's ffmpeg). */
  close(): void {
    this.images?.close();
  }
}
