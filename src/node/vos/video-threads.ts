/**
 * The worker threads of a queue worker, one per concurrent job: each segments one video at a time off the
 * main thread (see video-thread.ts) and keeps its model between jobs.
 */
import { Worker } from 'node:worker_threads';
import { WorkerError } from '../../errors.js';
import type { VideoRecord } from './process-video.js';
import type { VideoJobData } from './queue.js';
import type { VideoProgress } from './segment-video.js';

export interface ThreadRequest {
  data: VideoJobData;
}

export type ThreadReply =
  | { type: 'progress'; progress: VideoProgress }
  /** The thread loaded a model (its first job, or one with other settings). */
  | { type: 'model'; seconds: number }
  | { type: 'done'; record: VideoRecord };

/** The thread's entry: .js in a build; from the TypeScript sources, through the bootstrap that registers tsx. */
function spawn(): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(`./video-thread.${fromSources ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSources) return new Worker(entry);
  return new Worker(new URL('../worker/tsx-bootstrap.mjs', import.meta.url), { workerData: { entry: entry.href } });
}

export class VideoThreads {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();

  /** Segments one video on an idle thread (a new one when none is idle); `onProgress` sees its frames, `onModel` a model load. */
  run(data: VideoJobData, onProgress: (p: VideoProgress) => void, onModel?: (seconds: number) => void): Promise<VideoRecord> {
    const thread = this.idle.pop() ?? this.start();
    return new Promise<VideoRecord>((resolve, reject) => {
      const onMessage = (m: ThreadReply) => {
        if (m.type === 'progress') {
          onProgress(m.progress);
          return;
        }
        if (m.type === 'model') {
          onModel?.(m.seconds);
          return;
        }
        thread.off('message', onMessage).off('error', onError).off('exit', onExit);
        this.idle.push(thread);
        resolve(m.record);
      };
      const onError = (err: Error) => {
        this.all.delete(thread);
        reject(new WorkerError(`the video thread failed on ${data.video}: ${err.message}`));
      };
      const onExit = (code: number) => {
        this.all.delete(thread);
        reject(new WorkerError(`the video thread stopped (exit code ${code}) while segmenting ${data.video}`));
      };
      thread.on('message', onMessage).on('error', onError).on('exit', onExit);
      thread.postMessage({ data } satisfies ThreadRequest);
    });
  }

  private start(): Worker {
    const t = spawn();
    this.all.add(t);
    return t;
  }

  async close(): Promise<void> {
    const threads = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(threads.map((t) => t.terminate()));
  }
}
