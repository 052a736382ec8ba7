/**
 * Picks and initialises the tfjs backend once per process.
 * Node order: tensorflow (tfjs-node-gpu / tfjs-node, when the user installed one) → webgpu (Dawn through the
 * optional `webgpu` package, on a hardware adapter only) → wasm → cpu.
 * `SAM2LONG_BACKEND=cpu|wasm|tensorflow|webgpu|webgl` (or the `name` argument) forces one; a forced backend
 * that cannot start is a BackendError, never a silent fallback. Forced webgpu also accepts a software adapter.
 * wasm starts multi-threaded (one thread per core, SAM2LONG_WASM_THREADS or `wasmThreads` to change it).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { BackendError } from '../errors.js';
import { mayHaveGpu, noAdapterHint, startWebGpu } from './backend-webgpu.js';
import { wasmThreadsWanted, withWasmThreads } from './backend-wasm-threads.js';

export { maxTensorBytes } from '../backend-limits.js';
export { webGpuAdapter, type WebGpuAdapterSummary } from './backend-webgpu.js';

export const BACKEND_NAMES = ['tensorflow', 'webgpu', 'wasm', 'cpu', 'webgl'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendOptions {
  /** Options for Dawn (webgpu): 'backend=vulkan', 'adapter=NAME', ... Default: SAM2LONG_DAWN_FLAGS. */
  dawnFlags?: readonly string[];
  /** Threads of the wasm backend, read when it first starts. Default: SAM2LONG_WASM_THREADS, else one per core. */
  wasmThreads?: number;
}

/** Packages that provide the native 'tensorflow' backend, best first. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

let ready: Promise<BackendName> | null = null;

async function tryNative(): Promise<boolean> {
  for (const pkg of NATIVE_PACKAGES) {
    try {
      await import(pkg);
      return tf.findBackend('tensorflow') !== null || tf.engine().registryFactory.tensorflow !== undefined;
    } catch {
      // not installed: try the next
    }
  }
  return false;
}

/**
 * Registers the 'webgpu' backend on Dawn. Unforced, only where a GPU device exists and only on a hardware
 * adapter (a software one is slower than wasm); forced, a missing adapter is an error that says what to install.
 */
async function tryWebGpu(forced: boolean, options: BackendOptions): Promise<boolean> {
  if (!forced && !mayHaveGpu()) return false;
  try {
    if (await startWebGpu({ dawnFlags: options.dawnFlags, allowSoftware: forced })) return true;
  } catch (err) {
    if (forced) throw err;
    return false;
  }
  if (forced) throw new BackendError(`backend 'webgpu' is not available here: ${noAdapterHint(true)}`);
  return false;
}

const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * Runs `init` (the wasm backend's start), then removes the process listeners it added. Emscripten's Node shell
 * in tfjs-backend-wasm adds two that rethrow every uncaught exception and unhandled rejection of the program
 * from inside its minified file: Node then prints that file's 57 KB source line (the throw site) above the
 * user's error, and exits with code 7 (an uncaughtException handler threw) instead of 1.
 */
async function withoutEmscriptenHandlers<T>(init: () => Promise<T>): Promise<T> {
  if (typeof process === 'undefined' || typeof process.listeners !== 'function') return init();
  // Typed loosely: Node's overloads do not take a union of event names.
  const emitter = process as unknown as { listeners(e: string): unknown[]; removeListener(e: string, l: unknown): void };
  const before = PROCESS_ERROR_EVENTS.map((event) => new Set(emitter.listeners(event)));
  try {
    return await init();
  } finally {
    PROCESS_ERROR_EVENTS.forEach((event, i) => {
      for (const listener of emitter.listeners(event)) {
        if (!before[i].has(listener)) emitter.removeListener(event, listener);
      }
    });
  }
}

async function start(name: BackendName, forced = false, options: BackendOptions = {}): Promise<boolean> {
  if (name === 'tensorflow' && !(await tryNative())) return false;
  if (name === 'webgpu' && !(await tryWebGpu(forced, options))) return false;
  if (name === 'webgl') {
    try {
      await import('@tensorflow/tfjs-backend-webgl' as string);
    } catch {
      return false;
    }
  }
  if (!tf.engine().registryFactory[name]) return false;
  try {
    if (name === 'wasm' && !tf.engine().registry.wasm) {
      return await withoutEmscriptenHandlers(() => withWasmThreads(wasmThreadsWanted(options.wasmThreads), () => tf.setBackend(name)));
    }
    return await tf.setBackend(name);
  } catch (err) {
    if (err instanceof BackendError) throw err;
    return false;
  }
}

function requested(name?: string): BackendName | undefined {
  const want = name ?? (typeof process !== 'undefined' ? process.env.SAM2LONG_BACKEND : undefined);
  if (!want) return undefined;
  if (!(BACKEND_NAMES as readonly string[]).includes(want)) {
    throw new BackendError(`unknown backend '${want}': choose one of ${BACKEND_NAMES.join(', ')}`);
  }
  return want as BackendName;
}

/** Initialises the backend (forced by `name` or SAM2LONG_BACKEND, else the best available) and returns its name. */
export function initBackend(name?: BackendName, options: BackendOptions = {}): Promise<BackendName> {
  let forced: BackendName | undefined;
  try {
    forced = requested(name);
  } catch (err) {
    // Reported through the promise like every other failure, not thrown before it exists.
    return Promise.reject(err);
  }
  if (forced && ready) {
    return ready.then(async (current) => {
      if (current === forced) return current;
      if (!(await start(forced, true, options))) throw new BackendError(`backend '${forced}' is not available here`);
      return forced;
    });
  }
  ready ??= (async () => {
    if (forced) {
      if (!(await start(forced, true, options))) {
        const hint = forced === 'tensorflow' ? ' (install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)' : '';
        throw new BackendError(`backend '${forced}' is not available here${hint}`);
      }
      return forced;
    }
    for (const candidate of ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const) {
      if (await start(candidate, false, options)) return candidate;
    }
    throw new BackendError('no tfjs backend could be initialised');
  })();
  ready.catch(() => { ready = null; });
  return ready;
}

/**
 * The running backend, else the default one started as `initBackend()` starts it (SAM2LONG_BACKEND honoured).
 * The loaders call it, so a program that never calls `initBackend` still gets the best backend, not tfjs's
 * "backend 'wasm' has not yet been initialized".
 */
export async function ensureBackend(): Promise<string> {
  return tf.engine().backendName ?? initBackend();
}

/** Switches to `name` for the rest of the process (tests use it to run one op on cpu and on wasm). */
export async function useBackend(name: BackendName, options: BackendOptions = {}): Promise<void> {
  if (!(await start(name, true, options))) throw new BackendError(`backend '${name}' is not available here`);
  ready = Promise.resolve(name);
}
