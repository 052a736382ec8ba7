/**
 * The encoder worker's entry (started by EncoderPool): its own tfjs instance on the main thread's backend,
 * holding a FrameEncoder and encoding the frames it is sent, one at a time, in the order they come.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '../backend.js';
import { WorkerError } from '../../errors.js';
import { disposeFeatures } from '../../model/sam2.js';
import { FrameEncoder } from './frame-encoder.js';
import { buffersOf, featuresToHost, type FromWorker, type ToWorker } from './protocol.js';

const port = parentPort;
if (!port) throw new WorkerError('encoder-worker runs as a worker thread (EncoderPool starts it)');

let encoder: FrameEncoder | null = null;

async function handle(msg: ToWorker): Promise<FromWorker> {
  if (msg.type === 'init') {
    // The worker is itself the second core's work: one wasm thread.
    await initBackend(msg.backend as BackendName, { wasmThreads: 1 });
    encoder = FrameEncoder.fromStateDict(msg.config, new Map(msg.weights));
    return { type: 'ready' };
  }
  if (!encoder) throw new WorkerError('the encoder worker was not initialised');
  const image = tf.tensor4d(msg.image.data, msg.image.shape as [number, number, number, number]);
  const features = encoder.call(image);
  image.dispose();
  const host = featuresToHost(features);
  disposeFeatures(features);
  return { type: 'features', id: msg.id, features: host };
}

function transfers(reply: FromWorker): ArrayBuffer[] {
  return reply.type === 'features' ? buffersOf([reply.features.visionFeats, reply.features.visionPos, ...reply.features.highRes]) : [];
}

// Messages are handled strictly in turn: encode requests may arrive while init still awaits the backend.
let queue = Promise.resolve();
port.on('message', (msg: ToWorker) => {
  queue = queue.then(async () => {
    let reply: FromWorker;
    try {
      reply = await handle(msg);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      reply = { type: 'error', id: msg.type === 'encode' ? msg.id : null, name: e.name, message: e.message };
    }
    port.postMessage(reply, transfers(reply));
  });
});
