/**
 * Upper bounds on what a tracked frame costs beyond arithmetic: kernels run (what tf.profile lists) and host
 * reads, counted around `propagate` through the public API on the golden mini model (video1's first 8
 * frames, its golden click), greedy and SAM2Long at P=3. Deterministic: a change that adds kernels or reads
 * per frame fails here. The bounds are today's counts plus a small margin, per backend (the plain
 * compositions differ a little: wasm tiles large depthwise kernels; webgpu runs the fused kernels of
 * src/ops/webgpu/). `npm run bench` reports the same counts for every unit.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { countRun, perUnit, type Counts } from '../bench/counters.js';
import { VideoPredictor } from '../src/index.js';
import { goldenJson, setupBackend } from './helpers/golden.js';
import { GoldenFrames, miniModel } from './helpers/video.js';

const FRAMES = 8;

/** Per tracked frame: kernels, host reads, GPU programs (WebGPU only). */
interface Bound {
  kernels: number;
  reads: number;
  programs?: number;
}
interface Bounds {
  greedy: Bound;
  tree: Bound;
}

const BOUNDS: Record<string, Bounds> = {
  // Host reads are asynchronous and packed: one per greedy frame (its result), and on a SAM2Long frame one for
  // the tree's decision inputs (with the candidates' masks) plus, on GPU backends, one for the results (their
  // masks made on the device); the host backends make masks on first read, from host memory in place. The
  // bounds sit just above the measured 1.1 / 2.3, so any new read per frame fails (the issue's targets: ≤ 2 per
  // greedy frame, ≤ 3 per tree frame).
  // Measured 2026-12-07 with the asynchronous packed reads: greedy 1,864 kernels and 1.1 reads per frame, P=3
  // 1,878 and 1.1 (before them: 1,894 and 4, 1,910 and 5); with the position encodings made once, 1,811 and
  // 1,827.
  wasm: { greedy: { kernels: 1_900, reads: 1.5 }, tree: { kernels: 1_910, reads: 1.5 } },
  // cpu: 1.1 reads per frame greedy and at P=3 (before: 22.4 and 26.9, take-rows' host copies read through
  // the engine; it now reads the cpu backend's arrays in place, as it reads the shared wasm heap).
  cpu: { greedy: { kernels: 1_900, reads: 1.5 }, tree: { kernels: 1_910, reads: 1.5 } },
  // With the fused kernels of src/ops/webgpu/, frame-batched encoding (software adapter: frames 1..7 encoded
  // in one batch) and the reads above (2026-12-07): greedy 226 kernels, 184 GPU programs, 1.1 reads; P=3 246,
  // 196 and 2.3 (before the image embedding's position encoding was made once, and the neck's others not made
  // for tracking: 228 / 187 and 248 / 198; before Hiera's position embedding and the memory frames' position
  // encodings were made once with the model: 230 / 188 and 250 / 199, or 3 kernels more in a process whose
  // model had not tracked yet;
  // before the mask decoder's position encodings were added as its projections read: 239 / 197, 259 / 208;
  // before the Linear epilogues went inside the matMul programs: 210 and 221 programs) (masks made and packed on the device add a few kernels; before the asynchronous reads: 5.4 and
  // 6.4 reads). Before the picked rows, pointer gate, batched hypernetwork masks, rotary projections as one
  // kernel and LayerNorm + GELU as one program: greedy 273 and 223, P=3 290 and 234. Before the skip
  // connections went into the Linear kernel's epilogue: greedy 286 and 225, P=3 303 and 236; before the memory encoder's ConvNeXt blocks became three kernels each (depthwise-norm.ts and the
  // Linear epilogue): greedy 293 and 230, P=3 310 and 240; before the grouped hypernetwork MLPs, device-made
  // mask bits, the no-prompt embeddings made once, the elementwise chains and the direct conv kernels: greedy
  // 368 and 270, P=3 395 and 284, and encoding frame by frame (encodeBatch: 1) greedy 507 and 374. Before this
  // round's fusions (one-kernel Linear, window partition, RoPE) and batching: greedy 1,430 and 471, P=3 1,467
  // and 482; without any fused kernel 1,939 / 1,138 and 1,970 / 1,153.
  webgpu: { greedy: { kernels: 231, reads: 1.5, programs: 187 }, tree: { kernels: 251, reads: 2.5, programs: 199 } },
};

/** Counts per tracked frame (the prompt frame's result comes from addPoints) of one propagation. */
async function countFrames(tree: boolean): Promise<Counts> {
  const model = miniModel('sam21_mini');
  const predictor = new VideoPredictor(model, { tree: tree ? { pathways: 3 } : false });
  const state = await predictor.initState(new GoldenFrames('video1', FRAMES));
  const p = goldenJson<{ frame: number; points: [number, number][]; labels: number[] }>('video1/prompt_point.json');
  await predictor.addPoints(state, { frame: p.frame, objId: 1, points: p.points, labels: p.labels });
  const { value: finals, counts } = await countRun(async () => {
    let n = 0;
    // As an application that keeps the final masks does: their reads count.
    for await (const r of predictor.propagate(state)) if (r.final) n += r.masks.length > 0 ? 1 : 0;
    return n;
  });
  state.dispose();
  assert.equal(finals, FRAMES);
  return perUnit(counts, FRAMES - 1);
}

describe('kernels and host reads per frame (golden mini model, video1, 8 frames)', () => {
  let bounds: Bounds;
  before(async () => {
    const backend = await setupBackend();
    bounds = BOUNDS[backend] ?? BOUNDS.cpu;
  });

  for (const mode of ['greedy', 'tree'] as const) {
    it(`${mode === 'greedy' ? 'greedy SAM 2' : 'SAM2Long P=3'}: kernels and reads per frame within bounds`, async () => {
      const c = await countFrames(mode === 'tree');
      const b = bounds[mode];
      console.log(`      ${tf.getBackend()}: ${c.kernels.toFixed(0)} kernels/frame (≤ ${b.kernels})${c.programs === null ? '' : `, ${c.programs.toFixed(0)} GPU programs`}, `
        + `${c.reads.toFixed(1)} host reads (${(c.readBytes / 1024).toFixed(1)} KiB)/frame (≤ ${b.reads})${b.programs === undefined ? '' : `; programs ≤ ${b.programs}`}`);
      assert.ok(c.kernels <= b.kernels, `${c.kernels} kernels per frame > ${b.kernels}`);
      assert.ok(c.reads <= b.reads, `${c.reads} host reads per frame > ${b.reads}`);
      if (b.programs !== undefined && c.programs !== null) assert.ok(c.programs <= b.programs, `${c.programs} GPU programs per frame > ${b.programs}`);
    });
  }
});
