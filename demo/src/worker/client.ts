/**
 * The page's side of the inference worker: requests as promises, tracking progress as a callback, and the
 * frames the worker asks for served from the page's FrameSource (whatever decodes the video: files, bitmaps,
 * a streaming decoder).
 */
import type { FrameSource } from '../../../src/browser.js';
import type { FrameLabels, FromWorker, Replies, Request, ToWorker } from './protocol.js';

/** An error the worker threw, with the library's error class name kept for the page's wording. */
export class WorkerError extends Error {
  constructor(readonly kind: string, message: string) {
    super(message);
    this.name = kind;
  }
}

export class InferenceClient {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; progress?: (f: FrameLabels) => void }>();
  /** Where the worker's frame requests are served from. */
  frames: FrameSource | null = null;

  constructor() {
    this.worker = new Worker(new URL('./inference.worker.ts', import.meta.url), { type: 'module', name: 'sam2long-inference' });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    this.worker.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new WorkerError('WorkerError', `the inference worker failed: ${e.message}`));
      this.pending.clear();
    };
  }

  private send(msg: ToWorker, transfer: Transferable[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  private receive(msg: FromWorker): void {
    if (msg.kind === 'need-frame') {
      void this.serveFrame(msg.id, msg.index);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.kind === 'progress') {
      p.progress?.(msg.frame);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.kind === 'reply') p.resolve(msg.value);
    else p.reject(new WorkerError(msg.name, msg.message));
  }

  private async serveFrame(id: number, index: number): Promise<void> {
    try {
      if (!this.frames) throw new Error('no video loaded');
      const { image } = await this.frames.frame(index);
      // A copy the worker owns (the source may keep its pixels).
      const data = image.data.slice();
      this.send({ kind: 'frame', id, width: image.width, height: image.height, data }, [data.buffer]);
    } catch (err) {
      this.send({ kind: 'frame-error', id, message: (err as Error).message });
    }
  }

  /** One request; `progress` gets each tracked frame of a 'track' request. */
  request<T extends Request>(request: T, progress?: (f: FrameLabels) => void, transfer: Transferable[] = []): Promise<Replies[T['type']]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, progress });
      this.send({ kind: 'request', id, request }, transfer);
    });
  }

  /** Ends a running 'track' after the frame in progress. */
  stop(): void {
    this.send({ kind: 'stop' });
  }
}
