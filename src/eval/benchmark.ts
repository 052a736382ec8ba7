/**
 * J&F over a GT folder and a prediction folder, as the SA-V evaluator (SAM2Long's copy of
 * sav_dataset/utils/sav_benchmark.py) computes it.
 *
 * Layout, per video: `<root>/<video>/<frame>.png` with object ids as values (DAVIS-like) when every entry of
 * the GT video folder ends in ".png", else `<root>/<video>/<object>/<frame>.png` with one binary mask per
 * PNG (SA-V). Frames are the GT file names, sorted; by default the first and last are dropped. Each GT video,
 * or each object folder, is one sequence (see SequenceEvaluator). An object's J and F are 100 · the mean of
 * its per-frame values; the global J and F are means over all objects of all videos, J&F their average.
 *
 * Where the official code crashes or returns NaN this throws an InputError that names the problem. Not
 * reproduced: SAM2Long's bilinear resize of a prediction whose size differs from its GT (an error here), and
 * the official root guessing (a GT root with an "Annotations" folder). A DAVIS-like video's objects are taken
 * in ascending label order, where Python iterates a set; that order only moves the global mean's last bits.
 */
import { InputError } from '../errors.js';
import type { LabelMap, MaskTree } from './mask-tree.js';
import { numpyMean } from './mean.js';
import { SequenceEvaluator, distinctValues, type LabelScore } from './sequence-evaluator.js';

export type Layout = 'sa-v' | 'davis-like';

export interface EvaluateOptions {
  /** Drop the first and last GT frame of each sequence (default true: SA-V val/test and DAVIS semi-supervised). */
  readonly skipFirstLast?: boolean;
  /** Require the same video folders under both roots (default false: evaluate the videos present in both). */
  readonly strict?: boolean;
  /**
   * GT value 255 is background (default true: SAM2Long's evaluator, for VOST's void label). false scores it
   * as object 255, as facebookresearch/sam2's evaluator does.
   */
  readonly gtVoidIsBackground?: boolean;
}

export interface ObjectScore extends LabelScore {
  readonly video: string;
  /** The object folder (SA-V layout) or the label as a decimal string (DAVIS-like layout). */
  readonly object: string;
  /** (J + F) / 2, in percent. */
  readonly JF: number;
}

export interface VideoScore {
  readonly video: string;
  readonly layout: Layout;
  /** Every scored object, prediction-only labels included (reported: false). */
  readonly objects: readonly ObjectScore[];
}

export interface EvaluationResult {
  readonly skipFirstLast: boolean;
  readonly videos: readonly VideoScore[];
  /** The reported objects of all videos, in the order the global means take them. */
  readonly objects: readonly ObjectScore[];
  /** Means over `objects`, in percent; JF = (J + F) / 2. */
  readonly global: { readonly J: number; readonly F: number; readonly JF: number };
  /** Videos left out because only the GT root has them (non-strict mode). */
  readonly gtOnlyVideos: readonly string[];
  /** Videos left out because only the prediction root has them (non-strict mode). */
  readonly predOnlyVideos: readonly string[];
}

interface Sequence {
  readonly layout: Layout;
  /** Path of the folder holding the frames, below either root. */
  readonly segments: readonly string[];
  /** GT frame file names, sorted. */
  readonly frames: readonly string[];
}

const VOID = 255;

/** Python's string order (by code point); JS's default order differs past U+FFFF. */
function byCodePoint(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) as number);
  const y = Array.from(b, (c) => c.codePointAt(0) as number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort(byCodePoint);
}

function sequencesOf(gt: MaskTree, video: string): Sequence[] {
  const entries = (gt.list([video]) ?? []).sort((a, b) => byCodePoint(a.name, b.name));
  if (entries.every((e) => e.name.endsWith('.png'))) {
    return [{ layout: 'davis-like', segments: [video], frames: entries.map((e) => e.name) }];
  }
  return entries.map((e) => {
    if (!e.isFolder) {
      throw new InputError(`${gt.describe([video, e.name])}: a GT video folder holds either only .png frames (DAVIS-like layout) or only object folders (SA-V layout)`);
    }
    const frames = sortedNames((gt.list([video, e.name]) ?? []).map((f) => f.name));
    return { layout: 'sa-v', segments: [video, e.name], frames };
  });
}

function withoutVoid(map: LabelMap): LabelMap {
  return map.data.includes(VOID) ? { ...map, data: map.data.map((v) => (v === VOID ? 0 : v)) } : map;
}

/** The SA-V layout's mask: at most two distinct values in the PNG, anything non-zero is the object. */
function binaryMask(map: LabelMap, where: string): LabelMap {
  const values = distinctValues(map.data);
  if (values.length > 2) {
    throw new InputError(`${where}: ${values.length} distinct values (${values.slice(0, 8).join(', ')}${values.length > 8 ? ', …' : ''}); ` +
      'the SA-V layout takes one binary mask per PNG (one folder per object)');
  }
  const data = new Uint8Array(map.data.length);
  for (let i = 0; i < data.length; i++) if (map.data[i] > 0) data[i] = 1;
  return { ...map, data };
}

function scoreSequence(gt: MaskTree, pred: MaskTree, seq: Sequence, options: Required<EvaluateOptions>): LabelScore[] {
  const frames = options.skipFirstLast ? seq.frames.slice(1, -1) : seq.frames;
  const predFrames = new Set((pred.list(seq.segments) ?? []).map((e) => e.name));
  const evaluator = new SequenceEvaluator();
  for (const frame of frames) {
    const at = [...seq.segments, frame];
    if (!predFrames.has(frame)) throw new InputError(`${pred.describe(at)} not found: every evaluated GT frame needs a prediction with the same file name`);
    let g = gt.read(at);
    let p = pred.read(at);
    if (g.width !== p.width || g.height !== p.height) {
      throw new InputError(`${pred.describe(at)} is ${p.width}x${p.height} but its GT is ${g.width}x${g.height}: predictions must have the GT's size`);
    }
    if (options.gtVoidIsBackground) g = withoutVoid(g);
    if (seq.layout === 'sa-v') {
      g = binaryMask(g, gt.describe(at));
      p = binaryMask(p, pred.describe(at));
    }
    evaluator.feed(frame, g, p);
  }
  const labels = evaluator.conclude();
  if (seq.layout === 'sa-v' && !labels.some((l) => l.reported)) {
    // The official evaluator stops here with a bare AssertionError (VideoEvaluator.consolidate).
    throw new InputError(`${gt.describe(seq.segments)}: the GT mask is empty on all ${frames.length} evaluated frame(s)` +
      `${options.skipFirstLast ? ' (the first and last frame are skipped)' : ''}, so this object has no J&F`);
  }
  return labels;
}

function scoreVideo(gt: MaskTree, pred: MaskTree, video: string, options: Required<EvaluateOptions>): VideoScore {
  const sequences = sequencesOf(gt, video);
  const objects = sequences.flatMap((seq) => scoreSequence(gt, pred, seq, options).map((score): ObjectScore => ({
    ...score,
    video,
    object: seq.layout === 'sa-v' ? seq.segments[1] : String(score.label),
    JF: (score.J + score.F) / 2,
  })));
  return { video, layout: sequences[0]?.layout ?? 'davis-like', objects };
}

function videoFolders(tree: MaskTree, role: string): Set<string> {
  const entries = tree.list([]);
  if (!entries) throw new InputError(`${role} folder ${tree.describe([])} not found`);
  return new Set(entries.filter((e) => e.isFolder).map((e) => e.name));
}

/** J&F of the predictions in `pred` against the GT in `gt` (any MaskTree, e.g. in memory). */
export function evaluateTrees(gt: MaskTree, pred: MaskTree, options: EvaluateOptions = {}): EvaluationResult {
  const opts: Required<EvaluateOptions> = { skipFirstLast: true, strict: false, gtVoidIsBackground: true, ...options };
  const gtVideos = videoFolders(gt, 'GT');
  const predVideos = videoFolders(pred, 'prediction');
  const gtOnlyVideos = sortedNames([...gtVideos].filter((v) => !predVideos.has(v)));
  const predOnlyVideos = sortedNames([...predVideos].filter((v) => !gtVideos.has(v)));
  if (opts.strict && (gtOnlyVideos.length > 0 || predOnlyVideos.length > 0)) {
    throw new InputError(`strict mode: the video folders differ (only in the GT: ${gtOnlyVideos.join(', ') || 'none'}; ` +
      `only in the predictions: ${predOnlyVideos.join(', ') || 'none'})`);
  }
  const names = sortedNames([...gtVideos].filter((v) => predVideos.has(v)));
  if (names.length === 0) throw new InputError(`no video folder is in both ${gt.describe([])} and ${pred.describe([])}`);
  const videos = names.map((video) => scoreVideo(gt, pred, video, opts));
  const objects = videos.flatMap((v) => v.objects.filter((o) => o.reported));
  if (objects.length === 0) {
    // The official evaluator prints nan here (the mean of no objects).
    throw new InputError(`no GT object on any evaluated frame of ${names.join(', ')}${opts.skipFirstLast ? ' (the first and last frame are skipped)' : ''}: J&F is undefined`);
  }
  const J = numpyMean(objects.map((o) => o.J));
  const F = numpyMean(objects.map((o) => o.F));
  return { skipFirstLast: opts.skipFirstLast, videos, objects, global: { J, F, JF: (J + F) / 2 }, gtOnlyVideos, predOnlyVideos };
}
