/**
 * The WebGPU backend in Node (Dawn through the `webgpu` package). On a machine without a GPU it runs on
 * Mesa's llvmpipe through Dawn's OpenGL ES backend (Debian: libegl1 libegl-mesa0 libegl-dev libgl1-mesa-dri),
 * which is slow: the golden video run covers its first frames only.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { create } from 'webgpu';
import { maxTensorBytes, useBackend, type BackendName } from '../src/node/backend.js';
import { findAdapter, isSoftwareAdapter, webGpuAdapter } from '../src/node/backend-webgpu.js';
import { resolveModelConfig } from '../src/config.js';
import { GpuError } from '../src/errors.js';
import { Conv2d, LayerNorm, Linear, gelu, multiHeadAttention } from '../src/model/common.js';
import { Sam2Model } from '../src/model/sam2.js';
import { WeightStore } from '../src/model/weights.js';
import { VideoPredictor } from '../src/predictor/video-predictor.js';
import { diff, goldenJson, setupBackend } from './helpers/golden.js';
import { GoldenFrames, collect, compareRun } from './helpers/video.js';
import { miniStateDict } from './helpers/weights.js';
import { blockWeights, seededValues } from './helpers/ops.js';

/** Golden frames the webgpu video run covers (all 24 take about two minutes on llvmpipe). */
const VIDEO_FRAMES = 8;

const WEIGHTS = blockWeights(48);

/** The model's building blocks on the current backend, read back with dataSync (a synchronous GPU read). */
function runOps(): Record<string, Float32Array> {
  const store = new WeightStore(WEIGHTS);
  const w = store.scope('');
  const linear = new Linear(w, { name: 'lin', inDim: 40, outDim: 48 });
  const conv = new Conv2d(w, { name: 'conv', inDim: 8, outDim: 16, kernel: 3, stride: 2, padding: 1 });
  const depthwise = new Conv2d(w, { name: 'dw', inDim: 8, outDim: 8, kernel: 7, stride: 1, padding: 3, groups: 8 });
  const norm = new LayerNorm(w, { name: 'norm', dim: 40, eps: 1e-6 });
  const norm4 = new LayerNorm(w, { name: 'norm4', dim: 4, eps: 1e-6 });
  store.finish();
  const outputs = tf.tidy(() => {
    const seq = tf.tensor3d(seededValues(2 * 33 * 40, 9), [2, 33, 40]);
    const map = tf.tensor4d(seededValues(2 * 15 * 13 * 8, 10), [2, 15, 13, 8]);
    const qkv = linear.call(seq) as tf.Tensor3D;
    const [q, k, v] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
    const keyBias = tf.tensor2d(seededValues(2 * 33, 11), [2, 33]);
    return {
      linear: qkv,
      conv: conv.call(map),
      depthwise: depthwise.call(map),
      norm: norm.call(seq),
      norm4: norm4.call(tf.tensor4d(seededValues(2 * 64 * 64 * 4, 14), [2, 64, 64, 4])),
      gelu: gelu(seq),
      // Two heads, queries in chunks of 10 rows: the attention path the model takes at full size.
      attention: multiHeadAttention(q, k, v, 2, { keyBias, maxScoreElements: 10 * 33 }),
      resize: tf.image.resizeBilinear(map, [32, 28], false, true),
    };
  });
  const result = Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, t.dataSync() as Float32Array]));
  tf.dispose(Object.values(outputs));
  store.dispose();
  return result;
}

describe('webgpu backend (Dawn in Node)', function () {
  let original: string;

  before(async () => {
    await setupBackend();
    original = tf.getBackend();
    // As SAM2LONG_BACKEND=webgpu does: a hardware adapter if there is one, else the software one.
    await useBackend('webgpu');
    console.log(`      adapter: ${JSON.stringify(webGpuAdapter())}`);
  });
  after(async () => {
    await useBackend(original as BackendName);
  });

  it('reads the binding limit from the device: maxTensorBytes() on webgpu, unbounded on cpu', async () => {
    const adapter = webGpuAdapter();
    assert.ok(adapter);
    assert.equal(adapter.software, isSoftwareAdapter({ description: adapter.name }));
    assert.equal(maxTensorBytes(), Math.min(adapter.maxStorageBufferBindingSize, adapter.maxBufferSize));
    assert.ok(maxTensorBytes() >= 128 * 2 ** 20, 'WebGPU guarantees at least 128 MiB');
    await useBackend('cpu');
    assert.equal(maxTensorBytes(), Number.POSITIVE_INFINITY);
    await useBackend('webgpu');
  });

  it('matches the cpu backend on linear, conv2d, depthwise, layer norm, gelu, attention, resize', async () => {
    await useBackend('cpu');
    const cpu = runOps();
    await useBackend('webgpu');
    const before = tf.memory().numTensors;
    const gpu = runOps();
    assert.equal(tf.memory().numTensors, before);
    // The golden feature tolerance: a GPU may fuse multiply-adds and approximate exp.
    for (const op of Object.keys(cpu)) {
      const d = diff(gpu[op], cpu[op]);
      console.log(`      ${op}: max|Δ| cpu vs webgpu ${d.maxAbs.toExponential(2)} (tol 1e-4)`);
      assert.ok(d.maxAbs <= 1e-4, `${op}: ${d.maxAbs}`);
    }
    const viaAsync = tf.tidy(() => tf.add(tf.tensor1d(seededValues(1000, 12)), 1));
    assert.deepEqual(await viaAsync.data(), Float32Array.from(seededValues(1000, 12), (x) => Math.fround(x + 1)));
    viaAsync.dispose();
  });

  it('throws a GpuError for a tensor over maxStorageBufferBindingSize instead of returning zeros', () => {
    const before = tf.memory().numTensors;
    const elements = maxTensorBytes() / 4 + 1024;
    assert.throws(() => tf.tidy(() => tf.add(tf.fill([elements], 1), 1).dataSync()),
      (e: unknown) => e instanceof GpuError && /over this GPU's largest binding, maxStorageBufferBindingSize/.test((e as Error).message));
    assert.equal(tf.memory().numTensors, before);
    // Refused before anything was recorded: the backend goes on.
    assert.deepEqual(Array.from(tf.tidy(() => tf.mul(tf.tensor1d([1, 2, 3]), 2)).dataSync()), [2, 4, 6]);
  });

  it(`reproduces the golden greedy run (video1, sam21_mini, point) on its first ${VIDEO_FRAMES} frames`, async () => {
    const model = Sam2Model.fromStateDict(resolveModelConfig(goldenJson('sam21_mini.config.json')), miniStateDict('sam21_mini'));
    const predictor = new VideoPredictor(model);
    const state = await predictor.initState(new GoldenFrames('video1', VIDEO_FRAMES));
    const p = goldenJson<{ frame: number; points: [number, number][]; labels: number[] }>('video1/prompt_point.json');
    await predictor.addPoints(state, { frame: p.frame, objId: 1, points: p.points, labels: p.labels });
    const results = await collect(predictor.propagate(state));
    state.dispose();
    model.dispose();
    compareRun('video1/sam21_mini.sam2_greedy.point.safetensors', results, { logitTol: 5e-3, scoreTol: 5e-2, frames: VIDEO_FRAMES });
  });

  it('turns an error the device reports into a GpuError on the next kernel, until the backend is re-created', async () => {
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    // An invalid buffer usage: Dawn reports it as an uncaptured validation error event.
    device.createBuffer({ size: 4, usage: 0 });
    const kernel = () => tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync());
    assert.throws(kernel, (e: unknown) => e instanceof GpuError && /GPUValidationError: Buffer usages must not be 0/.test((e as Error).message));
    assert.throws(kernel, (e: unknown) => e instanceof GpuError && /failed earlier; re-create it/.test((e as Error).message));
    tf.removeBackend('webgpu');
    await useBackend('webgpu');
    assert.deepEqual(Array.from(kernel()), [2, 3]);
  });

  it('finds no adapter for a Dawn backend this machine lacks; auto selection skips software adapters', async () => {
    const elsewhere = process.platform === 'darwin' ? 'backend=d3d12' : 'backend=metal';
    assert.equal(await findAdapter(create, [elsewhere], true), null);
    const auto = await findAdapter(create, [], false);
    assert.ok(auto === null || !isSoftwareAdapter(auto.info), 'auto selection took a software adapter');
    assert.ok(isSoftwareAdapter({ vendor: '', architecture: '', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL ES 3.2 Mesa' }));
    assert.ok(!isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA' }));
  });

  it('SAM2LONG_BACKEND=webgpu with no adapter is a BackendError that says what to install', async () => {
    const script = "import { initBackend } from './src/node/backend.ts'; initBackend().then((b) => console.log(b), (e) => console.log(e.name, e.message));";
    const elsewhere = process.platform === 'darwin' ? 'backend=d3d12' : 'backend=metal';
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, SAM2LONG_BACKEND: 'webgpu', SAM2LONG_DAWN_FLAGS: elsewhere },
    });
    assert.match(stdout, /^BackendError backend 'webgpu' is not available here: no WebGPU adapter was found/);
    if (process.platform === 'linux') assert.match(stdout, /apt-get install libegl1 libegl-mesa0 libegl-dev libgl1-mesa-dri/);
  });
});
