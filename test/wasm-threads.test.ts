import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { useBackend } from '../src/node/backend.js';
import { MAX_WASM_THREADS, wasmThreadsWanted } from '../src/node/backend-wasm-threads.js';
import { BackendError } from '../src/errors.js';
import { restoreBackendAfterSuite } from './helpers/golden.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The child's thread count and output digest; it must end by itself within the timeout. */
function runChild(threads: number): { threads: number; digest: string } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(HERE, 'helpers/wasm-threads-child.ts')], {
    env: { ...process.env, SAM2LONG_WASM_THREADS: String(threads), SAM2LONG_BACKEND: '' },
    timeout: 60_000,
    encoding: 'utf8',
  });
  return JSON.parse(out) as { threads: number; digest: string };
}

describe('multi-threaded wasm in Node', () => {
  restoreBackendAfterSuite();

  it('the wasm backend computes with one thread per core (the golden tests run on it)', async () => {
    await useBackend('wasm');
    const fromEnv = process.env.SAM2LONG_WASM_THREADS;
    const expected = fromEnv ? Number(fromEnv) : Math.min(os.availableParallelism(), MAX_WASM_THREADS);
    assert.equal(getThreadsCount(), expected);
  });

  it('two threads give bit-identical matMul and convolutions to one, and Node still exits by itself', () => {
    const one = runChild(1);
    const two = runChild(2);
    assert.equal(one.threads, 1);
    assert.equal(two.threads, 2);
    assert.equal(two.digest, one.digest);
  });

  it('SAM2LONG_WASM_THREADS must be a whole number ≥ 1; more than the pool holds is capped', () => {
    const saved = process.env.SAM2LONG_WASM_THREADS;
    try {
      for (const bad of ['two', '0', '1.5']) {
        process.env.SAM2LONG_WASM_THREADS = bad;
        assert.throws(() => wasmThreadsWanted(), (err: unknown) => err instanceof BackendError && String(err).includes(bad));
      }
      process.env.SAM2LONG_WASM_THREADS = '3';
      assert.equal(wasmThreadsWanted(), 3);
      assert.equal(wasmThreadsWanted(64), MAX_WASM_THREADS);
      assert.throws(() => wasmThreadsWanted(-1), BackendError);
    } finally {
      if (saved === undefined) delete process.env.SAM2LONG_WASM_THREADS;
      else process.env.SAM2LONG_WASM_THREADS = saved;
    }
  });
});
