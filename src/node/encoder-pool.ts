/**
 * Two cores for one video (Node): tfjs-wasm runs single-threaded here, so a worker thread with its own tfjs
 * instance encodes the next frame while this thread tracks the current one. Image encoding does not depend
 * on tracking results, so it can run ahead; one frame at a time is in flight. A frame that was not asked for
 * ahead (the first one, while the worker starts; one after a jump) is encoded here as before.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { WorkerError } from '../errors.js';
import { disposeFeatures, type FrameFeatures, type Sam2Model } from '../model/sam2.js';
import type { HostArray } from '../model/weights.js';
import { FRAME_ENCODER_PREFIXES } from './worker/frame-encoder.js';
import { buffersOf, featuresFromHost, type FromWorker, type HostFeatures, type ToWorker } from './worker/protocol.js';
import type { FrameProvider, FramePipeline, PipelinePlan } from '../predictor/video-state.js';

export interface EncoderPoolOptions {
  /** A worker that cannot start is an error (else frames are encoded here, with a process warning). */
  required?: boolean;
}

interface Request {
  resolve: (features: HostFeatures) => void;
  reject: (err: Error) => void;
}

let liveWorkers = 0;

/**
 * Encoder workers of this process whose threads have not ended yet. `close()` asks a worker to stop and
 * returns at once; its thread ends a little later (Node joins it before the worker's 'exit' event).
 */
export function liveEncoderWorkers(): number {
  return liveWorkers;
}

/** The worker's entry: .js in a build; from the TypeScript sources, through a bootstrap that registers tsx. */
function spawnEncoderWorker(): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(`./worker/encoder-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url);
  const worker = fromSources
    ? new Worker(new URL('./worker/tsx-bootstrap.mjs', import.meta.url), { workerData: { entry: entry.href } })
    : new Worker(entry);
  liveWorkers += 1;
  worker.once('exit', () => { liveWorkers -= 1; });
  return worker;
}

/** `p`, with its rejection marked as handled (it is awaited later, or never when its frame is not tracked). */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

export class EncoderPool implements FramePipeline {
  /** Settles once the worker thread has ended (after close(), or a failure). */
  readonly exited: Promise<void>;
  private ready = false;
  private failure: WorkerError | null = null;
  private closed = false;
  private nextId = 0;
  private readonly requests = new Map<number, Request>();
  /** frame → its features from the worker, asked for before this thread needs them. */
  private readonly ahead = new Map<number, Promise<FrameFeatures>>();

  private constructor(private readonly worker: Worker, private readonly frames: FrameProvider, private readonly plan: PipelinePlan, private readonly options: EncoderPoolOptions) {
    // Only pending requests keep the process alive: a pool nobody closed never holds it open.
    worker.unref();
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (msg: FromWorker) => this.receive(msg));
    worker.on('error', (err) => this.fail(`the encoder worker failed: ${err.message}`));
    worker.on('exit', (code) => this.fail(`the encoder worker exited (code ${code})`));
  }

  /**
   * Starts a worker on this thread's backend with the model's encoder weights; frames to come follow `plan`.
   * Null (and a process warning) when no worker can start, unless `required`: then a WorkerError.
   */
  static start(model: Sam2Model, frames: FrameProvider, plan: PipelinePlan, options: EncoderPoolOptions = {}): EncoderPool | null {
    let worker: Worker | undefined;
    try {
      const weights = [...model.hostWeights(FRAME_ENCODER_PREFIXES)].map(([key, a]): [string, HostArray] => [key, { shape: a.shape, data: a.data.slice() }]);
      const init: ToWorker = { type: 'init', backend: tf.getBackend(), config: model.config, weights };
      worker = spawnEncoderWorker();
      worker.postMessage(init, buffersOf(weights.map(([, a]) => a)));
    } catch (err) {
      void worker?.terminate();
      const message = `the encoder worker could not start: ${err instanceof Error ? err.message : String(err)}`;
      if (options.required) throw new WorkerError(message);
      process.emitWarning(`${message}; encoding frames on the main thread`);
      return null;
    }
    return new EncoderPool(worker, frames, plan, options);
  }

  async features(frame: number, encodeHere: () => Promise<FrameFeatures>): Promise<FrameFeatures> {
    if (this.failure && !this.mayFallBack()) throw this.failure;
    const mine = this.ahead.get(frame);
    this.ahead.delete(frame);
    this.discardAhead();
    const features = mine ? await this.fromWorker(mine, encodeHere) : await encodeHere();
    // Asked for only once `frame` is here: a stream cannot go back to a frame it has read past.
    await this.prefetch(this.after(frame));
    return features;
  }

  /** Terminates the worker; features still on their way are freed when they arrive. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.discardAhead();
    void this.worker.terminate();
    this.rejectAll(new WorkerError('the encoder pool was closed'));
  }

  /** The frame propagation visits after `frame`, if any. */
  private after(frame: number): number | null {
    const next = frame + this.plan.step;
    return (this.plan.step > 0 ? next <= this.plan.last : next >= this.plan.last) ? next : null;
  }

  private async fromWorker(features: Promise<FrameFeatures>, encodeHere: () => Promise<FrameFeatures>): Promise<FrameFeatures> {
    try {
      return await features;
    } catch (err) {
      if (this.failure && this.mayFallBack()) return encodeHere();
      throw err;
    }
  }

  /** A worker that never started leaves the frames to this thread, unless the caller required it. */
  private mayFallBack(): boolean {
    return !this.ready && !this.options.required;
  }

  /** Sends `frame` to the worker now, so it is encoded while this thread tracks the frame before it. */
  private async prefetch(frame: number | null): Promise<void> {
    if (frame === null || this.failure || this.closed) return;
    if (this.frames.numFrames === Infinity && frame < this.plan.streamReadAheadFrom) return;
    try {
      if (await this.frames.has(frame)) this.ahead.set(frame, (await this.send(frame)).result);
    } catch (err) {
      this.ahead.set(frame, handled(Promise.reject(err)));
    }
  }

  /** Frames asked for ahead that tracking did not take next: freed once they arrive. */
  private discardAhead(): void {
    for (const features of this.ahead.values()) features.then(disposeFeatures, () => undefined);
    this.ahead.clear();
  }

  /** Posts `frame`'s model input to the worker; resolves once posted (so requests keep their order) with its result. */
  private async send(frame: number): Promise<{ result: Promise<FrameFeatures> }> {
    let image: { shape: number[]; data: Float32Array };
    try {
      const input = await this.frames.input(frame);
      image = { shape: input.shape, data: (await input.data() as Float32Array).slice() };
      input.dispose();
    } catch (err) {
      return { result: handled(Promise.reject(err)) };
    }
    if (this.closed) return { result: handled(Promise.reject(new WorkerError('the encoder pool was closed'))) };
    const id = this.nextId++;
    const result = new Promise<HostFeatures>((resolve, reject) => this.requests.set(id, { resolve, reject }));
    this.worker.ref();
    const msg: ToWorker = { type: 'encode', id, image };
    this.worker.postMessage(msg, buffersOf([image]));
    return { result: handled(result.then(featuresFromHost)) };
  }

  private receive(msg: FromWorker): void {
    if (msg.type === 'ready') {
      this.ready = true;
    } else if (msg.type === 'features') {
      this.settle(msg.id)?.resolve(msg.features);
    } else if (msg.id === null) {
      this.fail(`the encoder worker could not start: ${msg.name}: ${msg.message}`);
    } else {
      this.settle(msg.id)?.reject(new WorkerError(`the encoder worker failed on a frame: ${msg.name}: ${msg.message}`));
    }
  }

  /** Takes request `id` off the pending list; an idle worker no longer holds the process open. */
  private settle(id: number): Request | undefined {
    const request = this.requests.get(id);
    this.requests.delete(id);
    if (!this.requests.size) this.worker.unref();
    return request;
  }

  private fail(message: string): void {
    if (this.closed || this.failure) return;
    this.failure = new WorkerError(message);
    if (this.mayFallBack()) process.emitWarning(`${message}; encoding frames on the main thread`);
    this.rejectAll(this.failure);
    void this.worker.terminate();
  }

  private rejectAll(err: WorkerError): void {
    for (const request of this.requests.values()) request.reject(err);
    this.requests.clear();
    this.worker.unref();
  }
}
