/**
 * `sam2long segment`: a video (a directory of frames or a video file) + prompts → one DAVIS-style label PNG
 * per frame, by SAM 2 greedy tracking or the SAM2Long memory tree; optionally overlay pictures, a preview,
 * a lossless mask video and SAM2Long's paths side by side; and a summary.json beside the masks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  decodePng, exitCodeOf, frameSource, initBackend, InputError, InterruptedError, isVideoFile, readVideo, requireFfmpeg,
  type TreeOptions, UsageError, VideoPredictor, type VideoReader, type VideoState,
} from '../src/index.js';
import { probeVideo, VIDEO_EXTENSIONS } from '../src/node/video.js';
import { processingOrder } from '../src/predictor/video-predictor.js';
import {
  applyPixelLimit, MAX_PIXELS_HELP, MAX_PIXELS_OPTION, parseBox, parseCommandArgs, parseInteger, parseNumber, parsePoints, requireFile, required,
} from './cli-args.js';
import { checkSeparatePaths } from './output-dir.js';
import { Progress } from './progress.js';
import { DEFAULT_FPS, PREVIEW_MAX_SIDE, SegmentOutputs, SUMMARY_FILE } from './segment-outputs.js';

export { labelMap } from '../src/index.js';
export { INCOMPLETE_MARKER, MaskDirectory } from './output-dir.js';

export const USAGE = `usage: sam2long segment --model <m.safetensors|m.pt> --frames <dir|video> --out <dir>
                        [--obj <id>] [--frame <i>] [--points <pts>] [--box <box>] [--mask <file.png>] ...
                        [--tree <P> [--iou-threshold <t>] [--uncertainty <u>]] [--reverse] [--max-frames <n>]
                        [--overlay <dir>] [--preview <file.gif|file.mp4>] [--mask-video <file.mkv>] [--fps <r>]
                        [--paths-view <dir> --paths-range <a:b>]
                        [--config <file>] [--overwrite] [--quiet] [--max-pixels <n>]

Tracks objects through a video given as a directory of frames (00000.jpg, 00001.jpg, ... JPEG or PNG,
sorted by number) or as a video file (${VIDEO_EXTENSIONS.join(' ')}, decoded by ffmpeg one frame at a time
as tracking reaches it), and writes one label PNG per tracked frame into <dir>, named after the frame
(out/00000.png for frames/00000.jpg; a video's frames are named 00000, 00001, ...). The PNGs use the DAVIS
layout: 8-bit palette PNGs whose pixel value is the object id, 0 = background. Objects never overlap: at
each pixel the object with the highest mask logit wins, as the official vos_inference.py does it (its
non_overlap_masks). <dir>/${SUMMARY_FILE} records the run:
settings, timing, and per frame each object's score, mask area and (SAM2Long) the final path's slot.

Prompts. --obj and --frame set the object id and the frame of the --points / --box / --mask options
that follow them, until the next --obj / --frame (defaults: object 1, frame 0). Points and a box given
for the same object and frame form one prompt. For example, two objects on frame 0 and a correction
of object 1 on frame 10:
  --obj 1 --points "46,128,1" --obj 2 --box "120,30,180,90" --obj 1 --frame 10 --points "90,150,1;60,140,0"

  --model <file>         a converted .safetensors (its .json beside it) or an official .pt checkpoint
  --config <file>        a model config (YAML or JSON) instead of the one beside / detected for the model
  --frames <dir|file>    the video frames, or a video file (needs ffmpeg; read once, forward: prompts on
                         one frame only, no --reverse)
  --out <dir>            the output directory (created if missing)
  --obj <id>             object id 1..255 for the prompts that follow
  --frame <i>            frame index (0 = the first frame in the directory) for the prompts that follow
  --points <pts>         clicks "x,y,label;x,y,label..." in pixels; label 1 = object, 0 = background
  --box <box>            "x0,y0,x1,y1" in pixels (top-left, bottom-right)
  --mask <file.png>      a mask prompt (the official add_new_mask), the video's size: a binary PNG (0 /
                         non-zero, grey values 0, 1 or 255), or a label PNG (palette, or other grey values:
                         a DAVIS annotation) whose pixels equal the --obj id. Not with clicks or a box on
                         the same object and frame
  --tree <P>             SAM2Long: keep P memory pathways per object (3 in the paper); without it, SAM 2
                         greedy tracking. Each object is prompted on one frame (objects may start on
                         different frames).
  --iou-threshold <t>    SAM2Long: a frame enters memory only if its predicted IoU is above t (default 0.1)
  --uncertainty <u>      SAM2Long: all |object scores| <= u → keep diverse candidates (default 2)
  --reverse              track backwards, from the last prompted frame to frame 0 (greedy only)
  --max-frames <n>       track at most n frames after the start frame
  --overlay <dir>        also write each tracked frame with the masks drawn on it: tinted and outlined in
                         the object's colour (the label PNGs' palette), prompts marked on prompted frames
                         (clicks green / red, boxes in the object's colour): <dir>/<name>.png
  --preview <file>       an animated preview of those pictures, at most ${PREVIEW_MAX_SIDE} px: .gif, or .mp4 (needs ffmpeg)
  --mask-video <file>    also write the label maps as one lossless video: .mkv, FFV1 8-bit grey, pixel value
                         = object id; its frame k is tracked frame start + k (needs ffmpeg)
  --fps <r>              frame rate of --preview and --mask-video (default: the input video's, else ${DEFAULT_FPS})
  --paths-view <dir>     SAM2Long: for each frame of --paths-range, the P paths alive after its last frame
                         side by side (path 0, the best, on the left), each traced back: where the panels
                         differ, the paths diverge. <dir>/<name>.png, written when tracking ends
  --paths-range <a:b>    the frames a..b (inclusive) of --paths-view
  --overwrite            delete the PNGs an earlier run left in <dir> (and the picture directories) before
                         writing (otherwise an output directory that holds PNGs is refused)
  --quiet                no progress line on stderr
${MAX_PIXELS_HELP}

Tracking starts at the first prompted frame (the last with --reverse); frames before it are not
written. While the masks are being written, <dir>/.incomplete exists; it is removed when the run
completes and says why when the run failed, so a directory with .incomplete is never a finished result.
ffmpeg: Debian/Ubuntu \`apt-get install ffmpeg\`, macOS \`brew install ffmpeg\`; SAM2LONG_FFMPEG names another program.`;

/** One prompt: the clicks and/or box of one object on one frame. */
export interface SegmentPrompt {
  objId: number;
  frame: number;
  points: [number, number][];
  labels: number[];
  box?: [number, number, number, number];
  /** A mask prompt: the PNG file. */
  mask?: string;
}

/** The option tokens that `collectPrompts` reads, in command-line order. */
export interface PromptToken {
  kind: string;
  name?: string;
  value?: string;
}

/**
 * The prompts of a command line: --obj and --frame set the object and frame of the --points / --box after
 * them. Points and a box of the same object and frame merge into one prompt; prompts keep their order.
 */
export function collectPrompts(tokens: readonly PromptToken[]): SegmentPrompt[] {
  let objId = 1;
  let frame = 0;
  let pendingSetting: string | null = null;
  const prompts = new Map<string, SegmentPrompt>();
  for (const t of tokens) {
    if (t.kind !== 'option' || t.value === undefined) continue;
    if (t.name === 'obj') {
      objId = parseInteger(t.value, '--obj', 1, 255);
      pendingSetting = `--obj ${t.value}`;
    } else if (t.name === 'frame') {
      frame = parseInteger(t.value, '--frame', 0);
      pendingSetting = `--frame ${t.value}`;
    } else if (t.name === 'points' || t.name === 'box' || t.name === 'mask') {
      pendingSetting = null;
      const key = `${objId}@${frame}`;
      const p = prompts.get(key) ?? { objId, frame, points: [], labels: [] };
      prompts.set(key, p);
      if (t.name === 'mask') {
        if (p.mask) throw new UsageError(`object ${objId} has two --mask prompts on frame ${frame}; give one mask per object and frame`);
        p.mask = t.value;
      } else if (t.name === 'points') {
        const clicks = parsePoints(t.value);
        p.points.push(...clicks.points);
        p.labels.push(...clicks.labels);
      } else {
        if (p.box) throw new UsageError(`object ${objId} has two --box prompts on frame ${frame}; give one box per object and frame`);
        p.box = parseBox(t.value);
      }
    }
  }
  if (pendingSetting) {
    throw new UsageError(`${pendingSetting} is not followed by any --points, --box or --mask: --obj and --frame apply to the prompts after them`);
  }
  if (!prompts.size) throw new UsageError('give at least one prompt (--points, --box or --mask)');
  const mixed = [...prompts.values()].find((p) => p.mask && (p.box || p.points.length));
  if (mixed) throw new UsageError(`object ${mixed.objId} on frame ${mixed.frame}: a --mask prompt does not combine with clicks or a box`);
  return [...prompts.values()];
}

/** `--tree` and its options → TreeOptions, or false for greedy tracking. */
function treeOptions(values: { tree?: string; 'iou-threshold'?: string; uncertainty?: string; reverse?: boolean }): Partial<TreeOptions> | false {
  if (values.tree === undefined) {
    const stray = (['iou-threshold', 'uncertainty'] as const).find((k) => values[k] !== undefined);
    if (stray) throw new UsageError(`--${stray} is a SAM2Long option: use it with --tree <P>`);
    return false;
  }
  if (values.reverse) throw new UsageError('--reverse and --tree do not go together: the SAM2Long tree tracks forward only');
  const opts: Partial<TreeOptions> = { pathways: parseInteger(values.tree, '--tree', 1) };
  if (values['iou-threshold'] !== undefined) {
    const t = parseNumber(values['iou-threshold'], '--iou-threshold');
    if (t < 0 || t > 1) throw new UsageError(`--iou-threshold: ${t} is not an IoU (0..1)`);
    opts.iouThreshold = t;
  }
  if (values.uncertainty !== undefined) {
    const u = parseNumber(values.uncertainty, '--uncertainty');
    if (u < 0) throw new UsageError(`--uncertainty: ${u} must be ≥ 0`);
    opts.uncertainty = u;
  }
  return opts;
}

async function addPrompts(predictor: VideoPredictor, state: VideoState, prompts: SegmentPrompt[]): Promise<void> {
  for (const p of prompts) {
    if (p.mask) {
      const { width, height } = state.frames;
      await predictor.addMask(state, { frame: p.frame, objId: p.objId, mask: readMaskPrompt(p.mask, p.objId, width, height) });
    } else if (p.box) await predictor.addBox(state, { frame: p.frame, objId: p.objId, box: p.box, points: p.points, labels: p.labels });
    else await predictor.addPoints(state, { frame: p.frame, objId: p.objId, points: p.points, labels: p.labels });
  }
}

/**
 * SIGINT / SIGTERM while a command runs: the first one is recorded (`stopIfAsked` then throws InterruptedError at
 * the next frame boundary, so the frame being computed is finished or dropped, never half-written); a second one
 * exits at once. `release` puts the default behaviour back.
 */
export class Interruption {
  signal: 'SIGINT' | 'SIGTERM' | null = null;
  private readonly handlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => [sig, () => this.on(sig)] as const);

  constructor(private readonly onFirst?: (signal: 'SIGINT' | 'SIGTERM') => void) {
    for (const [sig, handler] of this.handlers) process.on(sig, handler);
  }

  private on(sig: 'SIGINT' | 'SIGTERM'): void {
    if (this.signal) process.exit(exitCodeOf(new InterruptedError(sig)));
    this.signal = sig;
    this.onFirst?.(sig);
  }

  stopIfAsked(): void {
    if (this.signal) throw new InterruptedError(this.signal);
  }

  release(): void {
    for (const [sig, handler] of this.handlers) process.off(sig, handler);
  }
}

/**
 * A --mask PNG as a binary mask of object `objId`: a grey PNG of 0 / 1 / 255 is the mask itself (non-zero =
 * object); a palette PNG or one with other values is a label map, and the object is its pixels equal to objId.
 */
export function readMaskPrompt(file: string, objId: number, width: number, height: number): Uint8Array {
  requireFile(file, '--mask file');
  const png = decodePng(fs.readFileSync(file), file);
  if (png.colorType !== 'grey' && png.colorType !== 'palette') throw new InputError(`--mask '${file}': a mask PNG must be greyscale or palette, this one is ${png.colorType}`);
  if (png.width !== width || png.height !== height) {
    throw new InputError(`--mask '${file}' is ${png.width}x${png.height}, but the video is ${width}x${height}`);
  }
  const values = new Set(png.samples);
  const binary = png.colorType === 'grey' && [...values].every((v) => v === 0 || v === 1 || v === 255);
  if (binary) return Uint8Array.from(png.samples, (v) => (v ? 1 : 0));
  if (!values.has(objId)) {
    const ids = [...values].filter((v) => v > 0).sort((a, b) => a - b);
    throw new InputError(`--mask '${file}' is a label map without object ${objId} (it holds ${ids.length ? ids.join(', ') : 'no object'}); pick one with --obj`);
  }
  return Uint8Array.from(png.samples, (v) => (v === objId ? 1 : 0));
}

/** Tracks and writes every final result; returns the number of frames tracked. */
async function track(predictor: VideoPredictor, state: VideoState, outputs: SegmentOutputs, opts: {
  startFrame: number; reverse: boolean; maxFrames?: number; progress: Progress | null; interruption: Interruption;
}): Promise<number> {
  const { width, height } = state.frames;
  const seen = new Set<number>();
  const { startFrame, reverse, maxFrames } = opts;
  for await (const r of predictor.propagate(state, { startFrame, reverse, maxFrames })) {
    opts.interruption.stopIfAsked();
    if (!seen.has(r.frame)) {
      seen.add(r.frame);
      outputs.summary.seen(r.frame);
      opts.progress?.tick();
    }
    // SAM2Long yields a provisional mask online and the final (hindsight) one later: only final ones are written.
    if (r.final) await outputs.add(r, width, height);
  }
  return seen.size;
}

/** The options of the pictures and videos written besides the masks. */
interface OutputOptions {
  overlay?: string;
  preview?: string;
  maskVideo?: string;
  fps?: number;
  pathsView?: { dir: string; first: number; last: number };
}

/** `a:b` → [a, b], frame indices with a ≤ b. */
function parseRange(text: string, option: string): [number, number] {
  const parts = text.split(':');
  if (parts.length !== 2) throw new UsageError(`${option} '${text}': expected a:b (first and last frame, inclusive)`);
  const [a, b] = parts.map((p) => parseInteger(p, `${option} '${text}'`, 0));
  if (a > b) throw new UsageError(`${option} '${text}': the first frame is after the last`);
  return [a, b];
}

function outputOptions(values: {
  frames: string; out: string; overlay?: string; preview?: string; 'mask-video'?: string; fps?: string; 'paths-view'?: string; 'paths-range'?: string;
}, tree: boolean, reverse: boolean): OutputOptions {
  const o: OutputOptions = { overlay: values.overlay, preview: values.preview, maskVideo: values['mask-video'] };
  if (o.preview !== undefined && !/\.(gif|mp4)$/i.test(o.preview)) throw new UsageError(`--preview '${o.preview}': use a .gif or .mp4 file`);
  if (o.maskVideo !== undefined && path.extname(o.maskVideo).toLowerCase() !== '.mkv') {
    throw new UsageError(`--mask-video '${o.maskVideo}': use a .mkv file (lossless FFV1 in Matroska)`);
  }
  if (reverse && (o.preview !== undefined || o.maskVideo !== undefined)) {
    throw new UsageError('--preview and --mask-video follow the video forward: they do not go with --reverse');
  }
  if (values.fps !== undefined) {
    o.fps = parseNumber(values.fps, '--fps');
    if (!(o.fps > 0)) throw new UsageError(`--fps: ${o.fps} must be > 0`);
  }
  const view = values['paths-view'];
  const range = values['paths-range'];
  if ((view === undefined) !== (range === undefined)) throw new UsageError('--paths-view and --paths-range go together');
  if (view !== undefined && range !== undefined) {
    if (!tree) throw new UsageError('--paths-view shows SAM2Long paths: use it with --tree <P>');
    const [first, last] = parseRange(range, '--paths-range');
    o.pathsView = { dir: view, first, last };
  }
  checkSeparatePaths([
    { option: '--frames', path: values.frames, kind: isVideoFile(values.frames) ? 'file' : 'dir', input: true },
    { option: '--out', path: values.out, kind: 'dir' },
    ...(o.overlay !== undefined ? [{ option: '--overlay', path: o.overlay, kind: 'dir' as const }] : []),
    ...(o.pathsView ? [{ option: '--paths-view', path: o.pathsView.dir, kind: 'dir' as const }] : []),
    ...(o.preview !== undefined ? [{ option: '--preview', path: o.preview, kind: 'file' as const }] : []),
    ...(o.maskVideo !== undefined ? [{ option: '--mask-video', path: o.maskVideo, kind: 'file' as const }] : []),
  ]);
  return o;
}

/** A video file is read once, forward: prompts on one frame, forward tracking. */
function checkVideoInput(prompts: readonly SegmentPrompt[], reverse: boolean): void {
  if (reverse) throw new UsageError('--reverse needs a directory of frames: a video file is read forward only');
  const frames = new Set(prompts.map((p) => p.frame));
  if (frames.size > 1) {
    throw new UsageError(`prompts on frames ${[...frames].join(', ')}: a video file is read once, forward, so prompts go on one frame ` +
      '(or extract its frames to a directory first: ffmpeg -i video.mp4 frames/%05d.png)');
  }
}

/** Frames to track, for the progress bar (Infinity when the video's length is not known). */
function framesToTrack(startFrame: number, maxFrames: number | undefined, numFrames: number, reverse: boolean): number {
  if (maxFrames === undefined && !Number.isFinite(numFrames)) return Infinity;
  return [...processingOrder(startFrame, maxFrames ?? numFrames, numFrames, reverse)].length;
}

export async function run(argv: string[]): Promise<number> {
  const { values, tokens } = parseCommandArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      config: { type: 'string' },
      frames: { type: 'string' },
      out: { type: 'string' },
      obj: { type: 'string', multiple: true },
      frame: { type: 'string', multiple: true },
      points: { type: 'string', multiple: true },
      box: { type: 'string', multiple: true },
      mask: { type: 'string', multiple: true },
      tree: { type: 'string' },
      'iou-threshold': { type: 'string' },
      uncertainty: { type: 'string' },
      reverse: { type: 'boolean' },
      'max-frames': { type: 'string' },
      overlay: { type: 'string' },
      preview: { type: 'string' },
      'mask-video': { type: 'string' },
      fps: { type: 'string' },
      'paths-view': { type: 'string' },
      'paths-range': { type: 'string' },
      overwrite: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      ...MAX_PIXELS_OPTION,
    },
    strict: true,
    tokens: true,
  });
  applyPixelLimit(values['max-pixels']);
  const model = required(values.model, '--model');
  const framesArg = required(values.frames, '--frames');
  const outDir = required(values.out, '--out');
  const prompts = collectPrompts(tokens);
  const tree = treeOptions(values);
  const reverse = values.reverse ?? false;
  const maxFrames = values['max-frames'] !== undefined ? parseInteger(values['max-frames'], '--max-frames', 0) : undefined;
  const extra = outputOptions({ ...values, frames: framesArg, out: outDir }, tree !== false, reverse);
  const video = isVideoFile(framesArg);
  if (video) {
    checkVideoInput(prompts, reverse);
    requireFile(framesArg, 'video file');
  }
  requireFile(model, 'model file');
  if (values.config !== undefined) requireFile(values.config, 'config file');
  if (video || extra.maskVideo !== undefined || /\.mp4$/i.test(extra.preview ?? '')) requireFfmpeg();
  const reader: VideoReader | null = video ? readVideo(framesArg) : null;
  // Listing the frames first reports a bad directory before the (slow) model load; frames decode later.
  const frames = frameSource(reader ?? framesArg);
  const probed = video ? probeVideo(framesArg) : {};
  const pathways = tree ? tree.pathways as number : 0;
  const outputs = new SegmentOutputs({
    masks: outDir, overwrite: values.overwrite ?? false, input: framesArg, prompts, overlay: extra.overlay, preview: extra.preview,
    maskVideo: extra.maskVideo, fps: extra.fps ?? probed.fps ?? DEFAULT_FPS, pathsView: extra.pathsView && { ...extra.pathsView, pathways },
  }, {
    model, input: framesArg, mode: tree ? 'sam2long' : 'sam2', reverse, prompts,
    tree: tree ? { pathways, iouThreshold: tree.iouThreshold, uncertainty: tree.uncertainty } : undefined,
    outputs: { masks: outDir, overlay: extra.overlay, preview: extra.preview, maskVideo: extra.maskVideo, pathsView: extra.pathsView?.dir },
  });

  let progress: Progress | null = null;
  const interruption = new Interruption((sig) => {
    progress?.finish();
    console.error(`sam2long segment: ${sig} received: stopping after the current frame (again to stop at once)`);
  });
  let predictor: VideoPredictor;
  try {
    await initBackend();
    predictor = await VideoPredictor.fromCheckpoint(model, { config: values.config, tree: tree && { ...tree, ...outputs.treeHooks() } });
  } catch (err) {
    interruption.release();
    reader?.close();
    throw err;
  }
  let state: VideoState | undefined;
  const out = outputs.masks;
  try {
    interruption.stopIfAsked();
    state = await predictor.initState(frames);
    const promptFrames = prompts.map((p) => p.frame);
    const startFrame = reverse ? Math.max(...promptFrames) : Math.min(...promptFrames);
    await addPrompts(predictor, state, prompts);
    const total = framesToTrack(startFrame, maxFrames, video ? probed.frames ?? Infinity : state.numFrames, reverse);
    progress = values.quiet ? null : new Progress({ label: tree ? `segment (SAM2Long P=${tree.pathways})` : 'segment', total });
    const started = performance.now();
    outputs.summary.startTracking({ width: state.frames.width, height: state.frames.height, objects: state.objIds, startFrame });
    const tracked = await track(predictor, state, outputs, { startFrame, reverse, maxFrames, progress, interruption });
    progress?.finish();
    const seconds = (performance.now() - started) / 1000;
    for (const note of await outputs.complete(predictor, state)) console.log(note);
    console.log(`wrote ${out.written} mask(s) for objects ${state.objIds.join(', ')} to ${outDir} ` +
      `(${tracked} frames in ${seconds.toFixed(1)} s, ${(tracked / seconds).toFixed(1)} frames/s)`);
  } catch (err) {
    progress?.finish();
    const interrupted = err instanceof InterruptedError;
    outputs.fail((err as Error).message, interrupted ? 'interrupted' : 'failed');
    if (out.written) console.error(`sam2long segment: stopped after ${out.written} mask(s); '${out.marker}' marks '${outDir}' as unfinished`);
    throw err;
  } finally {
    interruption.release();
    outputs.close();
    reader?.close();
    state?.dispose();
    predictor.model.dispose();
  }
  return 0;
}
