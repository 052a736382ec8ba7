/**
 * Every kernel's tensors within the backend's binding limit. A WebGPU device computes zeros past its
 * maxStorageBufferBindingSize (src/node/backend-webgpu.ts refuses such kernels), so the model splits its work by
 * maxTensorBytes(). Capping that with setMaxTensorBytes makes the same splits happen on any backend: each case
 * runs once unlimited and once capped, checks the results agree, and reads every kernel's input and output
 * shapes from tf.profile to check none is over the cap (and that the unlimited run had one, so the cap split
 * something).
 *
 * The caps sit just above what the golden mini model cannot split: its image [1, 256, 256, 3] (768 KiB, 804
 * KiB padded for the patch embedding) and its stride-4 FPN level [1, 64, 64, 64] (1 MiB) are whole-frame
 * tensors. Its largest weight is far smaller, so no weight is exempt.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { maxTensorBytes, setMaxTensorBytes } from '../src/backend-limits.js';
import { setFusedKernels } from '../src/ops/webgpu/fused.js';
import { VideoPredictor, type FrameResult } from '../src/predictor/video-predictor.js';
import type { TreeStepInfo } from '../src/tree/options.js';
import { diff, setupBackend } from './helpers/golden.js';
import { GoldenFrames, collect, maskIou, miniModel } from './helpers/video.js';
import { mapRowChunks, rowChunks } from '../src/ops/row-chunks.js';

const KIB = 1024;
const MIB = 1024 * KIB;

interface KernelRecord { name: string; inputShapes: (number[] | null)[]; outputShapes: (number[] | null)[] }

/** Float32 / int32 bytes of the largest tensor a kernel reads or writes. */
function kernelBytes(k: KernelRecord): number {
  const bytes = (s: number[] | null) => (s ? s.reduce((a, b) => a * b, 1) * 4 : 0);
  return Math.max(...k.inputShapes.map(bytes), ...k.outputShapes.map(bytes));
}

/** `f`'s result and the kernels it ran. */
async function profiled<T>(f: () => T | Promise<T>): Promise<{ result: T; kernels: KernelRecord[] }> {
  let result: T | undefined;
  const info = await tf.profile(async () => {
    result = await f();
    return [];
  });
  return { result: result as T, kernels: info.kernels as unknown as KernelRecord[] };
}

function describeKernel(k: KernelRecord): string {
  return `${k.name} ${JSON.stringify(k.inputShapes)} → ${JSON.stringify(k.outputShapes)} (${(kernelBytes(k) / KIB).toFixed(0)} KiB)`;
}

/** The unlimited run had a kernel over `limit`; the capped run none. */
function checkSplit(label: string, unlimited: KernelRecord[], capped: KernelRecord[], limit: number): void {
  const largest = (ks: KernelRecord[]) => ks.reduce((a, k) => (kernelBytes(k) > kernelBytes(a) ? k : a));
  const over = capped.filter((k) => kernelBytes(k) > limit);
  console.log(`      ${label}: largest tensor unlimited ${describeKernel(largest(unlimited))}; capped at ${limit / KIB} KiB ` +
    `${describeKernel(largest(capped))}; ${unlimited.length} → ${capped.length} kernels`);
  assert.ok(kernelBytes(largest(unlimited)) > limit, `${label}: nothing to split under ${limit} bytes`);
  assert.deepEqual(over.slice(0, 5).map(describeKernel), [], `${label}: ${over.length} kernels over the cap`);
}

/**
 * `f` run with tfjs-webgpu's matMul pinned to its tiled program. By default it picks a split-K program for
 * some shapes, which sums with atomic adds in no fixed order, so two identical runs differ at rounding level
 * (up to 6e-6 in a tree run's logits on llvmpipe), and a pixel at a logit that near 0 may flip.
 */
async function withOneMatMulProgram<T>(f: () => Promise<T>): Promise<T> {
  if (tf.getBackend() !== 'webgpu') return f();
  const flag = 'WEBGPU_MATMUL_PROGRAM_TYPE';
  const saved = tf.env().get(flag);
  tf.env().set(flag, 3); // MatMulPackedProgram
  try {
    return await f();
  } finally {
    tf.env().set(flag, saved);
  }
}

describe('tensors within the binding limit (setMaxTensorBytes)', () => {
  // These tests check how the plain compositions split their largest tensors (attention score blocks among
  // them); WebGPU's fused kernels (src/ops/webgpu/) never make those, so the tests run the plain compositions.
  let fused = true;
  before(async () => {
    await setupBackend();
    fused = setFusedKernels(false);
  });
  after(() => {
    setFusedKernels(fused);
  });
  afterEach(() => setMaxTensorBytes(undefined));

  it('caps maxTensorBytes() on any backend; undefined restores the device limit', () => {
    const device = maxTensorBytes();
    setMaxTensorBytes(3 * MIB);
    assert.equal(maxTensorBytes(), Math.min(3 * MIB, device));
    setMaxTensorBytes(undefined);
    assert.equal(maxTensorBytes(), device);
    assert.throws(() => setMaxTensorBytes(0), /positive/);
  });

  it('mapRowChunks runs once without copies when rows fit, else on near-equal chunks concatenated in order', () => {
    tf.tidy(() => {
      const x = tf.reshape(tf.range(0, 10 * 4), [10, 4]);
      const seen: number[] = [];
      const double = mapRowChunks(10, 16, ({ count, take }) => {
        seen.push(count);
        const rows = take(x);
        return { y: tf.mul(rows, 2), absent: undefined };
      });
      assert.deepEqual(seen, [10]);
      setMaxTensorBytes(3 * 16);
      assert.deepEqual(rowChunks(10, 16).map((c) => c.count), [2, 3, 2, 3]);
      const chunked = mapRowChunks(10, 16, ({ take }) => ({ y: tf.mul(take(x), 2), absent: undefined }));
      assert.equal(chunked.absent, undefined);
      assert.deepEqual(chunked.y.arraySync(), double.y.arraySync());
    });
  });

  it('golden mini image encoder at 1 MiB: windowed-attention scores run in query chunks, same features', async () => {
    const model = miniModel('sam21_mini');
    const image = await new GoldenFrames('video1').input(0);
    const encode = () => {
      const { backboneFpn, visionPosEnc } = model.imageEncoder.call(image);
      return [...backboneFpn, ...visionPosEnc];
    };
    const unlimited = await profiled(encode);
    const limit = MIB;
    setMaxTensorBytes(limit);
    const tensors = tf.memory().numTensors;
    const capped = await profiled(encode);
    assert.equal(tf.memory().numTensors - tensors, capped.result.length, 'only the outputs are left');
    checkSplit('image encoder', unlimited.kernels, capped.kernels, limit);
    unlimited.result.forEach((t, i) => assert.ok(diff(capped.result[i], t).maxAbs <= 1e-5, `output ${i}`));
    tf.dispose([image, ...unlimited.result, ...capped.result]);
  });

  it('golden mini Hiera trunk at 896 KiB: the stage-1 MLP runs in token chunks, same features', async () => {
    const model = miniModel('sam21_mini');
    const image = await new GoldenFrames('video1').input(0);
    const trunk = () => model.imageEncoder.trunk.call(image);
    const unlimited = await profiled(trunk);
    const limit = 896 * KIB;
    setMaxTensorBytes(limit);
    const capped = await profiled(trunk);
    checkSplit('Hiera trunk', unlimited.kernels, capped.kernels, limit);
    // The MLP's hidden layer [4096 tokens, 4 × 16] is 1 MiB in one piece.
    assert.ok(unlimited.kernels.some((k) => k.name === 'Erf' && kernelBytes(k) > limit));
    unlimited.result.forEach((t, i) => assert.ok(diff(capped.result[i], t).maxAbs <= 1e-5, `stage ${i}`));
    tf.dispose([image, ...unlimited.result, ...capped.result]);
  });

  it('SAM2Long, two objects × 3 paths at 1 MiB: tracking and memory encoding run in row groups, same run', async () => {
    const model = miniModel('sam21_mini_b');
    const run = async () => {
      const steps: TreeStepInfo[] = [];
      const predictor = new VideoPredictor(model, { tree: { pathways: 3, onStep: (s) => steps.push(s) }, pipeline: false });
      const state = await predictor.initState(new GoldenFrames('video2', 6));
      await predictor.addPoints(state, { frame: 0, objId: 1, points: [[46, 128]], labels: [1] });
      await predictor.addPoints(state, { frame: 0, objId: 2, points: [[218, 46]], labels: [1] });
      const results = await collect(predictor.propagate(state));
      state.dispose();
      return { results, steps };
    };
    const limit = MIB;
    const { unlimited, capped, tensors } = await withOneMatMulProgram(async () => {
      const first = await profiled(run);
      setMaxTensorBytes(limit);
      const before = tf.memory().numTensors;
      return { unlimited: first, capped: await profiled(run), tensors: before };
    });
    assert.equal(tf.memory().numTensors, tensors, 'tensors left after the capped run');
    checkSplit('tree run', unlimited.kernels, capped.kernels, limit);

    const kept = (steps: TreeStepInfo[]) => steps.map((s) => s.prune.kept.map((c) => [c.parent, c.j]));
    assert.deepEqual(kept(capped.result.steps), kept(unlimited.result.steps), 'the same candidates survive');
    const [a, b] = [unlimited.result.results, capped.result.results];
    assert.equal(b.length, a.length);
    let maxLogitDiff = 0;
    let minIou = 1;
    let flipped = 0;
    a.forEach((r: FrameResult, i) => {
      assert.equal(b[i].frame, r.frame);
      r.lowResLogits.forEach((logits, o) => { maxLogitDiff = Math.max(maxLogitDiff, diff(b[i].lowResLogits[o], logits).maxAbs); });
      r.masks.forEach((mask, o) => {
        minIou = Math.min(minIou, maskIou(b[i].masks[o], mask));
        flipped += mask.reduce((n, v, p) => n + (v !== b[i].masks[o][p] ? 1 : 0), 0);
      });
    });
    console.log(`      ${a.length} results, max|Δ| low-res logits ${maxLogitDiff.toExponential(2)}, ` +
      `mask IoU min ${minIou.toFixed(4)}, ${flipped} pixels differ`);
    assert.ok(maxLogitDiff <= 1e-4);
    // Splitting is exact where each output is summed in the same order (wasm, cpu, and WebGPU with one matMul
    // program: the logits agree bit for bit, and so must the masks). A backend that sums differently for other
    // shapes may flip a pixel whose logit sits within rounding of 0.
    if (maxLogitDiff === 0) assert.equal(flipped, 0, 'masks differ although the logits are equal');
    assert.ok(minIou >= 0.999, `mask IoU ${minIou}`);
  });
});
