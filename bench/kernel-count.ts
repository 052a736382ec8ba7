/**
 * Kernels, GPU programs and host reads per tracked frame of SAM 2.1 tiny (random weights) on a synthetic
 * video, through the public API, as test/kernel-counts.test.ts counts them on the golden mini model. The
 * counts do not depend on the image size as long as no tensor is split under the device's binding limit and
 * the encoder batch is the same: a small size gives the 1024 px counts of a GPU whose limit admits the
 * batch there (8 frames of 1024 px: 806 MB), at a cost the software adapter can pay.
 *
 *   npx tsx bench/kernel-count.ts [--backend webgpu] [--size 128] [--frames 10] [--paths 3] [--out FILE]
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, VideoPredictor, webGpuAdapter, type BackendName } from '../src/index.js';
import { encodeBatchSize } from '../src/predictor/frame-batches.js';
import { countRun, perUnit } from './counters.js';
import { randomTinyModel, SyntheticVideo } from './synthetic.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webgpu' },
    size: { type: 'string', default: '128' },
    frames: { type: 'string', default: '10' },
    paths: { type: 'string' },
    out: { type: 'string' },
  },
});
const size = Number(values.size);
const frames = Number(values.frames);
const paths = values.paths === undefined ? null : Number(values.paths);

await initBackend(values.backend as BackendName);
const model = randomTinyModel(size);
const video = new SyntheticVideo(frames, size);
const predictor = new VideoPredictor(model, { tree: paths ? { pathways: paths } : false });
const state = await predictor.initState(video);
const disc = video.disc(0);
await predictor.addPoints(state, { frame: 0, objId: 1, points: [[disc.x, disc.y]], labels: [1] });
const started = Date.now();
const { counts } = await countRun(async () => {
  // As an application that keeps the final masks does: their reads count.
  for await (const r of predictor.propagate(state)) if (r.final) void r.masks;
});
state.dispose();
const encodeBatch = encodeBatchSize(model);
model.dispose();
const perFrame = perUnit(counts, frames - 1);
const result = {
  date: new Date().toISOString().slice(0, 10),
  model: 'SAM 2.1 tiny, random weights',
  imageSize: size,
  backend: tf.getBackend(),
  webgpuAdapter: webGpuAdapter(),
  mode: paths ? `P=${paths}` : 'greedy',
  frames,
  /** Frames encoded per batch (the binding limit's share); the 1024 px counts need the same batch there. */
  encodeBatch,
  perFrame,
  seconds: (Date.now() - started) / 1000,
};
console.log(`tiny ${size} px, ${result.mode}, ${frames} frames on ${result.backend}: ${perFrame.kernels.toFixed(1)} kernels, `
  + `${perFrame.programs === null ? '-' : perFrame.programs.toFixed(1)} GPU programs, ${perFrame.reads.toFixed(2)} host reads per tracked frame, encoder batch ${encodeBatch} (${result.seconds.toFixed(0)} s)`);
if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
