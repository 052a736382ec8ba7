/**
 * Taking rows out of a tensor, the way each backend does it fastest. tfjs-wasm's Gather, Slice and Tile kernels
 * move ~20–50 M elements/s (per-element index arithmetic; a slice also reads its whole source), against GB/s for
 * a plain copy: on the CPU backends rows are copied through host memory instead (one read of the source, one
 * write per result). Where tensors live on a GPU (webgpu, webgl) or in native TensorFlow, reading them back
 * would cost far more than their own gather.
 */
import * as tf from '@tensorflow/tfjs-core';

const HOST_COPY_BACKENDS = new Set(['wasm', 'cpu']);

/** Whether rows of `x` are taken fastest by a copy through host memory on the current backend. */
function copiesOnHost(x: tf.Tensor): boolean {
  return HOST_COPY_BACKENDS.has(tf.getBackend()) && x.dtype === 'float32';
}

/** `x`'s values as host floats, when copying rows through the host is the fast way here. */
function hostRows(x: tf.Tensor, indices: readonly number[], what: string): Float32Array | null {
  const rows = x.shape[0];
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= rows) throw new RangeError(`${what}: row ${i} is outside [0, ${rows})`);
  }
  if (!copiesOnHost(x)) return null;
  const view = inPlaceView(x);
  return view instanceof Float32Array ? view : (x.dataSync() as Float32Array);
}

/** A fresh host copy of `x`'s values: dataSync's, made 50× faster on a shared wasm heap (see inPlaceView). */
// x [...] (float32 or int32) → x.size values
export function hostCopy(x: tf.Tensor): Float32Array | Int32Array {
  const view = inPlaceView(x);
  if (!view) {
    // Still a copy (the cpu backend's dataSync is its own storage), but a memcpy: slice is fast outside shared memory.
    const values = x.dataSync();
    return values instanceof Float32Array || values instanceof Int32Array ? values.slice() : Float32Array.from(values);
  }
  // The cpu backend keeps a cast of a bool tensor in the bool's bytes.
  const copy = view instanceof Int32Array || (view instanceof Uint8Array && x.dtype === 'int32') ? new Int32Array(view.length) : new Float32Array(view.length);
  copy.set(view);
  return copy;
}

/** The parts of tfjs-wasm's backend that give a tensor's place in its heap. */
interface WasmHeap {
  dataIdMap: { has(dataId: object): boolean };
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

/** The part of tfjs's cpu backend that holds a tensor's values: plain typed arrays in JS memory. */
interface CpuStorage {
  data: { get(dataId: object): { values?: unknown } | undefined };
}

/**
 * `x`'s values where they already are in host memory, without a read through the engine: a view of the
 * shared wasm heap (sharedHeapView), or the cpu backend's own array (what its dataSync returns, uncopied).
 * Null elsewhere (a single-threaded wasm heap, whose views a growing heap detaches: dataSync there).
 */
function inPlaceView(x: tf.Tensor): Float32Array | Int32Array | Uint8Array | null {
  if (tf.getBackend() !== 'cpu') return sharedHeapView(x);
  const values = (tf.backend() as unknown as Partial<CpuStorage>).data?.get(x.dataId)?.values;
  return values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array ? values : null;
}

/**
 * `x`'s values in place, on multi-threaded tfjs-wasm: dataSync copies them out with a slice of the heap, and a
 * slice of a SharedArrayBuffer runs at ~0.3 GB/s in V8 (a set at ~15 GB/s), which made reading the rows of a
 * 3-path memory at 1024 px cost seconds. A shared heap keeps its views valid when it grows, so the view may be
 * read while the results are allocated; a single-threaded heap would detach it (null there: dataSync).
 */
function sharedHeapView(x: tf.Tensor): Float32Array | Int32Array | null {
  if (tf.getBackend() !== 'wasm' || (x.dtype !== 'float32' && x.dtype !== 'int32')) return null;
  const backend = tf.backend() as unknown as Partial<WasmHeap>;
  if (!backend.typedArrayFromHeap || !backend.dataIdMap?.has(x.dataId)) return null;
  const view = backend.typedArrayFromHeap({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
  // A page that is not cross-origin isolated has no SharedArrayBuffer at all (nor a threaded heap).
  return typeof SharedArrayBuffer !== 'undefined' && view.buffer instanceof SharedArrayBuffer ? view : null;
}

/** Rows `indices` of `x` along its first axis, each as its own tensor of `x.shape.slice(1)`. */
// x [R, ...rest], indices (k) → k × [...rest]
export function takeRows(x: tf.Tensor, indices: readonly number[]): tf.Tensor[] {
  const [rows, ...rest] = x.shape;
  if (rows === 1 && indices.length === 1 && indices[0] === 0) return [tf.reshape(x, rest)];
  const data = hostRows(x, indices, 'takeRows');
  if (!data) return indices.map((i) => tf.reshape(tf.gather(x, [i]), rest));
  const size = data.length / rows;
  return indices.map((i) => tf.tensor(data.subarray(i * size, (i + 1) * size), rest, 'float32'));
}

/** Rows `indices` of `x` stacked: tf.gather(x, indices) on axis 0. */
// x [R, ...rest], indices (k) → [k, ...rest]
export function gatherRows<T extends tf.Tensor>(x: T, indices: readonly number[]): T {
  const data = hostRows(x, indices, 'gatherRows');
  if (!data) return tf.gather(x, [...indices]) as T;
  const size = data.length / x.shape[0];
  const out = new Float32Array(indices.length * size);
  // Runs of consecutive rows are one copy each.
  for (let k = 0; k < indices.length;) {
    let n = 1;
    while (k + n < indices.length && indices[k + n] === indices[k] + n) n++;
    out.set(data.subarray(indices[k] * size, (indices[k] + n) * size), k * size);
    k += n;
  }
  return tf.tensor(out, [indices.length, ...x.shape.slice(1)], 'float32') as T;
}

/** first, first + 1, …, first + n − 1. */
export function rowIndices(n: number, first = 0): number[] {
  return Array.from({ length: n }, (_, i) => first + i);
}

/** Rows [start, start + count) of `x` stacked (`x` itself when that is all of it). */
// x [R, ...rest] → [count, ...rest]
export function rowRange<T extends tf.Tensor>(x: T, start: number, count: number): T {
  return start === 0 && count === x.shape[0] ? x : gatherRows(x, rowIndices(count, start));
}

/** `x` cut along its first axis into consecutive blocks of `size` rows (the last may be shorter). */
// x [R, ...rest] → ⌈R / size⌉ × [≤ size, ...rest]
export function rowBlocks<T extends tf.Tensor>(x: T, size: number): T[] {
  const [rows, ...rest] = x.shape;
  if (size >= rows) return [x];
  const starts = Array.from({ length: Math.ceil(rows / size) }, (_, i) => i * size);
  const data = hostRows(x, [], 'rowBlocks');
  if (!data) return starts.map((s) => tf.slice(x, [s, ...rest.map(() => 0)], [Math.min(size, rows - s), ...rest]) as T);
  const perRow = data.length / rows;
  return starts.map((s) => {
    const n = Math.min(size, rows - s);
    return tf.tensor(data.subarray(s * perRow, (s + n) * perRow), [n, ...rest], 'float32') as T;
  });
}

/** Rows `indices` of `x` stacked, the indices a tensor (read back only where rows are copied on the host). */
// x [R, ...rest], indices [k] int32 → [k, ...rest]
export function gatherRowsAt<T extends tf.Tensor>(x: T, indices: tf.Tensor1D): T {
  return copiesOnHost(x) ? gatherRows(x, Array.from(hostCopy(indices))) : tf.gather(x, indices) as T;
}

/** x[:, start : start + count]: each item's block is contiguous, so the CPU backends copy one block per item. */
// x [B, M, ...rest] → [B, count, ...rest]
export function sliceAxis1<T extends tf.Tensor>(x: T, start: number, count: number): T {
  const [batch, m, ...rest] = x.shape;
  if (start === 0 && count === m) return x;
  if (!copiesOnHost(x)) return tf.slice(x, [0, start], [batch, count, ...rest]) as T;
  if (start < 0 || count < 0 || start + count > m) throw new RangeError(`sliceAxis1: [${start}, ${start + count}) is outside [0, ${m})`);
  const data = hostRows(x, [], 'sliceAxis1') as Float32Array;
  const inner = data.length / (batch * m);
  const out = new Float32Array(batch * count * inner);
  for (let b = 0; b < batch; b++) out.set(data.subarray((b * m + start) * inner, (b * m + start + count) * inner), b * count * inner);
  return tf.tensor(out, [batch, count, ...rest], 'float32') as T;
}
