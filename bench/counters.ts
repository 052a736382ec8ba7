/**
 * Counts what a run costs beyond arithmetic, on any backend, without tf.profile (which ends a WebGPU compute
 * pass per kernel and so distorts what it measures):
 * - kernels: every kernel the engine runs (what tf.profile lists, one per op a model calls);
 * - programs: GPU programs dispatched (WebGPU only: a kernel may dispatch none, like a reshape, or several);
 * - reads: host reads of tensor values (dataSync / data / arraySync / array), and their bytes.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface Counts {
  kernels: number;
  /** GPU programs dispatched; null on backends that dispatch none (wasm, cpu). */
  programs: number | null;
  reads: number;
  readBytes: number;
}

type Engine = {
  runKernelFunc: (params: unknown) => unknown;
  readSync: (dataId: object) => unknown;
  read: (dataId: object) => Promise<unknown>;
  state: { tensorInfo: { get(dataId: object): { bytes: number } | undefined } };
};

type ProgramRunner = { runWebGPUProgram?: (...args: unknown[]) => unknown };

/** The values of `keys` that are `o`'s own properties (the rest come from its prototype). */
function ownProperties(o: object, keys: string[]): { keys: string[]; own: Map<string, unknown> } {
  return { keys, own: new Map(keys.filter((k) => Object.prototype.hasOwnProperty.call(o, k)).map((k) => [k, (o as Record<string, unknown>)[k]])) };
}

/** Puts back what `ownProperties` saw: own values restored, wrappers of prototype methods deleted. */
function restore(o: object, { keys, own }: { keys: string[]; own: Map<string, unknown> }): void {
  const rec = o as Record<string, unknown>;
  for (const key of keys) {
    if (own.has(key)) rec[key] = own.get(key);
    else if (Object.prototype.hasOwnProperty.call(o, key)) delete rec[key];
  }
}

/**
 * Counts kernels, GPU programs and host reads until `stop` is called. The wrappers are own properties of the
 * engine and backend objects, removed by `stop` (counting runs do not nest).
 */
export function startCounting(): { counts: Counts; stop: () => Counts } {
  const engine = tf.engine() as unknown as Engine;
  const backend = tf.backend() as unknown as ProgramRunner;
  const counts: Counts = { kernels: 0, programs: backend.runWebGPUProgram ? 0 : null, reads: 0, readBytes: 0 };
  const { runKernelFunc, readSync, read } = engine;
  const ownEngine = ownProperties(engine, ['runKernelFunc', 'readSync', 'read']);
  const ownBackend = ownProperties(backend, ['runWebGPUProgram']);
  const readOf = (dataId: object) => {
    counts.reads++;
    counts.readBytes += engine.state.tensorInfo.get(dataId)?.bytes ?? 0;
  };
  engine.runKernelFunc = function (params) {
    counts.kernels++;
    return runKernelFunc.call(this, params);
  };
  engine.readSync = function (dataId) {
    readOf(dataId);
    return readSync.call(this, dataId);
  };
  engine.read = function (dataId) {
    readOf(dataId);
    return read.call(this, dataId);
  };
  const runProgram = backend.runWebGPUProgram;
  if (runProgram) {
    backend.runWebGPUProgram = function (...args) {
      counts.programs!++;
      return runProgram.apply(this, args);
    };
  }
  const stop = () => {
    restore(engine, ownEngine);
    if (runProgram) restore(backend, ownBackend);
    return { ...counts };
  };
  return { counts, stop };
}

/** Counts of `fn`'s run (awaited). */
export async function countRun<T>(fn: () => Promise<T> | T): Promise<{ value: T; counts: Counts }> {
  const counting = startCounting();
  try {
    const value = await fn();
    return { value, counts: counting.stop() };
  } catch (err) {
    counting.stop();
    throw err;
  }
}

/** `c` divided by `n` (per frame, per run). */
export function perUnit(c: Counts, n: number): Counts {
  return { kernels: c.kernels / n, programs: c.programs === null ? null : c.programs / n, reads: c.reads / n, readBytes: c.readBytes / n };
}
