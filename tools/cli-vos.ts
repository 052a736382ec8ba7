/**
 * `sam2long vos`: every video of a VOS dataset (DAVIS or SA-V layout) as the official tools/vos_inference.py
 * of sam2 / SAM2Long runs them, in this process or (with --queue) as BullMQ jobs for `sam2long worker`s.
 */
import * as path from 'node:path';
import {
  DATASET_SUMMARY, type DatasetInput, type DatasetSummary, initBackend, InputError, segmentDataset, VIDEO_RECORD, type VideoRecord,
  type VosSettingsInput,
} from '../src/index.js';
import { checkDatasetFolders } from '../src/node/vos/segment-dataset.js';
import { PARTIAL_DIR } from '../src/node/vos/process-video.js';
import { parseCommandArgs, parseInteger, parseNumber, required } from './cli-args.js';
import { Progress } from './progress.js';

export const USAGE = `usage: sam2long vos --model <m.safetensors|m.pt> --videos <root>/JPEGImages --masks <root>/Annotations --out <preds>
                    [--tree <P> [--iou-threshold <t>] [--uncertainty <u>]] [--track-later] [--use-all-masks]
                    [--per-object-png] [--video-list <file>] [--config <file>] [--overwrite]
                    [--queue redis://host:port[/db]] [--quiet]

Segments every video of a semi-supervised VOS dataset (DAVIS, SA-V, LVOS, MOSE, ...) from its annotation
masks, as the official tools/vos_inference.py of sam2 and SAM2Long do, and writes <preds>/<video>/<frame>.png
(palette PNGs, the input's palette, named after the JPEG frames) for \`sam2long eval\`.

  --videos <dir>         one folder of JPEG frames per video (00000.jpg, ... sorted by number)
  --masks <dir>          the annotations: <video>/<frame>.png, 8-bit palette PNGs, pixel value = object id
                         (with --per-object-png: <video>/<id as 001>/<frame>.png, non-zero = object)
  --out <dir>            the predictions (created if missing); <dir>/${DATASET_SUMMARY} records every video
  --tree <P>             SAM2Long with P memory pathways (3 in the paper); as SAM2Long's script, every object
                         is tracked from the first frame it appears on. Without it: SAM 2
  --iou-threshold <t>    SAM2Long: default 0.1 (SAM2Long's README commands; its script's argparse default is 0.3)
  --uncertainty <u>      SAM2Long: default 2
  --track-later          SAM 2: every object from the first frame it appears on, each tracked on its own
                         (the official --track_object_appearing_later_in_video; needed for LVOS, YouTube-VOS).
                         Without it, the objects of the first frame's annotation only.
  --use-all-masks        every annotation PNG is a prompt, not only the first (SAM 2 only)
  --per-object-png       the SA-V layout in and out: one folder of binary PNGs per object; masks may overlap
  --video-list <file>    the videos to run, one name per line (default: every folder of --videos)
  --overwrite            replace video outputs written with other settings (otherwise those videos fail)
  --queue <url>          do not segment here: submit one job per video to the BullMQ queue in this Redis,
                         wait for \`sam2long worker\`s to finish them (with progress), then write ${DATASET_SUMMARY}
  --quiet                no progress lines on stderr

Overlapping masks follow the official rule: at each pixel the object with the highest logit wins (the
others' logits are clamped to at most -10), then logits > 0 are the masks (not with --per-object-png).
Resumable: each video is written into <out>/${PARTIAL_DIR}/ and renamed into place with a record of its settings
(<video>/${VIDEO_RECORD}); a video already complete for the same settings is skipped. A video that fails (a
corrupt frame, a missing annotation) is reported with its reason and the others still run; the exit status
is then 1.`;

export interface VosCommand extends DatasetInput {
  quiet: boolean;
  queue?: string;
}

export function parseVosArgs(argv: string[]): VosCommand {
  const { values } = parseCommandArgs({
    args: argv,
    options: {
      model: { type: 'string' }, config: { type: 'string' }, videos: { type: 'string' }, masks: { type: 'string' }, out: { type: 'string' },
      tree: { type: 'string' }, 'iou-threshold': { type: 'string' }, uncertainty: { type: 'string' },
      'track-later': { type: 'boolean' }, 'use-all-masks': { type: 'boolean' }, 'per-object-png': { type: 'boolean' },
      'video-list': { type: 'string' }, overwrite: { type: 'boolean' }, queue: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    },
    strict: true,
  });
  const settings: VosSettingsInput = {
    model: required(values.model, '--model'),
    config: values.config,
    trackLater: values['track-later'] ?? false,
    useAllMasks: values['use-all-masks'] ?? false,
    perObjectPng: values['per-object-png'] ?? false,
  };
  if (values.tree !== undefined) {
    if (settings.trackLater) throw new InputError('--track-later is SAM 2\'s per-object mode; --tree (SAM2Long) always tracks each object from its first frame');
    if (settings.useAllMasks) throw new InputError('--use-all-masks does not go with --tree: the SAM2Long tree takes one prompt frame per object');
    settings.tree = { pathways: parseInteger(values.tree, '--tree', 1) };
    if (values['iou-threshold'] !== undefined) {
      const t = parseNumber(values['iou-threshold'], '--iou-threshold');
      if (t < 0 || t > 1) throw new InputError(`--iou-threshold: ${t} is not an IoU (0..1)`);
      settings.tree.iouThreshold = t;
    }
    if (values.uncertainty !== undefined) {
      const u = parseNumber(values.uncertainty, '--uncertainty');
      if (u < 0) throw new InputError(`--uncertainty: ${u} must be ≥ 0`);
      settings.tree.uncertainty = u;
    }
  } else {
    const stray = (['iou-threshold', 'uncertainty'] as const).find((k) => values[k] !== undefined);
    if (stray) throw new InputError(`--${stray} is a SAM2Long option: use it with --tree <P>`);
  }
  const queue = values.queue;
  if (queue !== undefined && !/^rediss?:\/\//.test(queue)) throw new InputError(`--queue '${queue}': expected redis://host:port[/db]`);
  return {
    videos: required(values.videos, '--videos'),
    masks: required(values.masks, '--masks'),
    out: required(values.out, '--out'),
    settings, videoList: values['video-list'], overwrite: values.overwrite ?? false, quiet: values.quiet ?? false, queue,
  };
}

/** Prints what happened to each video and the totals; the exit status (1 when a video failed). */
export function reportSummary(summary: DatasetSummary, out: string): number {
  const count = (s: VideoRecord['status']) => summary.videos.filter((v) => v.status === s).length;
  for (const v of summary.videos) if (v.status === 'failed') console.error(`sam2long vos: video ${v.video} failed: ${v.error}`);
  console.log(`${summary.videos.length} video(s): ${count('done')} segmented, ${count('skipped')} already complete, ${count('failed')} failed ` +
    `(${summary.seconds.toFixed(1)} s); ${path.join(out, DATASET_SUMMARY)}`);
  if (summary.failed.length) console.error(`sam2long vos: failed videos: ${summary.failed.join(', ')}`);
  return summary.failed.length ? 1 : 0;
}

export async function run(argv: string[]): Promise<number> {
  const cmd = parseVosArgs(argv);
  checkDatasetFolders(cmd.videos, cmd.masks);
  if (cmd.queue !== undefined) {
    const { submitAndWait } = await import('../src/node/vos/queue.js');
    let shown = 0;
    let progress: Progress | null = null;
    const summary = await submitAndWait({
      ...cmd, url: cmd.queue,
      onProgress: ({ finished, total }) => {
        if (cmd.quiet) return;
        progress ??= new Progress({ label: `vos --queue (waiting for workers)`, total, unit: 'videos' });
        for (; shown < finished; shown++) progress.tick();
      },
    });
    (progress as Progress | null)?.finish();
    return reportSummary(summary, cmd.out);
  }
  await initBackend();
  let progress: Progress | null = null;
  let videoIndex = 0;
  let videoTotal = 0;
  const summary = await segmentDataset({
    ...cmd,
    onEvent: (e) => {
      if (cmd.quiet) return;
      if (e.type === 'video-start') progress = null;
      if (e.type === 'frames') {
        progress ??= new Progress({ label: `vos video ${videoIndex + 1}/${videoTotal} ${e.video}`, total: e.total });
        progress.tick();
      }
      if (e.type === 'video-start') [videoIndex, videoTotal] = [e.index, e.total];
      if (e.type === 'video-end') {
        (progress as Progress | null)?.finish();
        if (e.record.status === 'skipped') console.error(`vos video ${e.index + 1}/${e.total} ${e.record.video}: already complete, skipped`);
      }
    },
  });
  return reportSummary(summary, cmd.out);
}
