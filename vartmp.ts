import * as tf from '@tensorflow/tfjs-core';
import { setupBackend } from './test/helpers/golden.js';
import { miniModel } from './test/helpers/video.js';
await setupBackend();
const model = miniModel('sam21_mini');
const image = tf.randomNormal([1, 256, 256, 3]) as tf.Tensor4D;
const f = model.encodeImage(image);
const run = () => (model as any).heads.call({ backboneFeatures: f.visionFeats, highResFeatures: f.highRes, multimaskOutput: true });
tf.dispose(Object.values(run()).flat() as tf.Tensor[]);
const engine = tf.engine() as any; const orig = engine.runKernelFunc;
const seq: string[] = [];
engine.runKernelFunc = function (params: any) {
  const st = (new Error().stack ?? '').split('\n').filter((l) => l.includes('/work/main/src/')).slice(0, 1).map((l) => l.trim().replace(/^at /, '').replace(/.*\/work\/main\/src\//, '').replace(/\)$/, '')).join('');
  seq.push(`${params.kernelName} ${JSON.stringify(Object.values(params.inputs ?? {}).map((t: any) => t?.shape))} ${st}`);
  return orig.call(this, params);
};
const out = run();
engine.runKernelFunc = orig;
console.log(seq.length); for (const s of seq) console.log(s);
