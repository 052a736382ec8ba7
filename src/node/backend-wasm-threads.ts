/**
 * Multi-threaded tfjs-wasm in Node. tfjs-backend-wasm 4.22 ships a threaded build (XNNPACK's matMuls and
 * convolutions on a pthread pool: ~1.8× on two cores) but never uses it in Node, for three reasons this module
 * works around, only while the backend initialises:
 *  - its WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired false in Node: set it;
 *  - Emscripten starts each pthread as `new Worker(blob: URL)`, which Node's Worker refuses: a Worker subclass
 *    starts a small bootstrap instead, which is sent the worker script and the module factory as Blobs (Node
 *    posts Blobs between threads, but blob: URLs do not cross them);
 *  - the C side caps the pool at half of `os.cpus().length` (it assumes two hyper-threads per core): the count
 *    it reads is doubled for the moment of initialisation.
 * Node only (the browser's threaded wasm needs cross-origin isolation, which the page decides).
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { BackendError } from '../errors.js';

const require = createRequire(import.meta.url);
const os = require('node:os') as typeof import('node:os');
const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');
const { resolveObjectURL } = require('node:buffer') as typeof import('node:buffer');

/** Emscripten's pthread pool of this build (PTHREAD_POOL_SIZE): XNNPACK can use no more threads. */
export const MAX_WASM_THREADS = 8;

/**
 * Runs in each pthread worker before Emscripten's worker script. Messages are held until the script (the
 * first message) and the factory (in the 'load' message) are read; the factory is the bundle's function
 * source, which names the bundle's own module variables, so those are defined globally first.
 */
const PTHREAD_BOOTSTRAP = `
const { parentPort } = require('worker_threads');
const held = [];
const hold = (data) => held.push(data);
parentPort.on('message', hold);
const factories = new Map();
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
Object.assign(globalThis, {
  require$$0: require('fs'), require$$1: require('path'), require$$3: require('perf_hooks'), require$$4: require('os'),
  commonjsGlobal: globalThis,
});
(async () => {
  while (held.length === 0) await nextTurn();
  const script = await held.shift().text();
  let load;
  while (!(load = held.find((m) => m && m.cmd === 'load'))) await nextTurn();
  if (typeof load.urlOrBlob !== 'string') {
    const key = 'sam2long-wasm-factory';
    factories.set(key, await load.urlOrBlob.text());
    load.urlOrBlob = key;
  }
  parentPort.off('message', hold);
  (0, eval)(script);
  const importFile = globalThis.importScripts;
  globalThis.importScripts = (name) => (factories.has(name) ? (0, eval)(factories.get(name)) : importFile(name));
  for (const data of held) globalThis.onmessage({ data });
})();
`;

/** Emscripten's pthread workers, once the module has loaded in them (until then they keep Node waiting). */
const startedPool = new Set<import('node:worker_threads').Worker>();
let poolReady = false;

/**
 * Pool threads only ever work for a kernel the main thread is running, so once loaded they must not keep
 * Node alive.
 */
function releasePool(): void {
  poolReady = true;
  for (const worker of startedPool) worker.unref();
}

/** Starts Emscripten's `blob:` pthread workers on the bootstrap above; any other worker as usual. */
class BlobUrlWorker extends workerThreads.Worker {
  constructor(filename: string | URL, options?: import('node:worker_threads').WorkerOptions) {
    const url = String(filename);
    if (!url.startsWith('blob:')) {
      super(filename, options);
      return;
    }
    const script = resolveObjectURL(url);
    if (!script) throw new BackendError(`wasm threads: the pthread worker script ${url} is gone`);
    // Plain JavaScript: no loader flags (tsx's, say) from the parent's execArgv.
    super(PTHREAD_BOOTSTRAP, { ...options, eval: true, execArgv: [] });
    startedPool.add(this);
    this.postMessage(script);
  }

  /** A 'message' listener refs a worker again. */
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (poolReady && startedPool.has(this)) this.unref();
    return this;
  }
}

/** Threads wanted for wasm: `requested` or SAM2LONG_WASM_THREADS, else every core, at most MAX_WASM_THREADS. */
export function wasmThreadsWanted(requested?: number): number {
  const fromEnv = process.env.SAM2LONG_WASM_THREADS;
  const want = requested ?? (fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : os.availableParallelism());
  if (!Number.isInteger(want) || want < 1) {
    throw new BackendError(`wasm threads must be a whole number ≥ 1, got ${requested ?? `SAM2LONG_WASM_THREADS=${fromEnv}`}`);
  }
  return Math.min(want, MAX_WASM_THREADS);
}

/**
 * Sets the wasm backend up to start with `threads` threads, runs `start` (which initialises it), and undoes
 * the temporary patches whatever happens. One thread: the plain single-threaded build, nothing patched.
 */
export async function withWasmThreads<T>(threads: number, start: () => Promise<T>): Promise<T> {
  if (threads <= 1) return start();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  const { cpus } = os;
  const { Worker } = workerThreads;
  os.cpus = () => {
    const real = cpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
  };
  workerThreads.Worker = BlobUrlWorker;
  try {
    const started = await start();
    releasePool();
    return started;
  } finally {
    os.cpus = cpus;
    workerThreads.Worker = Worker;
  }
}
