/**
 * One video of a dataset run, safe to repeat and to kill: it is written into a temporary folder and renamed
 * into place with a record of its settings, so a video folder under its final name is always complete. A
 * video already complete under the same settings is skipped. The dataset runner and the queue worker both
 * process videos through here.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Sam2LongError } from '../../errors.js';
import type { VideoPredictor } from '../../predictor/video-predictor.js';
import { segmentVideo, type VideoProgress } from './segment-video.js';
import { sameSettings, type VosSettings } from './settings.js';

/** The record of a finished video, inside its output folder: its presence marks the folder complete. */
export const VIDEO_RECORD = '.sam2long-vos.json';
/**
 * Videos being written live in `<out>/.partial/<video>/<writer>` until they are renamed into place: a folder per
 * video, so that clearing what a killed writer left of one video never touches another's (`a` and `a.b`).
 */
export const PARTIAL_DIR = '.partial';

export type VideoStatus = 'done' | 'skipped' | 'failed';

export interface VideoRecord {
  video: string;
  status: VideoStatus;
  /** Frames written (of the complete output, for a skipped video). */
  frames: number;
  objects: number[];
  /** Seconds this run spent on the video (0 when skipped). */
  seconds: number;
  /** Why it failed. */
  error?: string;
}

interface StoredRecord {
  complete: true;
  settings: VosSettings;
  video: string;
  frames: number;
  objects: number[];
  seconds: number;
  finishedAt: string;
}

function readRecord(dir: string): StoredRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(path.join(dir, VIDEO_RECORD), 'utf8')) as StoredRecord;
    return r.complete === true ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The finished output of `video` under `settings`, if `out` has one. */
export function completedVideo(out: string, video: string, settings: VosSettings): VideoRecord | undefined {
  const r = readRecord(path.join(out, video));
  if (!r || !sameSettings(r.settings, settings)) return undefined;
  return { video, status: 'skipped', frames: r.frames, objects: r.objects, seconds: 0 };
}

export interface ProcessVideoArgs {
  videosRoot: string;
  masksRoot: string;
  out: string;
  video: string;
  settings: VosSettings;
  /** Replace an output of other settings (or not written by this runner); without it such a video fails. */
  overwrite?: boolean;
  onProgress?: (p: VideoProgress) => void;
}

/** Segments `video` into `<out>/<video>` unless it is complete for the same settings. Never throws for the video's own problems. */
export async function processVideo(predictor: VideoPredictor | (() => Promise<VideoPredictor>), a: ProcessVideoArgs): Promise<VideoRecord> {
  const started = performance.now();
  const final = path.join(a.out, a.video);
  const done = completedVideo(a.out, a.video, a.settings);
  if (done) return done;
  let tmp: string | undefined;
  try {
    if (fs.existsSync(final) && !a.overwrite) {
      const why = readRecord(final) ? 'was written with other settings' : 'is not a finished output of sam2long vos';
      throw new Sam2LongError(`output folder '${final}' ${why}; pass --overwrite to replace it, or choose another --out`);
    }
    const partial = partialFolder(a.out, a.video);
    // A writer killed on this video left its folder here: whoever holds the video now owns it.
    fs.rmSync(partial, { recursive: true, force: true });
    tmp = path.join(partial, `${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`);
    // One recursive mkdir: it recreates a parent another writer removed as empty meanwhile.
    fs.mkdirSync(tmp, { recursive: true });
    const p = typeof predictor === 'function' ? await predictor() : predictor;
    const outcome = await segmentVideo(p, { ...a, outDir: tmp });
    const seconds = (performance.now() - started) / 1000;
    const record: StoredRecord = {
      complete: true, settings: a.settings, video: a.video, frames: outcome.frames, objects: outcome.objects, seconds, finishedAt: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(tmp, VIDEO_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    moveIntoPlace(tmp, final, a);
    tmp = undefined;
    removePartialFolders(a.out, a.video);
    return { video: a.video, status: 'done', frames: outcome.frames, objects: outcome.objects, seconds };
  } catch (err) {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    removePartialFolders(a.out, a.video);
    return { video: a.video, status: 'failed', frames: 0, objects: [], seconds: (performance.now() - started) / 1000, error: (err as Error).message };
  }
}

/** Renames the finished `tmp` to `final`; an older output there is replaced only with `overwrite`. */
function moveIntoPlace(tmp: string, final: string, a: ProcessVideoArgs): void {
  if (fs.existsSync(final)) {
    // Another writer of the same video (a retried queue job) may have finished first: its output is as good.
    if (completedVideo(a.out, a.video, a.settings)) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return;
    }
    if (!a.overwrite) throw new Sam2LongError(`output folder '${final}' appeared while the video was being segmented`);
    const old = `${tmp}.old`;
    fs.renameSync(final, old);
    fs.renameSync(tmp, final);
    fs.rmSync(old, { recursive: true, force: true });
    return;
  }
  fs.renameSync(tmp, final);
}

/** Where the writers of `video` keep their unfinished folders. */
export function partialFolder(out: string, video: string): string {
  return path.join(out, PARTIAL_DIR, video);
}

/** The video's partial folder, then `.partial` itself, when nothing is left in them. */
function removePartialFolders(out: string, video: string): void {
  removeIfEmpty(partialFolder(out, video));
  removeIfEmpty(path.join(out, PARTIAL_DIR));
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty (another video is being written) or already gone
  }
}
