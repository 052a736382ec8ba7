/**
 * The fused WebGPU kernels (src/ops/webgpu/) against the plain tfjs compositions they replace, both on the
 * webgpu backend (Mesa's software adapter without a GPU): random inputs at sizes that are not multiples of
 * the kernels' tiles, 1 and 8 heads, key lengths from 1 to 30k, with and without a key bias; the memory
 * encoder's ConvNeXt block at odd map sizes, 8 to 256 channels, with and without its layer scale.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { startCounting } from '../bench/counters.js';
import { useBackend, type BackendName } from '../src/node/backend.js';
import { gelu, groupedAttention, LayerNorm, Linear, multiHeadAttention } from '../src/model/common.js';
import { WeightStore, type HostArray } from '../src/model/weights.js';
import { AxialRope } from '../src/model/rope.js';
import { RotaryProjection } from '../src/model/memory-attention.js';
import { CXBlock } from '../src/model/memory-encoder.js';
import { fusedKernelsOn, setFusedKernels } from '../src/ops/webgpu/fused.js';
import { fusedGroupedLinear } from '../src/ops/webgpu/grouped-linear.js';
import { fusedLinear } from '../src/ops/webgpu/linear.js';
import { packedMaskBits } from '../src/predictor/transforms.js';
import { pickPerItem } from '../src/model/mask-decoder.js';
import { fusedElementwise, wgslSigmoid } from '../src/ops/webgpu/elementwise.js';
import { partitionWindows, unpartitionWindows } from '../src/ops/windows.js';
import { diff, setupBackend } from './helpers/golden.js';
import { seededValues } from './helpers/ops.js';

/** Float32 sums in another order (the online softmax, FMA): well under the golden feature tolerance. */
const TOL = 2e-5;

let seed = 100;
function random(shape: number[], scale = 1): tf.Tensor {
  return tf.mul(tf.randomUniform(shape, -1, 1, 'float32', seed++), scale);
}

/** `fn` with the fused kernels off (the reference) and on; max |Δ| checked, nothing leaked. */
function compare(label: string, fn: () => tf.Tensor): void {
  const before = tf.memory().numTensors;
  setFusedKernels(false);
  const reference = fn();
  setFusedKernels(true);
  const fused = fn();
  assert.deepEqual(fused.shape, reference.shape);
  const d = diff(fused, reference);
  console.log(`      ${label}: max|Δ| ${d.maxAbs.toExponential(2)}`);
  assert.ok(d.maxAbs <= TOL, `${label}: max|Δ| ${d.maxAbs}`);
  tf.dispose([reference, fused]);
  assert.equal(tf.memory().numTensors, before);
}

/** A key bias with ~1 key in 5 masked out as the memory attention masks padding (−1e30), never all of them. */
function keyBias(rows: number, keys: number): tf.Tensor2D {
  return tf.tidy(() => {
    const masked = tf.less(tf.randomUniform([rows, keys], 0, 1, 'float32', seed++), 0.2);
    const keep = tf.concat([tf.zeros([rows, 1], 'bool'), tf.slice(masked, [0, 1], [rows, keys - 1])], 1);
    return tf.where(keep, tf.fill([rows, keys], -1e30), random([rows, keys], 3)) as tf.Tensor2D;
  });
}

describe('fused WebGPU kernels against their tfjs compositions', function () {
  let original: string;
  before(async () => {
    await setupBackend();
    original = tf.getBackend();
    await useBackend('webgpu');
  });
  after(async () => {
    setFusedKernels(true);
    await useBackend(original as BackendName);
  });

  describe('flash attention', () => {
    const cases: { b: number; qb: number; h: number; nq: number; nk: number; d: number; dv: number; bias: boolean }[] = [
      { b: 1, qb: 1, h: 1, nq: 1, nk: 1, d: 16, dv: 16, bias: false },
      { b: 1, qb: 1, h: 1, nq: 70, nk: 1, d: 16, dv: 8, bias: true },
      { b: 2, qb: 2, h: 8, nq: 37, nk: 133, d: 8, dv: 8, bias: false },
      // Queries of batch 1 serving 3 items, each with its own key bias (the tree's weighted memories).
      { b: 3, qb: 1, h: 8, nq: 67, nk: 45, d: 4, dv: 4, bias: true },
      // Memory attention's shape: 256-wide heads, 64-wide values projected after.
      { b: 1, qb: 1, h: 1, nq: 131, nk: 517, d: 256, dv: 64, bias: true },
      { b: 2, qb: 2, h: 1, nq: 65, nk: 30_001, d: 16, dv: 8, bias: true },
    ];
    for (const c of cases) {
      it(`multiHeadAttention B=${c.b}${c.qb !== c.b ? ` (queries of batch 1)` : ''}, ${c.h} head(s), ${c.nq} queries × ${c.nk} keys, d=${c.d}, dv=${c.dv}${c.bias ? ', key bias' : ''}`, () => {
        const q = random([c.qb, c.nq, c.h * c.d], 2) as tf.Tensor3D;
        const k = random([c.b, c.nk, c.h * c.d], 2) as tf.Tensor3D;
        const v = random([c.b, c.nk, c.h * c.dv]) as tf.Tensor3D;
        const bias = c.bias ? keyBias(c.b, c.nk) : undefined;
        compare('attention', () => multiHeadAttention(q, k, v, c.h, { keyBias: bias, maxScoreElements: 40 * c.nk }));
        tf.dispose([q, k, v, ...(bias ? [bias] : [])]);
      });
    }

    const grouped: { tq: number; tk: number; g: number; d: number; dv: number; bias: boolean }[] = [
      // Hiera's windows: 7×7 tokens, pooled 4×4 queries against 8×8 keys, windows × heads groups.
      { tq: 49, tk: 49, g: 24, d: 12, dv: 12, bias: false },
      { tq: 16, tk: 64, g: 9, d: 24, dv: 24, bias: false },
      { tq: 33, tk: 70, g: 5, d: 8, dv: 6, bias: true },
    ];
    for (const c of grouped) {
      it(`groupedAttention ${c.g} groups, ${c.tq} queries × ${c.tk} keys, d=${c.d}, dv=${c.dv}${c.bias ? ', bias' : ''}`, () => {
        const q = random([c.tq, c.g, c.d], 2) as tf.Tensor3D;
        const k = random([c.tk, c.g, c.d], 2) as tf.Tensor3D;
        const v = random([c.tk, c.g, c.dv]) as tf.Tensor3D;
        const bias = c.bias ? keyBias(c.g, c.tk) : undefined;
        compare('grouped attention', () => groupedAttention(q, k, v, 20 * c.g * c.tk, bias));
        tf.dispose([q, k, v, ...(bias ? [bias] : [])]);
      });
    }
  });

  describe('LayerNorm (+ residual, + GELU)', () => {
    // Rows one thread each (≤ 32 channels) and one workgroup each; channels not a multiple of the workgroup.
    for (const [rows, c] of [[1, 1], [257, 4], [1000, 32], [37, 33], [300, 256], [5, 1000]] as const) {
      for (const [residual, withGelu] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        it(`${rows} rows × ${c} channels${residual ? ' + residual' : ''}${withGelu ? ', then GELU' : ''}`, () => {
          const store = new WeightStore(new Map([
            ['n.weight', { shape: [c], data: seededValues(c, rows + c) }],
            ['n.bias', { shape: [c], data: seededValues(c, rows * c) }],
          ]));
          const norm = new LayerNorm(store.scope(''), { name: 'n', dim: c, eps: 1e-6 });
          store.finish();
          const x = tf.add(random([rows, c], 3), 5);
          const r = residual ? random([rows, c]) : undefined;
          compare('layer norm', () => (withGelu ? norm.callGelu(x, r) : norm.call(x, r)));
          tf.dispose([x, ...(r ? [r] : [])]);
          store.dispose();
        });
      }
    }
  });

  describe('window partition and unpartition (+ residual)', () => {
    // Maps that are and are not whole windows (padding), batches of 1 and 3, a pooled window's unpartition.
    const cases = [
      { b: 1, h: 16, w: 16, c: 8, ws: 8 },
      { b: 3, h: 13, w: 9, c: 5, ws: 4 },
      { b: 2, h: 14, w: 14, c: 96, ws: 7 },
      { b: 1, h: 1, w: 3, c: 1, ws: 2 },
    ];
    for (const { b, h, w, c, ws } of cases) {
      it(`B=${b}, ${h}×${w}×${c}, windows of ${ws}×${ws}`, () => {
        const win = { batch: b, wh: ws, ww: ws, ny: Math.ceil(h / ws), nx: Math.ceil(w / ws) };
        const x = random([b, h, w, c]) as tf.Tensor4D;
        const residual = random([b, h, w, c]) as tf.Tensor4D;
        compare('partition', () => partitionWindows(x, win));
        const tokens = random([ws * ws, b * win.ny * win.nx, c]) as tf.Tensor3D;
        compare('unpartition', () => unpartitionWindows(tokens, win, h, w));
        compare('unpartition + residual', () => unpartitionWindows(tokens, win, h, w, residual));
        const half = Math.floor(ws / 2);
        const pooled = random([half * half, b * win.ny * win.nx, c]) as tf.Tensor3D;
        if (ws % 2 === 0 && h >= 2 && w >= 2) compare('pooled unpartition', () => unpartitionWindows(pooled, { ...win, wh: half, ww: half }, Math.floor(h / 2), Math.floor(w / 2)));
        tf.dispose([x, residual, tokens, pooled]);
      });
    }
  });

  describe('RoPE projection (rotated tokens, then kept ones)', () => {
    // 1 and 8 heads; every token rotated, a tail of object-pointer tokens kept, several memory frames' grids.
    const cases = [
      { b: 1, heads: 1, headDim: 16, grid: 16, frames: 1, tail: 0 },
      { b: 2, heads: 8, headDim: 4, grid: 9, frames: 3, tail: 5 },
      { b: 3, heads: 1, headDim: 32, grid: 64, frames: 2, tail: 0 },
    ];
    for (const { b, heads, headDim, grid, frames, tail } of cases) {
      it(`B=${b}, ${heads} head(s) of ${headDim}, ${frames} grid(s) of ${grid} tokens + ${tail} kept`, () => {
        const inDim = 24;
        const outDim = heads * headDim;
        const store = new WeightStore(new Map<string, HostArray>([
          ['p.weight', { shape: [outDim, inDim], data: seededValues(outDim * inDim, 5) }],
          ['p.bias', { shape: [outDim], data: seededValues(outDim, 6) }],
        ]));
        const side = Math.sqrt(grid);
        const rope = new AxialRope({ headDim, numHeads: heads, theta: 10_000, featSizes: [side, side] });
        const projection = new RotaryProjection(store.scope(''), { name: 'p', inDim, outDim, rope });
        store.finish();
        const x = random([b, frames * grid + tail, inDim]) as tf.Tensor3D;
        compare('rope', () => projection.call(x, grid, frames * grid));
        x.dispose();
        store.dispose();
      });
    }
  });

  describe('GELU and Linear with its epilogue', () => {
    it('GELU over 70,001 values (not a multiple of the workgroup)', () => {
      const x = random([70_001], 6);
      compare('gelu', () => gelu(x));
      x.dispose();
    });
    // Shapes that take each of tfjs-webgpu's matMul programs (reduce, small output, split-K, packed) under the
    // one kernel, ranks 2 to 4, with and without a bias.
    const linears: { shape: number[]; inDim: number; outDim: number; bias: boolean }[] = [
      { shape: [3, 33, 45], inDim: 45, outDim: 70, bias: true },
      { shape: [1, 7], inDim: 7, outDim: 5, bias: true },
      { shape: [2, 3, 5, 16], inDim: 16, outDim: 33, bias: false },
      { shape: [1, 2500], inDim: 2500, outDim: 64, bias: true },
      { shape: [1, 67, 67, 24], inDim: 24, outDim: 96, bias: true },
    ];
    for (const { shape, inDim, outDim, bias } of linears) {
      for (const activation of [undefined, 'relu', 'gelu'] as const) {
        it(`Linear ${inDim} → ${outDim}${bias ? '' : ' (no bias)'}${activation ? ` + ${activation}` : ''} over [${shape.join(', ')}]`, () => {
          const arrays = new Map<string, HostArray>([['l.weight', { shape: [outDim, inDim], data: seededValues(outDim * inDim, 3) }]]);
          if (bias) arrays.set('l.bias', { shape: [outDim], data: seededValues(outDim, 4) });
          const store = new WeightStore(arrays);
          const linear = new Linear(store.scope(''), { name: 'l', inDim, outDim, bias });
          store.finish();
          const x = random(shape);
          compare('linear', () => linear.call(x, activation));
          x.dispose();
          store.dispose();
        });
      }
    }
  });

  describe('epilogue inside each of tfjs-webgpu\'s matMul programs (activation, · scale, + residual)', () => {
    // WEBGPU_MATMUL_PROGRAM_TYPE forces the program; split-K runs a zero fill, the product and a bias program,
    // the others one program, and the epilogue adds none to either. Outputs of 20 and 12 channels take the
    // vectorised programs (vec4 operands), 7 the scalar ones.
    const types = [
      { type: 0, name: 'reduce', programs: 1 },
      { type: 1, name: 'split-K', programs: 3 },
      { type: 2, name: 'small output', programs: 1 },
      { type: 3, name: 'packed', programs: 1 },
    ];
    const shapes = [
      { rows: 37, inDim: 36, outDim: 20 },
      { rows: 5, inDim: 45, outDim: 7 },
      { rows: 3, inDim: 260, outDim: 12 },
    ];
    const epilogues = [
      { name: 'residual', scaled: false },
      { name: '· scale + residual', scaled: true },
    ];
    let original: number;
    before(() => {
      original = tf.env().getNumber('WEBGPU_MATMUL_PROGRAM_TYPE');
    });
    afterEach(() => tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', original));
    for (const { type, name, programs } of types) {
      for (const { rows, inDim, outDim } of shapes) {
        for (const activation of ['linear', 'relu', 'gelu'] as const) {
          for (const { name: epilogueName, scaled } of [{ name: 'nothing', scaled: false }, ...epilogues].filter((e, i) => i > 0 || activation === 'gelu')) {
            it(`${name}: ${rows} × ${inDim} → ${outDim}, ${activation}, then ${epilogueName}`, () => {
              tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', type);
              const x = random([rows, inDim]);
              const w = random([inDim, outDim], 0.3) as tf.Tensor2D;
              const b = random([outDim]) as tf.Tensor1D;
              const scale = scaled ? (random([outDim]) as tf.Tensor1D) : undefined;
              const residual = epilogueName === 'nothing' ? undefined : random([rows, outDim]);
              const reference = () => tf.tidy(() => {
                const y0 = tf.add(tf.matMul(x as tf.Tensor2D, w), b);
                const y1 = activation === 'relu' ? tf.relu(y0) : activation === 'gelu' ? gelu(y0) : y0;
                const y2 = scale ? tf.mul(y1, scale) : y1;
                return residual ? tf.add(residual, y2) : y2;
              });
              compare('linear epilogue', () => (fusedKernelsOn() ? fusedLinear(x, w, b, activation, { scale, residual }) : reference()));
              const counting = startCounting();
              const y = fusedLinear(x, w, b, activation, { scale, residual });
              assert.equal(counting.stop().programs, programs);
              tf.dispose([x, w, b, y, ...(scale ? [scale] : []), ...(residual ? [residual] : [])]);
            });
          }
        }
      }
      // An addend read with x (a position encoding before a projection): x's own shape, or one item's shared by
      // the batch; alone and with an epilogue in the same program.
      const addends = [
        { x: [3, 7, 36], addend: [1, 7, 36], outDim: 20 },
        { x: [2, 5, 45], addend: [2, 5, 45], outDim: 7 },
        { x: [4, 65, 16], addend: [1, 65, 16], outDim: 12 },
      ];
      for (const shapes of addends) {
        for (const activation of ['linear', 'gelu'] as const) {
          it(`${name}: x [${shapes.x.join(', ')}] + addend [${shapes.addend.join(', ')}] → ${shapes.outDim}, ${activation}${activation === 'gelu' ? ', then residual' : ''}`, () => {
            tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', type);
            const inDim = shapes.x[shapes.x.length - 1];
            const x = random(shapes.x);
            const addend = random(shapes.addend);
            const w = random([inDim, shapes.outDim], 0.3) as tf.Tensor2D;
            const b = random([shapes.outDim]) as tf.Tensor1D;
            const residual = activation === 'gelu' ? random([...shapes.x.slice(0, -1), shapes.outDim]) : undefined;
            const reference = () => tf.tidy(() => {
              const y = tf.add(tf.matMul(tf.reshape(tf.add(x, addend), [-1, inDim]) as tf.Tensor2D, w), b);
              const z = tf.reshape(activation === 'gelu' ? gelu(y) : y, [...shapes.x.slice(0, -1), shapes.outDim]);
              return residual ? tf.add(residual, z) : z;
            });
            compare('linear + addend', () => (fusedKernelsOn() ? fusedLinear(x, w, b, activation, { addend, residual }) : reference()));
            const counting = startCounting();
            const y = fusedLinear(x, w, b, activation, { addend, residual });
            assert.equal(counting.stop().programs, programs);
            tf.dispose([x, addend, w, b, y, ...(residual ? [residual] : [])]);
          });
        }
      }
    }
  });

  describe('grouped Linear (one layer per group, as the hypernetwork MLPs run)', () => {
    // The reference is what the mask decoder runs off WebGPU: each group's rows through a 2-D product of its own.
    const reference = (x: tf.Tensor3D, w: tf.Tensor3D, b: tf.Tensor3D, activation: 'linear' | 'relu' | 'gelu') => tf.tidy(() => {
      const groups = tf.unstack(x).map((rows, g) => {
        const y = tf.add(tf.matMul(rows as tf.Tensor2D, tf.squeeze(tf.slice(w, [g, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D), tf.squeeze(tf.slice(b, [g, 0, 0], [1, -1, -1]), [0]));
        return activation === 'relu' ? tf.relu(y) : activation === 'gelu' ? gelu(y) : y;
      });
      return tf.stack(groups);
    });
    const cases = [
      { groups: 4, rows: 1, inDim: 256, outDim: 32 },
      { groups: 4, rows: 3, inDim: 64, outDim: 64 },
      { groups: 3, rows: 5, inDim: 45, outDim: 70 },
      { groups: 1, rows: 33, inDim: 16, outDim: 8 },
    ];
    for (const { groups, rows, inDim, outDim } of cases) {
      for (const activation of ['linear', 'relu', 'gelu'] as const) {
        it(`${groups} groups of ${rows} row(s), ${inDim} → ${outDim}, ${activation}`, () => {
          const x = random([groups, rows, inDim]) as tf.Tensor3D;
          const w = random([groups, inDim, outDim], 0.2) as tf.Tensor3D;
          const b = random([groups, 1, outDim]) as tf.Tensor3D;
          compare('grouped linear', () => (fusedKernelsOn() ? fusedGroupedLinear(x, w, b, activation) : reference(x, w, b, activation)));
          tf.dispose([x, w, b]);
        });
      }
    }
  });

  describe('bit-packed masks at video resolution (upsampled in place, non-overlap rule)', () => {
    // Up- and downsampling, H·W not a multiple of 16, one object and several (with a tie: a copied row).
    const cases = [
      { n: 1, h: 16, height: 37, width: 45 },
      { n: 3, h: 16, height: 37, width: 45 },
      { n: 2, h: 64, height: 50, width: 41 },
      { n: 4, h: 64, height: 240, width: 427 },
    ];
    for (const { n, h, height, width } of cases) {
      for (const layout of ['NHWC', 'NCHW'] as const) {
        it(`${n} object(s), ${h}×${h} → ${height}×${width}, ${layout}`, () => {
          const rows = random([n, h, h, 1], 8);
          const lowRes = n > 2 ? tf.concat([rows, tf.slice(rows, [0, 0, 0, 0], [1, -1, -1, -1])]) : tf.clone(rows);
          const shaped = layout === 'NHWC' ? lowRes : tf.reshape(lowRes, [lowRes.shape[0], 1, h, h]);
          for (const part of [0, 1]) {
            compare(`mask bits${part ? ' (exclusive)' : ''}`, () => {
              const bits = packedMaskBits(tf.clone(shaped) as tf.Tensor4D, height, width, true);
              const keep = bits[Math.min(part, bits.length - 1)];
              tf.dispose(bits.filter((b) => b !== keep));
              return keep;
            });
          }
          tf.dispose([rows, lowRes, shaped]);
        });
      }
    }
  });

  describe('ConvNeXt block (depthwise 7×7 + LayerNorm2d, Linear + GELU, Linear + layer scale + input)', () => {
    // Maps that are not multiples of a workgroup's pixels, one smaller than the kernel, batches of 1 to 3.
    const cases = [
      { b: 1, h: 5, w: 7, c: 8, gamma: true },
      { b: 1, h: 2, w: 3, c: 8, gamma: false },
      { b: 3, h: 13, w: 11, c: 64, gamma: false },
      { b: 1, h: 9, w: 70, c: 64, gamma: true },
      { b: 3, h: 6, w: 5, c: 256, gamma: true },
      { b: 1, h: 4, w: 9, c: 256, gamma: false },
      // Channel vectors that fill neither the 16 threads sharing a pixel (40 = 10 vec4s) nor their second round
      // (96 = 16 + 8 vec4s); channels read one by one, not as vec4s, in three rounds (33 = 16 + 16 + 1).
      { b: 2, h: 7, w: 6, c: 40, gamma: true },
      { b: 1, h: 3, w: 17, c: 96, gamma: false },
      { b: 2, h: 5, w: 8, c: 33, gamma: true },
    ];
    for (const { b, h, w, c, gamma } of cases) {
      it(`B=${b}, ${h}×${w}×${c}${gamma ? ', layer scale' : ''}`, () => {
        // Weights at PyTorch's default init scale (1/√fan-in), so the block's values stay O(1) as in a model.
        const values = (n: number, fanIn: number, s: number) => seededValues(n, s).map((v) => v / Math.sqrt(fanIn));
        const arrays = new Map<string, HostArray>([
          ['dwconv.weight', { shape: [c, 1, 7, 7], data: values(49 * c, 49, c + 1) }],
          ['dwconv.bias', { shape: [c], data: values(c, 49, c + 2) }],
          ['norm.weight', { shape: [c], data: seededValues(c, c + 3).map((v) => 1 + v / 2) }],
          ['norm.bias', { shape: [c], data: seededValues(c, c + 4) }],
          ['pwconv1.weight', { shape: [4 * c, c], data: values(4 * c * c, c, c + 5) }],
          ['pwconv1.bias', { shape: [4 * c], data: values(4 * c, c, c + 6) }],
          ['pwconv2.weight', { shape: [c, 4 * c], data: values(4 * c * c, 4 * c, c + 7) }],
          ['pwconv2.bias', { shape: [c], data: values(c, 4 * c, c + 8) }],
        ]);
        // Real checkpoints hold a tiny γ (1e-6 at init); an O(1) one puts the MLP branch into the comparison.
        if (gamma) arrays.set('gamma', { shape: [c], data: seededValues(c, c + 9) });
        const store = new WeightStore(arrays);
        const block = new CXBlock(store.scope(''), { dim: c, kernel_size: 7, padding: 3, drop_path: 0, layer_scale_init_value: gamma ? 1e-6 : 0, use_dwconv: true });
        store.finish();
        const x = random([b, h, w, c], 2) as tf.Tensor4D;
        compare('cx block', () => block.call(x));
        // Three kernels and three programs: depthwise + norm, Linear + GELU, Linear + layer scale + input (the
        // epilogues inside the matMul programs).
        const counting = startCounting();
        const y = block.call(x);
        const { kernels, programs } = counting.stop();
        assert.equal(kernels, 3);
        assert.equal(programs, 3);
        tf.dispose([x, y]);
        store.dispose();
      });
    }
  });

  describe('elementwise chains as one program (full, per-channel, per-token and per-row operands)', () => {
    const shape = [3, 37, 45, 5]; // not a multiple of the workgroup
    it('sigmoid(x) · 20 − 10 (the memory encoder\'s mask for memory)', () => {
      const x = random(shape, 6);
      compare('sigmoid chain', () => tf.tidy(() => fusedKernelsOn() ? fusedElementwise(`${wgslSigmoid('v0')} * 20.0 + -10.0`, shape, [[x, 'full']]) : tf.add(tf.mul(tf.sigmoid(x), 20), -10)));
      x.dispose();
    });
    it('x + [score ≤ 0] · embed (row and channel operands)', () => {
      const [x, score, embed] = [random(shape), random([3, 1]), random([5])];
      compare('row/channel chain', () => tf.tidy(() => fusedKernelsOn()
        ? fusedElementwise('v0 + select(0.0, 1.0, v1 <= 0.0) * v2', shape, [[x, 'full'], [score, 'row'], [embed, 'channel']])
        : tf.add(x, tf.mul(tf.reshape(tf.cast(tf.lessEqual(score, 0), 'float32'), [-1, 1, 1, 1]), embed))));
      tf.dispose([x, score, embed]);
    });
    it('(memory + pos) · weight per token', () => {
      const [m, p, w] = [random([2, 301, 64]), random([2, 301, 64]), random([2, 301])];
      compare('token chain', () => tf.tidy(() => fusedKernelsOn()
        ? fusedElementwise('(v0 + v1) * v2', m.shape, [[m, 'full'], [p, 'full'], [w, 'token']])
        : tf.mul(tf.add(m, p), tf.expandDims(w, 2))));
      tf.dispose([m, p, w]);
    });
    it('an operand cast from bool (tfjs-webgpu keeps its data as integers)', () => {
      const [ptr, score, noObj] = [random([3, 64]), random([3, 1]), random([64])];
      compare('cast operand chain', () => tf.tidy(() => {
        const present = tf.cast(tf.greater(score, 0), 'float32');
        return fusedKernelsOn()
          ? fusedElementwise('v1 * v0 + (1.0 - v1) * v2', ptr.shape, [[ptr, 'full'], [present, 'token'], [noObj, 'channel']])
          : tf.add(tf.mul(present, ptr), tf.mul(tf.sub(1, present), noObj));
      }));
      tf.dispose([ptr, score, noObj]);
    });
    it('refuses an operand of the wrong size', () => {
      const x = random([4, 5]);
      assert.throws(() => fusedElementwise('v0', [4, 6], [[x, 'full']]), /'full' operand of \[4, 5\]/);
      x.dispose();
    });
  });

  describe('one row per batch item (pickPerItem)', () => {
    for (const shape of [[1, 3, 5, 7], [4, 3, 16, 16], [3, 4, 33]]) {
      it(`[${shape.join(', ')}]`, () => {
        const x = random(shape);
        const index = tf.tensor1d(Array.from({ length: shape[0] }, (_, b) => (b * 2 + 1) % shape[1]), 'int32');
        compare('pick rows', () => pickPerItem(x, index));
        tf.dispose([x, index]);
      });
    }
  });
});
