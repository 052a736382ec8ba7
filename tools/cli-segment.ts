/**
 * `sam2long segment`: a directory of frames + prompts → one DAVIS-style label PNG per frame, by SAM 2
 * greedy tracking or the SAM2Long memory tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../src/backend.js';
import { InputError, Sam2LongError } from '../src/errors.js';
import { encodeLabelPng } from '../src/io/png.js';
import { frameSource } from '../src/io/frames.js';
import { VideoPredictor, processingOrder } from '../src/predictor/video-predictor.js';
import type { TreeOptions } from '../src/predictor/tree-tracker.js';
import type { VideoState } from '../src/predictor/video-state.js';
import {
  parseBox, parseCommandArgs, parseInteger, parseNumber, parsePoints, requireFile, required, usageError, writeFileAtomic,
} from './cli-args.js';
import { Progress } from './progress.js';

const USAGE = `usage: sam2long segment --model <m.safetensors|m.pt> --frames <dir> --out <dir>
                        [--obj <id>] [--frame <i>] (--points <pts> | --box <box>) ...
                        [--tree <P> [--iou-threshold <t>] [--uncertainty <u>]] [--reverse] [--max-frames <n>]
                        [--config <file>] [--overwrite] [--quiet]

Tracks objects through a video given as a directory of frames (00000.jpg, 00001.jpg, ... JPEG or PNG,
sorted by number) and writes one label PNG per tracked frame into <dir>, named after the frame
(out/00000.png for frames/00000.jpg). The PNGs use the DAVIS layout: 8-bit palette PNGs whose pixel
value is the object id, 0 = background. Where two objects' masks overlap, the lower object id wins (as the official vos_inference.py).

Prompts. --obj and --frame set the object id and the frame of the --points / --box options that
follow them, until the next --obj / --frame (defaults: object 1, frame 0). Points and a box given
for the same object and frame form one prompt. For example, two objects on frame 0 and a correction
of object 1 on frame 10:
  --obj 1 --points "46,128,1" --obj 2 --box "120,30,180,90" --obj 1 --frame 10 --points "90,150,1;60,140,0"

  --model <file>         a converted .safetensors (its .json beside it) or an official .pt checkpoint
  --config <file>        a model config (YAML or JSON) instead of the one beside / detected for the model
  --frames <dir>         the video frames
  --out <dir>            the output directory (created if missing)
  --obj <id>             object id 1..255 for the prompts that follow
  --frame <i>            frame index (0 = the first frame in the directory) for the prompts that follow
  --points <pts>         clicks "x,y,label;x,y,label..." in pixels; label 1 = object, 0 = background
  --box <box>            "x0,y0,x1,y1" in pixels (top-left, bottom-right)
  --tree <P>             SAM2Long: keep P memory pathways per object (3 in the paper); without it, SAM 2
                         greedy tracking. Every object must be prompted on the same single frame.
  --iou-threshold <t>    SAM2Long: a frame enters memory only if its predicted IoU is above t (default 0.1)
  --uncertainty <u>      SAM2Long: all |object scores| <= u → keep diverse candidates (default 2)
  --reverse              track backwards, from the last prompted frame to frame 0 (greedy only)
  --max-frames <n>       track at most n frames after the start frame
  --overwrite            delete the PNGs an earlier run left in <dir> before writing (otherwise an
                         output directory that holds PNGs is refused)
  --quiet                no progress line on stderr

Tracking starts at the first prompted frame (the last with --reverse); frames before it are not
written. While the masks are being written, <dir>/.incomplete exists; it is removed when the run
completes and says why when the run failed, so a directory with .incomplete is never a finished result.`;

/** One prompt: the clicks and/or box of one object on one frame. */
export interface SegmentPrompt {
  objId: number;
  frame: number;
  points: [number, number][];
  labels: number[];
  box?: [number, number, number, number];
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
export function collectPrompts(tokens: readonly PromptToken[], usage: string): SegmentPrompt[] {
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
    } else if (t.name === 'points' || t.name === 'box') {
      pendingSetting = null;
      const key = `${objId}@${frame}`;
      const p = prompts.get(key) ?? { objId, frame, points: [], labels: [] };
      prompts.set(key, p);
      if (t.name === 'points') {
        const clicks = parsePoints(t.value);
        p.points.push(...clicks.points);
        p.labels.push(...clicks.labels);
      } else {
        if (p.box) throw usageError(`object ${objId} has two --box prompts on frame ${frame}; give one box per object and frame`, usage);
        p.box = parseBox(t.value);
      }
    }
  }
  if (pendingSetting) {
    throw usageError(`${pendingSetting} is not followed by any --points or --box: --obj and --frame apply to the prompts after them`, usage);
  }
  if (!prompts.size) throw usageError('give at least one prompt (--points or --box)', usage);
  return [...prompts.values()];
}

/** A DAVIS label map: index = object id, 0 = background; painted from the highest id down so the lowest id wins overlaps, as the official vos_inference.py does. */
export function labelMap(objIds: readonly number[], masks: readonly Uint8Array[], numPixels: number): Uint8Array {
  const labels = new Uint8Array(numPixels);
  const byId = objIds.map((id, i) => ({ id, mask: masks[i] })).sort((a, b) => b.id - a.id);
  for (const { id, mask } of byId) {
    for (let p = 0; p < numPixels; p++) if (mask[p]) labels[p] = id;
  }
  return labels;
}

/** Marks a directory as being written; removed when the run completes. */
export const INCOMPLETE_MARKER = '.incomplete';

/**
 * The output directory of one run. It is touched only when the first mask is written; from then until
 * `complete()`, INCOMPLETE_MARKER says the set of PNGs is not finished, and each PNG appears under its
 * final name only once it is whole.
 */
export class MaskDirectory {
  private opened = false;
  written = 0;

  /** Refuses a directory that holds PNGs (or the marker of an unfinished run) unless `overwrite`. */
  constructor(readonly dir: string, private readonly overwrite: boolean) {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new InputError(`output '${dir}' exists and is not a directory`);
    const stale = this.staleFiles();
    if (stale.length && !overwrite) {
      throw new InputError(`output directory '${dir}' already holds ${stale.length} mask file(s) (e.g. '${stale[0]}'); ` +
        'pass --overwrite to replace them, or choose another directory');
    }
  }

  /** PNGs, the marker and partial files: what a run writes, so what would mix with its output. */
  private staleFiles(): string[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs.readdirSync(this.dir).filter((f) => /\.png$/i.test(f) || /\.partial$/.test(f) || f === INCOMPLETE_MARKER).sort();
  }

  private open(): void {
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      if (this.overwrite) for (const f of this.staleFiles()) fs.rmSync(path.join(this.dir, f));
      fs.writeFileSync(this.marker, `sam2long segment started writing this directory at ${new Date().toISOString()}.\n` +
        'While this file exists the masks here are not a finished result.\n');
    } catch (err) {
      throw new Sam2LongError(`cannot write to '${this.dir}': ${(err as Error).message}`);
    }
    this.opened = true;
  }

  get marker(): string {
    return path.join(this.dir, INCOMPLETE_MARKER);
  }

  write(name: string, png: Uint8Array): void {
    if (!this.opened) this.open();
    writeFileAtomic(path.join(this.dir, `${name}.png`), png);
    this.written++;
  }

  complete(): void {
    if (this.opened) fs.rmSync(this.marker);
  }

  /** Leaves the marker, with the reason, when the run stops early. */
  fail(reason: string): void {
    if (this.opened) fs.appendFileSync(this.marker, `The run failed after ${this.written} mask(s): ${reason}\n`);
  }
}

/** `--tree` and its options → TreeOptions, or false for greedy tracking. */
function treeOptions(values: { tree?: string; 'iou-threshold'?: string; uncertainty?: string; reverse?: boolean }): Partial<TreeOptions> | false {
  if (values.tree === undefined) {
    const stray = (['iou-threshold', 'uncertainty'] as const).find((k) => values[k] !== undefined);
    if (stray) throw usageError(`--${stray} is a SAM2Long option: use it with --tree <P>`, USAGE);
    return false;
  }
  if (values.reverse) throw usageError('--reverse and --tree do not go together: the SAM2Long tree tracks forward only', USAGE);
  const opts: Partial<TreeOptions> = { pathways: parseInteger(values.tree, '--tree', 1) };
  if (values['iou-threshold'] !== undefined) {
    const t = parseNumber(values['iou-threshold'], '--iou-threshold');
    if (t < 0 || t > 1) throw new InputError(`--iou-threshold: ${t} is not an IoU (0..1)`);
    opts.iouThreshold = t;
  }
  if (values.uncertainty !== undefined) {
    const u = parseNumber(values.uncertainty, '--uncertainty');
    if (u < 0) throw new InputError(`--uncertainty: ${u} must be ≥ 0`);
    opts.uncertainty = u;
  }
  return opts;
}

async function addPrompts(predictor: VideoPredictor, state: VideoState, prompts: SegmentPrompt[]): Promise<void> {
  for (const p of prompts) {
    if (p.box) await predictor.addBox(state, { frame: p.frame, objId: p.objId, box: p.box, points: p.points, labels: p.labels });
    else await predictor.addPoints(state, { frame: p.frame, objId: p.objId, points: p.points, labels: p.labels });
  }
}

/** Tracks and writes every final result; returns the number of frames tracked. */
async function track(predictor: VideoPredictor, state: VideoState, out: MaskDirectory, opts: {
  startFrame: number; reverse: boolean; maxFrames?: number; progress: Progress | null;
}): Promise<number> {
  const { width, height } = state.frames;
  const seen = new Set<number>();
  const { startFrame, reverse, maxFrames } = opts;
  for await (const r of predictor.propagate(state, { startFrame, reverse, maxFrames })) {
    if (!seen.has(r.frame)) {
      seen.add(r.frame);
      opts.progress?.tick();
    }
    // SAM2Long yields a provisional mask online and the final (hindsight) one later: only final ones are written.
    if (r.final) out.write(r.name, encodeLabelPng(labelMap(r.objIds, r.masks, width * height), width, height));
  }
  return seen.size;
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
      tree: { type: 'string' },
      'iou-threshold': { type: 'string' },
      uncertainty: { type: 'string' },
      reverse: { type: 'boolean' },
      'max-frames': { type: 'string' },
      overwrite: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    tokens: true,
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const model = required(values.model, '--model', USAGE);
  const framesDir = required(values.frames, '--frames', USAGE);
  const outDir = required(values.out, '--out', USAGE);
  const prompts = collectPrompts(tokens, USAGE);
  const tree = treeOptions(values);
  const reverse = values.reverse ?? false;
  const maxFrames = values['max-frames'] !== undefined ? parseInteger(values['max-frames'], '--max-frames', 0) : undefined;
  requireFile(model, 'model file');
  if (values.config !== undefined) requireFile(values.config, 'config file');
  const out = new MaskDirectory(outDir, values.overwrite ?? false);
  // Listing the frames first reports a bad directory before the (slow) model load; frames decode later.
  const frames = frameSource(framesDir);

  await initBackend();
  const predictor = await VideoPredictor.fromCheckpoint(model, { config: values.config, tree });
  let state: VideoState | undefined;
  let progress: Progress | null = null;
  try {
    state = await predictor.initState(frames);
    const started = performance.now();
    await addPrompts(predictor, state, prompts);
    const promptFrames = prompts.map((p) => p.frame);
    const startFrame = reverse ? Math.max(...promptFrames) : Math.min(...promptFrames);
    const total = [...processingOrder(startFrame, maxFrames ?? state.numFrames, state.numFrames, reverse)].length;
    progress = values.quiet ? null : new Progress({ label: tree ? `segment (SAM2Long P=${tree.pathways})` : 'segment', total });
    const tracked = await track(predictor, state, out, { startFrame, reverse, maxFrames, progress });
    progress?.finish();
    out.complete();
    const seconds = (performance.now() - started) / 1000;
    console.log(`wrote ${out.written} mask(s) for objects ${state.objIds.join(', ')} to ${outDir} ` +
      `(${tracked} frames in ${seconds.toFixed(1)} s, ${(tracked / seconds).toFixed(1)} frames/s)`);
  } catch (err) {
    progress?.finish();
    const reason = (err as Error).message;
    out.fail(reason);
    if (out.written) console.error(`sam2long segment: stopped after ${out.written} mask(s); '${out.marker}' marks '${outDir}' as unfinished`);
    throw err;
  } finally {
    state?.dispose();
    predictor.model.dispose();
  }
  return 0;
}
