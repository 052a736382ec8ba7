/** Timing, memory and kernel-profile helpers shared by the benchmarks. */
import * as tf from '@tensorflow/tfjs-core';

export interface MemorySnapshot {
  /** Resident set size now. */
  rssBytes: number;
  /** Peak resident set size of the process so far. */
  maxRssBytes: number;
  /** Bytes held by live tensors (tf.memory()). */
  tensorBytes: number;
  numTensors: number;
  /** Size of the wasm heap (it only grows), when the backend is wasm. */
  wasmHeapBytes: number | null;
}

export function memorySnapshot(): MemorySnapshot {
  const m = tf.memory();
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return {
    rssBytes: process.memoryUsage().rss,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    tensorBytes: m.numBytes,
    numTensors: m.numTensors,
    wasmHeapBytes: wasm?.HEAPU8 ? wasm.HEAPU8.buffer.byteLength : null,
  };
}

/** A point in time: wall clock and this process's CPU time (ms). Under load, wall time stretches; CPU time of
 * single-threaded work does not, so it stands for what a quiet machine would take. */
export interface Stamp {
  wall: number;
  cpu: number;
}

export function stamp(): Stamp {
  const u = process.cpuUsage();
  return { wall: performance.now(), cpu: (u.user + u.system) / 1000 };
}

export function elapsed(from: Stamp, to: Stamp = stamp()): Stamp {
  return { wall: to.wall - from.wall, cpu: to.cpu - from.cpu };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Where a profiled run spent its time: per kernel, and per kernel at one input shape. */
export interface HotSpots {
  /** Sum of kernel times (CPU ms). */
  kernelMs: number;
  /** Peak bytes of live tensors during the run (weights and inputs included). */
  peakTensorBytes: number;
  byKernel: { kernel: string; ms: number; calls: number; share: number }[];
  byShape: { kernel: string; shapes: string; ms: number; calls: number; share: number }[];
}

const TOP = 8;

type Timer = (f: () => void) => Promise<{ kernelMs: number }>;

/**
 * tf.profile times each kernel with the backend's `time`, a wall clock on wasm and cpu: under load that
 * counts other processes' turns too. Kernels run synchronously on this thread, so the process's CPU time
 * around each one is its own cost.
 */
async function withCpuKernelTimer<T>(fn: () => Promise<T>): Promise<T> {
  const backend = tf.backend() as unknown as { time: Timer };
  const own = Object.prototype.hasOwnProperty.call(backend, 'time');
  const wallTimer = backend.time;
  backend.time = async (f) => {
    const start = process.cpuUsage();
    f();
    const d = process.cpuUsage(start);
    return { kernelMs: (d.user + d.system) / 1000 };
  };
  try {
    return await fn();
  } finally {
    if (own) backend.time = wallTimer;
    else delete (backend as Partial<{ time: Timer }>).time;
  }
}

/** Runs `fn` under tf.profile (kernels timed in CPU time) and summarises its kernels; the result tensors are disposed. */
export async function profileRun(fn: () => tf.TensorContainer): Promise<HotSpots> {
  const info = await withCpuKernelTimer(() => tf.profile(fn));
  tf.dispose(info.result);
  const kernelMs = info.kernels.reduce((s, k) => s + (k.kernelTimeMs as number), 0);
  const group = (key: (k: (typeof info.kernels)[number]) => string) => {
    const m = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const g = m.get(key(k)) ?? { ms: 0, calls: 0 };
      g.ms += k.kernelTimeMs as number;
      g.calls++;
      m.set(key(k), g);
    }
    return [...m].sort((a, b) => b[1].ms - a[1].ms).slice(0, TOP);
  };
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    kernelMs: round(kernelMs),
    peakTensorBytes: info.peakBytes,
    byKernel: group((k) => k.name).map(([kernel, g]) => ({ kernel, ms: round(g.ms), calls: g.calls, share: round((100 * g.ms) / kernelMs) / 100 })),
    byShape: group((k) => `${k.name} ${k.inputShapes.map((s) => `[${s?.join('×') ?? ''}]`).join(' ')}`).map(([key, g]) => {
      const [kernel, ...shapes] = key.split(' ');
      return { kernel, shapes: shapes.join(' '), ms: round(g.ms), calls: g.calls, share: round((100 * g.ms) / kernelMs) / 100 };
    }),
  };
}
