/**
 * The consuming side of the dataset queue (see queue.ts): a BullMQ Worker whose jobs run on worker threads,
 * so this thread only talks to Redis and keeps the job locks renewed.
 */
import { Worker, type Job } from 'bullmq';
import { WorkerError } from '../../errors.js';
import type { VideoRecord } from './process-video.js';
import { QUEUE_NAME, redisConnection, type VideoJobData } from './queue.js';
import { VideoThreads } from './video-threads.js';

export interface QueueWorkerOptions {
  url: string;
  /** Videos at once (one thread, and one model in memory, each). */
  concurrency: number;
  /**
   * How long a job stays with a worker that stopped renewing its lock (a killed process, a lost machine)
   * before it goes back to the queue. A live worker renews it every half of this, whatever the video's length.
   */
  lockMs: number;
  /** 'model': a thread loaded the model for `video` (once per thread, unless the settings change), in `seconds`. */
  onEvent?: (e: { type: 'start' | 'model' | 'done' | 'failed'; video: string; record?: VideoRecord; error?: string; seconds?: number }) => void;
}

export class QueueWorker {
  private readonly threads = new VideoThreads();
  private readonly worker: Worker<VideoJobData, VideoRecord>;

  constructor(private readonly o: QueueWorkerOptions) {
    this.worker = new Worker<VideoJobData, VideoRecord>(QUEUE_NAME, (job) => this.process(job), {
      connection: redisConnection(o.url),
      concurrency: o.concurrency,
      lockDuration: o.lockMs,
      stalledInterval: o.lockMs,
      // A job whose worker died goes back to the queue this many times before it counts as failed.
      maxStalledCount: 3,
      autorun: false,
    });
    this.worker.on('error', (err) => o.onEvent?.({ type: 'failed', video: '(queue)', error: err.message }));
  }

  private async process(job: Job<VideoJobData, VideoRecord>): Promise<VideoRecord> {
    this.o.onEvent?.({ type: 'start', video: job.data.video });
    const record = await this.threads.run(job.data, (p) => {
      job.updateProgress(p).catch(() => undefined);
    }, (seconds) => this.o.onEvent?.({ type: 'model', video: job.data.video, seconds }));
    if (record.status === 'failed') {
      this.o.onEvent?.({ type: 'failed', video: job.data.video, record, error: record.error });
      // A failed video (a corrupt frame, a missing annotation) fails the same way on any worker: no retry.
      throw new WorkerError(record.error ?? 'failed');
    }
    this.o.onEvent?.({ type: 'done', video: job.data.video, record });
    return record;
  }

  /** Takes jobs until `close`. */
  run(): Promise<void> {
    return this.worker.run();
  }

  /** Stops taking jobs, finishes the current ones, ends the threads. */
  async close(): Promise<void> {
    await this.worker.close();
    await this.threads.close();
  }
}
