import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { useBackend } from '../src/node/backend.js';
import { restoreBackendAfterSuite } from './helpers/golden.js';
import { seededValues } from './helpers/ops.js';
import { gatherRows, gatherRowsAt, hostCopy, rowBlocks, rowIndices, rowRange, sliceAxis1, takeRows } from '../src/ops/take-rows.js';

function same(a: tf.Tensor, b: tf.Tensor): void {
  assert.deepEqual(a.shape, b.shape);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
}

describe('takeRows / gatherRows / rowBlocks / rowRange / sliceAxis1 (row copies without wasm gather)', () => {
  restoreBackendAfterSuite();

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`equal tf.gather / tf.slice exactly on ${backend}, without leaking tensors`, async () => {
      await useBackend(backend);
      const x = tf.tensor3d(seededValues(5 * 7 * 3, 11), [5, 7, 3]);
      const before = tf.memory().numTensors;
      const rows = takeRows(x, [4, 0, 2]);
      [4, 0, 2].forEach((i, k) => tf.tidy(() => same(rows[k], tf.reshape(tf.gather(x, [i]), [7, 3]))));
      const gathered = gatherRows(x, [1, 1, 3]);
      tf.tidy(() => same(gathered, tf.gather(x, [1, 1, 3])));
      // Runs of consecutive rows (copied as one block) mixed with jumps and repeats.
      const runs = gatherRows(x, [0, 1, 2, 4, 3, 4, 1, 2]);
      tf.tidy(() => same(runs, tf.gather(x, [0, 1, 2, 4, 3, 4, 1, 2])));
      const blocks = rowBlocks(x, 2);
      assert.deepEqual(blocks.map((b) => b.shape[0]), [2, 2, 1]);
      tf.tidy(() => same(tf.concat(blocks, 0), x));
      assert.equal(rowBlocks(x, 5)[0], x, 'one block is the tensor itself');
      const range = rowRange(x, 1, 3);
      tf.tidy(() => same(range, tf.slice(x, [1, 0, 0], [3, -1, -1])));
      assert.equal(rowRange(x, 0, 5), x, 'all rows are the tensor itself');
      const at = tf.tensor1d([3, 0, 3], 'int32');
      const gatheredAt = gatherRowsAt(x, at);
      tf.tidy(() => same(gatheredAt, tf.gather(x, at)));
      const middle = sliceAxis1(x, 2, 4);
      tf.tidy(() => same(middle, tf.slice(x, [0, 2, 0], [-1, 4, -1])));
      const flat = tf.reshape(x, [5, 21]);
      const column = sliceAxis1(flat, 20, 1);
      tf.tidy(() => same(column, tf.slice(flat, [0, 20], [-1, 1])));
      assert.equal(sliceAxis1(x, 0, 7), x, 'the whole axis is the tensor itself');
      tf.dispose([...rows, gathered, runs, ...blocks, range, at, gatheredAt, middle, flat, column]);
      assert.equal(tf.memory().numTensors, before);
      assert.deepEqual(rowIndices(3), [0, 1, 2]);
      assert.deepEqual(rowIndices(2, 3), [3, 4]);
      x.dispose();
    });
  }

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`hostCopy gives dataSync's values as a copy of its own on ${backend} (float32 and int32)`, async () => {
      await useBackend(backend);
      const floats = tf.tensor2d(seededValues(6 * 5, 21), [6, 5]);
      const ints = tf.tensor1d([3, -7, 0, 2 ** 30], 'int32');
      const f = hostCopy(floats);
      const i = hostCopy(ints);
      assert.ok(f instanceof Float32Array && i instanceof Int32Array);
      assert.deepEqual(Array.from(f), Array.from(floats.dataSync()));
      assert.deepEqual(Array.from(i), [3, -7, 0, 2 ** 30]);
      f[0] = 1234;
      assert.notEqual(floats.dataSync()[0], 1234, 'the copy is not the tensor');
      // Multi-threaded wasm reads its shared heap in place; other backends go through dataSync.
      if (backend === 'wasm') console.log(`      wasm threads: ${getThreadsCount()}`);
      tf.dispose([floats, ints]);
    });
  }

  it('a row outside the tensor is a RangeError naming it', () => {
    const x = tf.zeros([2, 3]);
    assert.throws(() => takeRows(x, [2]), /row 2 is outside \[0, 2\)/);
    assert.throws(() => gatherRows(x, [-1]), /row -1 is outside/);
    x.dispose();
  });
});
