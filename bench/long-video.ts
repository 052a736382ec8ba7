/**
 * Memory over a long video: SAM 2.1 tiny (random weights) tracks a synthetic moving disc for many frames
 * with the real VideoPredictor, and every frame's live tensors, tensor bytes, RSS and wasm heap are logged.
 * Steady state is flat when, after the memory bank has filled (plus a settling window), tensor count and
 * bytes stay within a fixed band and RSS stops growing.
 *
 *   npx tsx bench/long-video.ts [--frames 1000] [--size 512] [--mode greedy|3] [--out bench/results]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/node/backend.js';
import { VideoPredictor } from '../src/predictor/video-predictor.js';
import { memorySnapshot, type MemorySnapshot } from './measure.js';
import { REPO, SyntheticVideo, benchModel } from './synthetic.js';

/** Frames after which the bank is full and the first allocations (wasm heap growth, caches) are over. */
const SETTLE_FRAMES = 40;

interface FrameSample extends MemorySnapshot {
  frame: number;
  ms: number;
}

/** Spread (max − min) of one field over the samples, and its change from the first to the last. */
function drift(samples: FrameSample[], of: (s: FrameSample) => number): { min: number; max: number; firstToLast: number } {
  const values = samples.map(of);
  return { min: Math.min(...values), max: Math.max(...values), firstToLast: values[values.length - 1] - values[0] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      frames: { type: 'string', default: '1000' },
      size: { type: 'string', default: '512' },
      mode: { type: 'string', default: 'greedy' },
      out: { type: 'string', default: path.join(REPO, 'bench/results') },
      every: { type: 'string', default: '50' },
    },
  });
  const frames = Number(values.frames);
  const size = Number(values.size);
  const paths = values.mode === 'greedy' ? 0 : Number(values.mode);
  const backend = await initBackend();
  const model = await benchModel('tiny', size);
  const video = new SyntheticVideo(frames, size);
  const disc = video.disc(0);
  const predictor = new VideoPredictor(model, { tree: paths > 0 ? { pathways: paths } : false });
  const state = await predictor.initState(video);
  await predictor.addPoints(state, { frame: 0, objId: 1, points: [[disc.x, disc.y]], labels: [1] });
  const samples: FrameSample[] = [];
  let last = performance.now();
  for await (const r of predictor.propagate(state)) {
    const now = performance.now();
    samples.push({ frame: r.frame, ms: Math.round(now - last), ...memorySnapshot() });
    last = now;
    if (r.frame % Number(values.every) === 0) {
      const s = samples[samples.length - 1];
      console.log(`frame ${r.frame}: ${s.ms} ms, ${s.numTensors} tensors, ${(s.tensorBytes / 2 ** 20).toFixed(1)} MB in tensors, RSS ${(s.rssBytes / 2 ** 20).toFixed(0)} MB`);
    }
  }
  state.dispose();
  model.dispose();
  const steady = samples.filter((s) => s.frame >= SETTLE_FRAMES);
  const summary = {
    numTensors: drift(steady, (s) => s.numTensors),
    tensorBytes: drift(steady, (s) => s.tensorBytes),
    rssBytes: drift(steady, (s) => s.rssBytes),
    wasmHeapBytes: drift(steady, (s) => s.wasmHeapBytes ?? 0),
  };
  const mode = paths > 0 ? `P${paths}` : 'greedy';
  const file = path.join(values.out, `${new Date().toISOString().slice(0, 10)}-long-${backend}-${size}-${mode}-${frames}.json`);
  fs.mkdirSync(values.out, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), backend, tfjs: tf.version_core, size, mode, frames, settleFrames: SETTLE_FRAMES, summary, samples }, null, 1)}\n`);
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  console.log(`frames ≥ ${SETTLE_FRAMES}: tensors ${summary.numTensors.min}–${summary.numTensors.max} (first→last ${summary.numTensors.firstToLast}), ` +
    `tensor bytes ${mb(summary.tensorBytes.min)}–${mb(summary.tensorBytes.max)} (first→last ${mb(summary.tensorBytes.firstToLast)}), ` +
    `RSS ${mb(summary.rssBytes.min)}–${mb(summary.rssBytes.max)} (first→last ${mb(summary.rssBytes.firstToLast)}), wasm heap first→last ${mb(summary.wasmHeapBytes.firstToLast)}`);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

await main();
