/**
 * Attention as one WebGPU program (flash attention): softmax(Q·Kᵀ·scale + bias)·V with the keys streamed in
 * tiles through workgroup memory and an online softmax (a running maximum and sum per query, the partial
 * output rescaled when the maximum grows), so no score matrix is ever written. Each thread owns one query
 * row; a workgroup shares each key/value tile among its QUERY_ROWS queries. Heads, batch items and the
 * optional key bias are read in place through strides: no transposes, no head splits, any query or key
 * length. It replaces model/common.ts's multiHeadAttention and groupedAttention compositions (matMul /
 * depthwise products, softmax, chunking) on the webgpu backend; those stay the path elsewhere and are its
 * reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { unroll } from './wgsl.js';

const KERNEL = 'Sam2longFlashAttention';

/** Queries per workgroup (one per thread). */
const QUERY_ROWS = 64;
/** Bytes of workgroup memory a key/value tile may take (WebGPU guarantees 16 KiB). */
const TILE_BYTES = 12 * 1024;
const MAX_TILE_KEYS = 32;
/**
 * Loop iterations one invocation may run. Mesa's llvmpipe (the software adapter CI runs) counts every loop
 * back-edge of an invocation against one budget of 65,535 and silently leaves all loops once it is spent, so
 * the channel loops are unrolled in the shader source and long key ranges are split over invocations
 * (flash-decoding: partial results per split, then one combining pass). On a GPU the splits also give a
 * long-key, few-query problem (memory attention: 4,096 queries × 28,736 keys) enough workgroups.
 */
const LOOP_BUDGET = 40_000;
const MAX_SPLIT_KEYS = 4096;

/**
 * Where element (batch b, token n, head h, channel c) of a tensor lies: b·batch + n·token + h·head + c.
 * A stride of 0 repeats the tensor over that axis (one query set serving every batch item).
 */
export interface AttentionStrides {
  batch: number;
  token: number;
  head: number;
}

/** The layout of one attention problem set: `batch` × `heads` independent problems. */
export interface FlashAttentionLayout {
  batch: number;
  heads: number;
  queries: number;
  keys: number;
  /** Channels of q and k per head, and of v per head. */
  depth: number;
  valueDepth: number;
  q: AttentionStrides;
  k: AttentionStrides;
  v: AttentionStrides;
  /** Bias of key j for (b, h): bias[b·batch + h·head + j]. */
  bias?: { batch: number; head: number };
  scale: number;
}

type Attrs = { layout: FlashAttentionLayout };

/** Keys per key/value tile in workgroup memory. */
function tileKeys(depth: number, valueDepth: number): number {
  return Math.max(1, Math.min(MAX_TILE_KEYS, Math.floor(TILE_BYTES / (4 * (depth + valueDepth + 1)))));
}

/** Keys one invocation handles: its loop iterations (key loops, tile loads) stay within LOOP_BUDGET. */
function splitKeys(depth: number, valueDepth: number): number {
  const perKey = 2 + (depth + valueDepth) / QUERY_ROWS + 1 / tileKeys(depth, valueDepth);
  return Math.max(1, Math.min(MAX_SPLIT_KEYS, Math.floor(LOOP_BUDGET / perKey)));
}

/**
 * One (query tile, head × key split, batch item) per workgroup. With one split it writes the normalised output
 * [B, Nq, H·dv]; with several, per split and query the unnormalised sums, the running maximum and the sum of
 * weights: [B, H·splits, Nq·(dv + 2)].
 */
class FlashAttentionProgram implements WebGPUProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0], y: [1], z: [2] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [QUERY_ROWS, 1, 1];
  uniforms = 'nq : i32, nk : i32, qB : i32, qN : i32, qH : i32, kB : i32, kN : i32, kH : i32, vB : i32, vN : i32, vH : i32, biasB : i32, biasH : i32, splitKeys : i32, splits : i32, scale : f32,';
  private readonly tileKeys: number;

  constructor(private readonly layout: FlashAttentionLayout, private readonly splits: number) {
    const { batch, heads, queries, depth, valueDepth } = layout;
    this.variableNames = layout.bias ? ['q', 'k', 'v', 'keyBias'] : ['q', 'k', 'v'];
    this.outputShape = splits === 1 ? [batch, queries, heads * valueDepth] : [batch, heads * splits, queries * (valueDepth + 2)];
    this.tileKeys = tileKeys(depth, valueDepth);
    this.dispatch = [Math.ceil(queries / QUERY_ROWS), heads * splits, batch];
    this.shaderKey = `flashAttention_${depth}_${valueDepth}_${this.tileKeys}_${layout.bias ? 'bias' : ''}_${splits === 1 ? 'final' : 'partial'}`;
  }

  getUserCode(): string {
    const { depth: D, valueDepth: DV } = this.layout;
    const T = this.tileKeys;
    const bias = this.layout.bias !== undefined;
    const store = this.splits === 1
      ? `let outBase = (b * nq + row) * heads * ${DV} + h * ${DV};
        let norm = 1.0 / runSum;
        ${unroll(DV, (c) => `result[outBase + ${c}] = acc[${c}] * norm;`)}`
      : `let outBase = ((b * heads + h) * uniforms.splits + split) * nq * ${DV + 2} + row * ${DV + 2};
        ${unroll(DV, (c) => `result[outBase + ${c}] = acc[${c}];`)}
        result[outBase + ${DV}] = runMax;
        result[outBase + ${DV + 1}] = runSum;`;
    return `
    var<workgroup> kTile : array<f32, ${T * D}>;
    var<workgroup> vTile : array<f32, ${T * DV}>;
    var<workgroup> bTile : array<f32, ${T}>;

    fn main() {
      let tid = i32(localId.x);
      let row = i32(workgroupId.x) * ${QUERY_ROWS} + tid;
      let split = i32(workgroupId.y) % uniforms.splits;
      let h = i32(workgroupId.y) / uniforms.splits;
      let heads = i32(numWorkgroups.y) / uniforms.splits;
      let b = i32(workgroupId.z);
      let nq = uniforms.nq;
      let live = row < nq;
      let first = split * uniforms.splitKeys;
      let end = min(uniforms.nk, first + uniforms.splitKeys);

      var query : array<f32, ${D}>;
      var acc : array<f32, ${DV}>;
      var s : array<f32, ${T}>;
      let qBase = b * uniforms.qB + min(row, nq - 1) * uniforms.qN + h * uniforms.qH;
      ${unroll(D, (c) => `query[${c}] = q[qBase + ${c}] * uniforms.scale;`)}
      ${unroll(DV, (c) => `acc[${c}] = 0.0;`)}
      var runMax = -3.402823e38;
      var runSum = 0.0;
      let kBase = b * uniforms.kB + h * uniforms.kH;
      let vBase = b * uniforms.vB + h * uniforms.vH;

      // The loop's bounds are uniform (barriers inside); the last split runs past its end with empty tiles.
      for (var offset = 0; offset < uniforms.splitKeys; offset += ${T}) {
        let start = first + offset;
        let count = clamp(end - start, 0, ${T});
        workgroupBarrier();
        for (var e = tid; e < count * ${D}; e += ${QUERY_ROWS}) {
          let j = e / ${D};
          kTile[e] = k[kBase + (start + j) * uniforms.kN + e - j * ${D}];
        }
        for (var e = tid; e < count * ${DV}; e += ${QUERY_ROWS}) {
          let j = e / ${DV};
          vTile[e] = v[vBase + (start + j) * uniforms.vN + e - j * ${DV}];
        }
        ${bias ? 'if (tid < count) { bTile[tid] = keyBias[b * uniforms.biasB + h * uniforms.biasH + start + tid]; }' : ''}
        workgroupBarrier();
        if (live && count > 0) {
          var tileMax = -3.402823e38;
          for (var j = 0; j < count; j++) {
            let kj = j * ${D};
            var dot = ${bias ? 'bTile[j]' : '0.0'};
            ${unroll(D, (c) => `dot += query[${c}] * kTile[kj + ${c}];`)}
            s[j] = dot;
            tileMax = max(tileMax, dot);
          }
          let newMax = max(runMax, tileMax);
          let rescale = exp(runMax - newMax);
          runSum *= rescale;
          ${unroll(DV, (c) => `acc[${c}] *= rescale;`)}
          for (var j = 0; j < count; j++) {
            let p = exp(s[j] - newMax);
            let vj = j * ${DV};
            runSum += p;
            ${unroll(DV, (c) => `acc[${c}] += p * vTile[vj + ${c}];`)}
          }
          runMax = newMax;
        }
      }
      if (live) {
        ${store}
      }
    }
    `;
  }
}

/** Combines the key splits' partial results: rescaled to the largest maximum, summed, normalised. */
class CombineSplitsProgram implements WebGPUProgram {
  variableNames = ['partial'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  uniforms = 'splits : i32, heads : i32,';

  constructor(batch: number, heads: number, queries: number, private readonly valueDepth: number) {
    this.outputShape = [batch, queries, heads * valueDepth];
    this.dispatchLayout = { x: [0, 1, 2] };
    this.dispatch = [Math.ceil((batch * queries * heads * valueDepth) / 64), 1, 1];
    this.shaderKey = `flashAttentionCombine_${valueDepth}`;
  }

  getUserCode(): string {
    const DV = this.valueDepth;
    return `
    fn main(index : i32) {
      if (index >= uniforms.size) { return; }
      let nq = uniforms.outShape[1];
      let heads = uniforms.heads;
      let c = index % ${DV};
      let h = (index / ${DV}) % heads;
      let row = (index / (${DV} * heads)) % nq;
      let b = index / (${DV} * heads * nq);
      let stride = nq * ${DV + 2};
      let base = (b * heads + h) * uniforms.splits * stride + row * ${DV + 2};
      var top = -3.402823e38;
      for (var s = 0; s < uniforms.splits; s++) { top = max(top, partial[base + s * stride + ${DV}]); }
      var num = 0.0;
      var den = 0.0;
      for (var s = 0; s < uniforms.splits; s++) {
        let at = base + s * stride;
        let w = exp(partial[at + ${DV}] - top);
        num += partial[at + c] * w;
        den += partial[at + ${DV + 1}] * w;
      }
      setOutputAtIndex(index, num / den);
    }
    `;
  }
}

function flashAttentionKernel({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const { layout } = attrs as unknown as Attrs;
  const { q, k, v, keyBias } = inputs as Record<string, tf.TensorInfo>;
  const gpu = backend as WebGPUBackend;
  const perSplit = splitKeys(layout.depth, layout.valueDepth);
  const splits = Math.ceil(layout.keys / perSplit);
  const s = (x: AttentionStrides) => [x.batch, x.token, x.head];
  // One entry per scalar of the program's `uniforms` struct, in its order (each is laid out as its own field).
  const ints = [layout.queries, layout.keys, ...s(layout.q), ...s(layout.k), ...s(layout.v), layout.bias?.batch ?? 0, layout.bias?.head ?? 0, perSplit, splits];
  const uniform = [...ints.map((x) => ({ type: 'int32', data: [x] })), { type: 'float32', data: [layout.scale] }];
  const attend = new FlashAttentionProgram(layout, splits);
  const out = gpu.runWebGPUProgram(attend, keyBias ? [q, k, v, keyBias] : [q, k, v], 'float32', uniform);
  if (splits === 1) return out;
  const combine = new CombineSplitsProgram(layout.batch, layout.heads, layout.queries, layout.valueDepth);
  const result = gpu.runWebGPUProgram(combine, [out], 'float32', [{ type: 'int32', data: [splits] }, { type: 'int32', data: [layout.heads] }]);
  gpu.disposeData(out.dataId);
  return result;
}

registerFusedKernel(KERNEL, flashAttentionKernel as unknown as tf.KernelFunc);

/**
 * Runs the fused attention program (webgpu backend only) over tensors laid out as `layout` says.
 * Output [B, Nq, H·dv].
 */
// q, k, v, bias: any layout the strides describe → [B, Nq, H·dv]
export function flashAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, layout: FlashAttentionLayout, bias?: tf.Tensor): tf.Tensor3D {
  const inputs: tf.NamedTensorMap = bias ? { q, k, v, keyBias: bias } : { q, k, v };
  return tf.engine().runKernel(KERNEL, inputs, { layout } as unknown as tf.NamedAttrMap) as tf.Tensor3D;
}

/**
 * multiHeadAttention's problem as a layout: heads split from the channel axis, queries of batch 1 serving
 * every item, the key bias per batch item.
 */
// q [B or 1, Nq, H·d], k [B, Nk, H·d], v [B, Nk, H·dv], keyBias [B, Nk] → [B, Nq, H·dv]
export function multiHeadFlashAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, numHeads: number, keyBias?: tf.Tensor2D): tf.Tensor3D {
  const [qBatch, nq, qc] = q.shape;
  const [batch, nk, kc] = k.shape;
  const vc = v.shape[2];
  const d = qc / numHeads;
  const dv = vc / numHeads;
  return flashAttention(q, k, v, {
    batch, heads: numHeads, queries: nq, keys: nk, depth: d, valueDepth: dv,
    q: { batch: qBatch === 1 ? 0 : nq * qc, token: qc, head: d },
    k: { batch: nk * kc, token: kc, head: d },
    v: { batch: nk * vc, token: vc, head: dv },
    ...(keyBias ? { bias: { batch: nk, head: 0 } } : {}),
    scale: 1 / Math.sqrt(d),
  }, keyBias);
}

/**
 * groupedAttention's problem as a layout: G groups (windows × heads) of tokens-first tensors, one bias row
 * per group.
 */
// q [Tq, G, d], k [Tk, G, d], v [Tk, G, dv], bias [G, Tk] → [Tq, G, dv]
export function groupedFlashAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, bias?: tf.Tensor2D): tf.Tensor3D {
  const [tq, groups, d] = q.shape;
  const [tk, , dv] = v.shape;
  return tf.tidy(() => tf.reshape(flashAttention(q, k, v, {
    batch: 1, heads: groups, queries: tq, keys: tk, depth: d, valueDepth: dv,
    q: { batch: 0, token: groups * d, head: d },
    k: { batch: 0, token: groups * d, head: d },
    v: { batch: 0, token: groups * dv, head: dv },
    ...(bias ? { bias: { batch: 0, head: tk } } : {}),
    scale: 1 / Math.sqrt(d),
  }, bias), [tq, groups, dv]));
}
