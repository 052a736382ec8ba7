/**
 * A worker thread that segments queue jobs' videos (started by VideoThreads): tfjs runs here, so the queue
 * worker's event loop stays free to renew its job locks during a video that takes minutes. The thread keeps
 * its predictor between jobs: the model is loaded once (per settings) for the thread's life.
 */
import { parentPort } from 'node:worker_threads';
import { initBackend } from '../backend.js';
import { WorkerError } from '../../errors.js';
import type { VideoPredictor } from '../../predictor/video-predictor.js';
import { processVideo } from './process-video.js';
import { loadVosPredictor } from './segment-dataset.js';
import { settingsKey } from './settings.js';
import type { ThreadReply, ThreadRequest } from './video-threads.js';

const port = parentPort;
if (!port) throw new WorkerError('video-thread runs as a worker thread (VideoThreads starts it)');

let loaded: { key: string; predictor: VideoPredictor } | undefined;
const ready = initBackend();

port.on('message', async (req: ThreadRequest) => {
  await ready;
  const key = settingsKey(req.data.settings);
  const predictor = async () => {
    if (loaded?.key !== key) {
      loaded?.predictor.model.dispose();
      const started = performance.now();
      loaded = { key, predictor: await loadVosPredictor(req.data.settings) };
      port.postMessage({ type: 'model', seconds: (performance.now() - started) / 1000 } satisfies ThreadReply);
    }
    return loaded.predictor;
  };
  const record = await processVideo(predictor, {
    videosRoot: req.data.videosRoot, masksRoot: req.data.masksRoot, out: req.data.out, video: req.data.video,
    settings: req.data.settings, overwrite: req.data.overwrite,
    onProgress: (progress) => port.postMessage({ type: 'progress', progress } satisfies ThreadReply),
  });
  port.postMessage({ type: 'done', record } satisfies ThreadReply);
});
