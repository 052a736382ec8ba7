/**
 * Loading the golden vectors (copied from ../shared/golden into test/fixtures/golden, see its NOTE.md)
 * and comparing tensors against them, printing what was measured.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SafetensorsReader, memorySource, type HostTensor } from '../../src/io/safetensors.js';
import { initBackend, useBackend, type BackendName } from '../../src/node/backend.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/golden');

export function fixturePath(rel: string): string {
  return path.join(FIXTURES, rel);
}

const cache = new Map<string, SafetensorsReader>();

/** A golden safetensors file, read once per test run. */
export function golden(rel: string): SafetensorsReader {
  let r = cache.get(rel);
  if (!r) {
    r = new SafetensorsReader(memorySource(new Uint8Array(fs.readFileSync(fixturePath(rel)))), rel);
    cache.set(rel, r);
  }
  return r;
}

export function goldenHost(rel: string, name: string): HostTensor {
  return golden(rel).read(name);
}

/** A golden tensor as a tf tensor (float32 / int32). */
export function goldenTensor(rel: string, name: string): tf.Tensor {
  const t = goldenHost(rel, name);
  return tf.tensor(t.data as Float32Array | Int32Array, t.shape, t.dtype === 'float32' ? 'float32' : 'int32');
}

export function goldenJson<T = unknown>(rel: string): T {
  return JSON.parse(fs.readFileSync(fixturePath(rel), 'utf8')) as T;
}

export interface Diff {
  maxAbs: number;
  maxRel: number;
}

export function diff(actual: tf.Tensor | ArrayLike<number>, expected: tf.Tensor | ArrayLike<number>): Diff {
  const a = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const e = expected instanceof tf.Tensor ? expected.dataSync() : expected;
  assert.equal(a.length, e.length, `length ${a.length} vs ${e.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    const rel = d / Math.max(1, Math.abs(e[i]));
    if (rel > maxRel) maxRel = rel;
  }
  return { maxAbs, maxRel };
}

/** Asserts shape equality and max |actual − expected| ≤ tol; logs the measured figure. */
export function assertClose(label: string, actual: tf.Tensor, expected: tf.Tensor, tol: number): Diff {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  const d = diff(actual, expected);
  console.log(`      ${label}: max|Δ| ${d.maxAbs.toExponential(2)} (tol ${tol.toExponential(0)})`);
  assert.ok(d.maxAbs <= tol, `${label}: max abs diff ${d.maxAbs} > ${tol}`);
  return d;
}

/** Initialises the default backend for a test file (SAM2LONG_BACKEND picks another). */
export async function setupBackend(): Promise<string> {
  return initBackend();
}

/**
 * For a suite that switches backends: sets the default one up before it and goes back to it after. Returns
 * the default's name (once the suite has started).
 */
export function restoreBackendAfterSuite(): () => string {
  let original = '';
  before(async () => {
    original = await setupBackend();
  });
  after(async () => {
    await useBackend(original as BackendName);
  });
  return () => original;
}
