/**
 * A dataset run spread over machines with BullMQ (Redis): `sam2long vos --queue` submits one job per video
 * and waits; `sam2long worker`s take jobs, one video at a time per slot. Jobs are at-least-once: a worker that
 * dies stops renewing its lock, and its job goes back to the queue for another worker. That is harmless because
 * a video's output appears only by an atomic rename of a complete folder (process-video.ts).
 */
import * as path from 'node:path';
import { Queue, type ConnectionOptions, type Job } from 'bullmq';
import { InputError } from '../../errors.js';
import { makeDirectory } from '../files.js';
import { listVideos } from './layout.js';
import { completedVideo, type VideoRecord } from './process-video.js';
import { resolveSettings, settingsHash, type VosSettings } from './settings.js';
import { writeDatasetSummary, type DatasetInput, type DatasetSummary } from './segment-dataset.js';
import type { VideoProgress } from './segment-video.js';

export const QUEUE_NAME = 'sam2long-vos';

/** What a job carries: everything a worker needs to segment one video (paths every worker can reach). */
export interface VideoJobData {
  videosRoot: string;
  masksRoot: string;
  out: string;
  video: string;
  settings: VosSettings;
  overwrite: boolean;
}

/** `redis://[user:password@]host:port[/db]` as BullMQ connection options. */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`queue URL '${url}' is not a URL (expected redis://host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InputError(`queue URL '${url}': expected redis://host:port[/db]`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new InputError(`queue URL '${url}': the database '${db}' is not a number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(db ? { db: Number(db) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ workers block on Redis; a failed command must wait for the reconnection, not give up.
    maxRetriesPerRequest: null,
  };
}

/** A job id from the video and the settings (and output folder): submitting twice adds nothing. */
export function videoJobId(data: VideoJobData): string {
  const safe = data.video.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe}.${settingsHash(data.settings, path.join(data.out, data.video))}`;
}

export interface SubmitOptions extends DatasetInput {
  url: string;
  /** How often the job states are read (ms). */
  pollMs?: number;
  onProgress?: (p: { finished: number; total: number; frames: number }) => void;
}

/** Adds the job of every video not yet complete (idempotent: a job id that exists is kept, a failed one retried). */
async function submit(queue: Queue, data: VideoJobData[]): Promise<string[]> {
  const ids: string[] = [];
  for (const d of data) {
    const id = videoJobId(d);
    ids.push(id);
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : 'missing';
    if (job && state === 'failed') {
      await job.retry('failed');
      continue;
    }
    // A finished job whose output was removed since runs again.
    if (job && state === 'completed' && !completedVideo(d.out, d.video, d.settings)) await job.remove();
    else if (job) continue;
    await queue.add(d.video, d, { jobId: id, removeOnComplete: false, removeOnFail: false });
  }
  return ids;
}

/** The record of a finished job (undefined while it runs). */
async function finishedRecord(job: Job<VideoJobData, VideoRecord> | undefined, video: string): Promise<VideoRecord | undefined> {
  if (!job) return { video, status: 'failed', frames: 0, objects: [], seconds: 0, error: 'the job was removed from the queue' };
  const state = await job.getState();
  if (state === 'completed') return job.returnvalue;
  if (state === 'failed') return { video, status: 'failed', frames: 0, objects: [], seconds: 0, error: job.failedReason };
  return undefined;
}

/** Submits every video and waits until each job has finished; writes summary.json as the local runner does. */
export async function submitAndWait(o: SubmitOptions): Promise<DatasetSummary> {
  const settings = resolveSettings(o.settings);
  const videos = listVideos(o.videos, o.videoList);
  makeDirectory(o.out);
  const abs = (p: string) => path.resolve(p);
  const data = videos.map((video): VideoJobData => ({ videosRoot: abs(o.videos), masksRoot: abs(o.masks), out: abs(o.out), video, settings, overwrite: o.overwrite ?? false }));
  const started = performance.now();
  const queue = new Queue<VideoJobData, VideoRecord>(QUEUE_NAME, { connection: redisConnection(o.url) });
  try {
    const ids = await submit(queue, data);
    const records = new Map<number, VideoRecord>();
    for (;;) {
      let frames = 0;
      for (const [i, id] of ids.entries()) {
        if (records.has(i)) continue;
        const job = await queue.getJob(id);
        const record = await finishedRecord(job, videos[i]);
        if (record) records.set(i, record);
        else frames += (job?.progress as VideoProgress | undefined)?.done ?? 0;
      }
      o.onProgress?.({ finished: records.size, total: ids.length, frames });
      if (records.size === ids.length) break;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    }
    const list = ids.map((_, i) => records.get(i) as VideoRecord);
    const summary: DatasetSummary = {
      settings, videos: list, failed: list.filter((r) => r.status === 'failed').map((r) => r.video),
      seconds: (performance.now() - started) / 1000, finishedAt: new Date().toISOString(),
    };
    writeDatasetSummary(o.out, summary);
    return summary;
  } finally {
    await queue.close();
  }
}
