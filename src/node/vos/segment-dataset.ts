/**
 * `segmentDataset`: every video of a VOS dataset (DAVIS or SA-V layout) as the official
 * `tools/vos_inference.py` runs them, in this process, with one model. Resumable (finished videos are
 * skipped), safe to kill (see process-video.ts), and a failing video is reported while the others run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, outputError } from '../../errors.js';
import { makeDirectory, writeFileAtomically } from '../files.js';
import { VideoPredictor } from '../../predictor/video-predictor.js';
import { listVideos } from './layout.js';
import { processVideo, type VideoRecord } from './process-video.js';
import { resolveSettings, type VosSettings, type VosSettingsInput } from './settings.js';

export const DATASET_SUMMARY = 'summary.json';

export type DatasetEvent =
  | { type: 'start'; videos: string[] }
  | { type: 'video-start'; video: string; index: number; total: number }
  | { type: 'frames'; video: string; done: number; total: number }
  | { type: 'video-end'; record: VideoRecord; index: number; total: number };

/** A dataset, its output folder and the settings: what a run is asked for, here or through the queue. */
export interface DatasetInput {
  /** `<root>/JPEGImages`: one folder of JPEG frames per video. */
  videos: string;
  /** `<root>/Annotations`: the mask prompts (DAVIS palette PNGs, or per-object folders with perObjectPng). */
  masks: string;
  /** Where each video's folder of PNGs goes, and summary.json. */
  out: string;
  settings: VosSettingsInput;
  /** A text file naming the videos to run, one per line (default: every folder of `videos`). */
  videoList?: string;
  /** Replace video outputs of other settings (otherwise those videos fail). */
  overwrite?: boolean;
}

export interface DatasetOptions extends DatasetInput {
  /** A predictor already loaded for these settings (its model is not disposed here). */
  predictor?: VideoPredictor;
  onEvent?: (e: DatasetEvent) => void;
}

export interface DatasetSummary {
  settings: VosSettings;
  videos: VideoRecord[];
  failed: string[];
  seconds: number;
  finishedAt: string;
}

/** The predictor the settings describe. */
export function loadVosPredictor(settings: VosSettings): Promise<VideoPredictor> {
  const tree = settings.tree && { pathways: settings.tree.pathways, iouThreshold: settings.tree.iouThreshold, uncertainty: settings.tree.uncertainty };
  return VideoPredictor.fromCheckpoint(settings.model, { config: settings.config, tree: tree ?? false });
}

export function checkDatasetFolders(videos: string, masks: string): void {
  for (const [dir, what] of [[videos, '--videos'], [masks, '--masks']] as const) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new InputError(`${what} '${dir}' is not a folder`);
  }
}

/** Writes `<out>/summary.json` (atomically: writeFileAtomically); a failure is one OutputError line. */
export function writeDatasetSummary(out: string, summary: DatasetSummary): void {
  const file = path.join(out, DATASET_SUMMARY);
  try {
    makeDirectory(out);
    writeFileAtomically(file, (write) => write(new TextEncoder().encode(`${JSON.stringify(summary, null, 2)}\n`)));
  } catch (err) {
    throw outputError(file, err);
  }
}

export async function segmentDataset(o: DatasetOptions): Promise<DatasetSummary> {
  const settings = resolveSettings(o.settings);
  checkDatasetFolders(o.videos, o.masks);
  const videos = listVideos(o.videos, o.videoList);
  makeDirectory(o.out);
  const started = performance.now();
  o.onEvent?.({ type: 'start', videos });
  let loaded: VideoPredictor | undefined;
  const predictor = async () => (o.predictor ?? (loaded ??= await loadVosPredictor(settings)));
  const records: VideoRecord[] = [];
  try {
    for (const [index, video] of videos.entries()) {
      o.onEvent?.({ type: 'video-start', video, index, total: videos.length });
      const record = await processVideo(predictor, {
        videosRoot: o.videos, masksRoot: o.masks, out: o.out, video, settings, overwrite: o.overwrite,
        onProgress: (p) => o.onEvent?.({ type: 'frames', video, ...p }),
      });
      records.push(record);
      o.onEvent?.({ type: 'video-end', record, index, total: videos.length });
    }
  } finally {
    loaded?.model.dispose();
  }
  const summary: DatasetSummary = {
    settings, videos: records, failed: records.filter((r) => r.status === 'failed').map((r) => r.video),
    seconds: (performance.now() - started) / 1000, finishedAt: new Date().toISOString(),
  };
  writeDatasetSummary(o.out, summary);
  return summary;
}
