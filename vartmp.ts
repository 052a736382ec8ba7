import * as tf from '@tensorflow/tfjs-core';
import { VideoPredictor } from './src/index.js';
import { goldenJson, setupBackend } from './test/helpers/golden.js';
import { GoldenFrames, miniModel } from './test/helpers/video.js';
await setupBackend();
const model = miniModel('sam21_mini');
const predictor = new VideoPredictor(model, { tree: false });
const state = await predictor.initState(new GoldenFrames('video1', 8));
const p = goldenJson<{ frame: number; points: [number, number][]; labels: number[] }>('video1/prompt_point.json');
await predictor.addPoints(state, { frame: p.frame, objId: 1, points: p.points, labels: p.labels });
const engine = tf.engine() as any; const orig = engine.runKernelFunc;
const sites = new Map<string, number>();
const watch = new Set(process.argv.slice(2));
engine.runKernelFunc = function (params: any) {
  const k = params.kernelName ?? '?';
  if (watch.has(k)) {
    const st = (new Error().stack ?? '').split('\n').filter((l) => l.includes('/src/') && !l.includes('node_modules')).slice(0, 3).map((l) => l.trim().replace(/^at /, '').replace(/\(file:\/\/\/work\/main\//, '(')).join(' < ');
    const key = `${k} ${JSON.stringify(params.inputs ? Object.values(params.inputs).map((t: any) => t?.shape) : '')} ${st}`;
    sites.set(key, (sites.get(key) ?? 0) + 1);
  }
  return orig.call(this, params);
};
for await (const r of predictor.propagate(state)) if (r.final) r.masks.length;
engine.runKernelFunc = orig;
for (const [k, n] of [...sites].sort((a, b) => b[1] - a[1])) console.log(n, k);
