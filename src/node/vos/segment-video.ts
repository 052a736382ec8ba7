/**
 * One video of a VOS dataset, as the official `tools/vos_inference.py` segments it (see settings.ts for the
 * three modes): mask prompts from the annotation PNGs, propagation, the non-overlap rule, PNGs out.
 *
 * In the per-object modes every object starts on the first frame it appears on. All objects are tracked in one
 * propagation, one batch row each (each with its own memory, and its own tree with SAM2Long, from its own
 * start frame), so a frame is encoded once for all of them; the results equal the official per-object runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../errors.js';
import type { VideoPredictor } from '../../predictor/video-predictor.js';
import { atVideoResolution } from '../../predictor/frame-results.js';
import { upsampledLogits } from '../../predictor/transforms.js';
import { NOT_STARTED_LOGIT, applyNonOverlap, thresholdLogits } from '../../predictor/non-overlap.js';
import { DAVIS_PALETTE, readAnnotation, videoFrames, writeFrameMasks, type VideoFrames } from './layout.js';
import type { VosSettings } from './settings.js';

/** One object's mask prompts: frame index → binary mask (video size). */
export interface ObjectPrompts {
  id: number;
  masks: Map<number, Uint8Array>;
}

export interface VideoPlan {
  frames: VideoFrames;
  width: number;
  height: number;
  objects: ObjectPrompts[];
  palette?: Uint8Array;
}

/** The mask prompts of a video, read as the official script of `settings.mode` reads them. */
export function planVideo(videosRoot: string, masksRoot: string, video: string, settings: VosSettings): VideoPlan {
  const frames = videoFrames(videosRoot, video);
  const read = (i: number) => readAnnotation(masksRoot, video, frames.names[i], settings.perObjectPng);
  const objects = new Map<number, ObjectPrompts>();
  let size: { width: number; height: number } | undefined;
  let palette: Uint8Array | undefined;
  const take = (i: number, ann: NonNullable<ReturnType<typeof read>>) => {
    size ??= { width: ann.width, height: ann.height };
    if (ann.width !== size.width || ann.height !== size.height) {
      throw new InputError(`video ${video}: the annotation of frame ${frames.names[i]} is ${ann.width}x${ann.height}, an earlier one ${size.width}x${size.height}`);
    }
    palette = ann.palette ?? palette;
  };
  if (settings.mode === 'sam2') {
    // vos_inference: the first frame's annotation (all annotated frames with useAllMasks); its objects only.
    const inputs = settings.useAllMasks ? frames.names.map((_, i) => i).filter((i) => hasAnnotation(masksRoot, video, frames.names[i], settings.perObjectPng)) : [0];
    if (!inputs.length) throw new InputError(`video ${video}: no annotation PNG in '${path.join(masksRoot, video)}'`);
    for (const i of inputs) {
      const ann = read(i);
      if (!ann) {
        throw new InputError(`video ${video}: no annotation for its first frame ${frames.names[i]} (objects that appear later need --track-later)`);
      }
      take(i, ann);
      for (const [id, mask] of ann.objects) {
        if (i !== inputs[0] && !objects.has(id)) {
          throw new InputError(`video ${video}: object ${id} appears only on the later frame ${frames.names[i]} (use --track-later)`);
        }
        if (!objects.has(id)) objects.set(id, { id, masks: new Map() });
        objects.get(id)?.masks.set(i, mask);
      }
    }
  } else {
    // vos_separate_inference_per_object: every annotation; each object from its first non-empty mask.
    frames.names.forEach((_, i) => {
      const ann = read(i);
      if (!ann) return;
      take(i, ann);
      for (const [id, mask] of ann.objects) {
        if (!mask.some((v) => v)) continue;
        const o = objects.get(id) ?? { id, masks: new Map() };
        objects.set(id, o);
        if (o.masks.size && !settings.useAllMasks) continue;
        o.masks.set(i, mask);
      }
    });
  }
  if (!objects.size || !size) throw new InputError(`video ${video}: no object in its annotations ('${path.join(masksRoot, video)}')`);
  const list = [...objects.values()].sort((a, b) => a.id - b.id);
  if (settings.mode === 'sam2long') {
    const multi = list.find((o) => o.masks.size > 1);
    if (multi) throw new InputError(`video ${video}: object ${multi.id} has masks on several frames; the SAM2Long tree takes one prompt frame per object (drop --use-all-masks)`);
  }
  return { frames, ...size, objects: list, palette };
}

function hasAnnotation(masksRoot: string, video: string, frameName: string, perObjectPng: boolean): boolean {
  if (!perObjectPng) return fs.existsSync(path.join(masksRoot, video, `${frameName}.png`));
  const dir = path.join(masksRoot, video);
  return fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && fs.existsSync(path.join(dir, e.name, `${frameName}.png`)));
}

export interface VideoProgress {
  /** Frames tracked so far and how many there are to track. */
  done: number;
  total: number;
}

export interface VideoOutcome {
  /** Frames written. */
  frames: number;
  objects: number[];
}

/**
 * Segments one video into `outDir` (which must exist): PNGs per the settings' layout, each frame written as soon
 * as its masks are final, so nothing of the video but its current frames is held.
 */
export async function segmentVideo(predictor: VideoPredictor, args: {
  videosRoot: string; masksRoot: string; video: string; settings: VosSettings; outDir: string;
  onProgress?: (p: VideoProgress) => void;
}): Promise<VideoOutcome> {
  const { settings, outDir } = args;
  const plan = planVideo(args.videosRoot, args.masksRoot, args.video, settings);
  const objIds = plan.objects.map((o) => o.id);
  const h4 = predictor.model.sizes.lowResSize;
  const state = await predictor.initState(plan.frames.files);
  try {
    const { width, height } = state.frames;
    if (width !== plan.width || height !== plan.height) {
      throw new InputError(`video ${args.video}: frames are ${width}x${height} but its annotations ${plan.width}x${plan.height}`);
    }
    const layout = { perObjectPng: settings.perObjectPng, palette: plan.palette ?? DAVIS_PALETTE };
    let written = 0;
    const write = (frame: number, low: Float32Array[]) => {
      const logits = atVideoResolution(low, h4, height, width, upsampledLogits);
      // The official main() builds the model with non_overlap_masks unless it writes per-object PNGs.
      const masks = (settings.perObjectPng ? logits : applyNonOverlap(logits)).map((l) => thresholdLogits(l, 0));
      writeFrameMasks(outDir, plan.frames.names[frame], objIds, masks, width, height, layout);
      written++;
    };
    const start = Math.min(...plan.objects.flatMap((o) => [...o.masks.keys()]));
    // vos_inference writes the frames it propagates; the per-object script every frame, empty before any object starts.
    if (settings.mode !== 'sam2') for (let f = 0; f < start; f++) write(f, objIds.map(() => new Float32Array(h4 * h4).fill(NOT_STARTED_LOGIT)));
    for (const o of plan.objects) {
      for (const [frame, mask] of [...o.masks].sort((x, y) => x[0] - y[0])) await predictor.addMask(state, { frame, objId: o.id, mask });
    }
    const progress = { done: 0, total: state.numFrames - start };
    for await (const r of predictor.propagate(state, { startFrame: start })) {
      if (r.frame - start + 1 > progress.done) {
        progress.done = r.frame - start + 1;
        args.onProgress?.({ ...progress });
      }
      // SAM2Long yields a provisional result online and the final (hindsight) one later. An object not started
      // yet comes as NO_OBJ_SCORE (-1024) everywhere, as the official script fills it.
      if (r.final) write(r.frame, objIds.map((id) => r.lowResLogits[r.objIds.indexOf(id)]));
    }
    return { frames: written, objects: objIds };
  } finally {
    state.dispose();
  }
}
