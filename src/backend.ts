/**
 * Picks and initialises the tfjs backend once per process.
 * Node order: tensorflow (tfjs-node-gpu / tfjs-node, when the user installed one) → wasm → cpu.
 * `SAM2LONG_BACKEND=cpu|wasm|tensorflow|webgl` (or the `name` argument) forces one; a forced backend that
 * cannot start is a BackendError, never a silent fallback.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { BackendError } from './errors.js';

export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu', 'webgl'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

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

async function start(name: BackendName): Promise<boolean> {
  if (name === 'tensorflow' && !(await tryNative())) return false;
  if (name === 'webgl') {
    try {
      await import('@tensorflow/tfjs-backend-webgl' as string);
    } catch {
      return false;
    }
  }
  if (!tf.engine().registryFactory[name]) return false;
  try {
    return await tf.setBackend(name);
  } catch {
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
export function initBackend(name?: BackendName): Promise<BackendName> {
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
      if (!(await start(forced))) throw new BackendError(`backend '${forced}' is not available here`);
      return forced;
    });
  }
  ready ??= (async () => {
    if (forced) {
      if (!(await start(forced))) {
        const hint = forced === 'tensorflow' ? ' (install @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu)' : '';
        throw new BackendError(`backend '${forced}' is not available here${hint}`);
      }
      return forced;
    }
    for (const candidate of ['tensorflow', 'wasm', 'cpu'] as const) {
      if (await start(candidate)) return candidate;
    }
    throw new BackendError('no tfjs backend could be initialised');
  })();
  ready.catch(() => { ready = null; });
  return ready;
}

/** Switches to `name` for the rest of the process (tests use it to run one op on cpu and on wasm). */
export async function useBackend(name: BackendName): Promise<void> {
  if (!(await start(name))) throw new BackendError(`backend '${name}' is not available here`);
  ready = Promise.resolve(name);
}
