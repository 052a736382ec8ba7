/**
 * Backend choice in the browser: webgpu → webgl → wasm → cpu, the first that starts. The Node chooser
 * (src/node/backend.ts) is not used here: it probes native packages a page cannot load.
 * The wasm backend fetches its .wasm binaries at start, so a page that may fall back to it says where
 * they are served (`wasmPaths`, passed to tfjs-backend-wasm's setWasmPaths).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BackendError } from '../errors.js';

export const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BrowserBackendName = (typeof BROWSER_BACKENDS)[number];

/** The file names tfjs-backend-wasm fetches (which one depends on SIMD / thread support). */
export type WasmBinaryName = 'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm';

export interface BrowserBackendOptions {
  /** One backend (no fallback: a BackendError when it cannot start) or the order to try; default BROWSER_BACKENDS. */
  backend?: BrowserBackendName | readonly BrowserBackendName[];
  /** Where the wasm binaries are: a URL prefix ending in '/', or one URL per binary. */
  wasmPaths?: string | Partial<Record<WasmBinaryName, string>>;
}

/**
 * Whether reads give the values computed. The predictors read scores and masks asynchronously (`data()`), which
 * every backend implements as a real read-back; a backend is only used once it has read back a small sum
 * correctly. (tfjs-webgpu's synchronous dataSync goes through a canvas, which on some platforms, e.g. headless
 * Chromium's software adapter, reads zeros without an error: nothing on the predictors' path uses it.)
 */
async function readsBackCorrectly(): Promise<boolean> {
  try {
    const sum = tf.tidy(() => tf.sum(tf.add(tf.ones([32, 32]), tf.ones([32, 32]))));
    try {
      return (await sum.data())[0] === 2 * 32 * 32;
    } finally {
      sum.dispose();
    }
  } catch {
    return false;
  }
}

async function start(name: BrowserBackendName, options: BrowserBackendOptions): Promise<boolean> {
  if (name === 'webgpu' && !(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) return false;
  if (name === 'wasm' && options.wasmPaths) setWasmPaths(options.wasmPaths);
  try {
    if (!(await tf.setBackend(name))) return false;
  } catch {
    return false;
  }
  if (await readsBackCorrectly()) return true;
  tf.removeBackend(name);
  return false;
}

/** Starts the first backend of the order that works here and returns its name. */
export async function initBrowserBackend(options: BrowserBackendOptions = {}): Promise<BrowserBackendName> {
  const wanted = options.backend ?? BROWSER_BACKENDS;
  const order: readonly BrowserBackendName[] = typeof wanted === 'string' ? [wanted] : wanted;
  for (const name of order) {
    if (!(BROWSER_BACKENDS as readonly string[]).includes(name)) {
      throw new BackendError(`unknown browser backend '${name}': choose from ${BROWSER_BACKENDS.join(', ')}`);
    }
  }
  for (const name of order) {
    if (await start(name, options)) return name;
  }
  throw new BackendError(typeof wanted === 'string'
    ? `backend '${wanted}' cannot start in this browser (or reads back wrong values)`
    : `none of the backends ${order.join(', ')} can start in this browser`);
}
