import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { readTorchCheckpoint, type TorchCheckpoint } from '../src/io/torch-checkpoint.js';
import { openTorchCheckpoint } from '../src/node/files.js';
import { encodeSafetensors, hostTensorBytes, memorySource, safeDtypeOf } from '../src/io/safetensors.js';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../tools/cli.js';
import { quietly } from './helpers/console.js';
import { WeightStore, type HostArray } from '../src/model/weights.js';
import { CheckpointFormatError, CheckpointKeyError } from '../src/errors.js';
import { fixturePath, goldenJson, setupBackend } from './helpers/golden.js';
import { PickleWriter, declare, stateDictPickle, torchSaveBytes, zipBytes, type StorageSpec, type TensorSpec } from './helpers/torch-save.js';

interface Manifest {
  models: Record<string, Record<string, { dtype: string; shape: number[]; sha256: string }>>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function f32(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function load(storages: StorageSpec[], tensors: TensorSpec[], options: Parameters<typeof torchSaveBytes>[2] = {}): Promise<TorchCheckpoint> {
  return readTorchCheckpoint(memorySource(torchSaveBytes(storages, tensors, options)), 'test.pt');
}

async function rejectsWith(promise: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof CheckpointFormatError, `expected CheckpointFormatError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

describe('PyTorch checkpoint reader', () => {
  const manifest = goldenJson<Manifest>('model-manifest.json');

  for (const model of Object.keys(manifest.models)) {
    it(`reads ${model}.pt: every tensor's name, order, dtype, shape and bytes match the golden weights`, async () => {
      const ck = await openTorchCheckpoint(fixturePath(`${model}.pt`));
      try {
        const expected = manifest.models[model];
        assert.deepEqual(ck.names, Object.keys(expected));
        for (const [name, e] of Object.entries(expected)) {
          const t = ck.read(name);
          assert.equal(safeDtypeOf(t), e.dtype, name);
          assert.deepEqual(t.shape, e.shape, name);
          assert.equal(sha256(hostTensorBytes(t)), e.sha256, `${name}: bytes differ`);
        }
      } finally {
        ck.close();
      }
    });
  }

  it('decodes every dtype a state dict uses (f32/f16/bf16/f64 → float32, int64/int32 → int32, bool, uint8)', async () => {
    const bytes = (arr: ArrayBufferView) => new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    const storages: StorageSpec[] = [
      { key: 'f32', type: 'FloatStorage', bytes: f32([1.5, -2.25]) },
      { key: 'f16', type: 'HalfStorage', bytes: bytes(new Uint16Array([0x3c00, 0xc000])) }, // 1, -2
      { key: 'bf16', type: 'BFloat16Storage', bytes: bytes(new Uint16Array([0x4049, 0xbf80])) }, // 3.140625, -1
      { key: 'f64', type: 'DoubleStorage', bytes: bytes(new Float64Array([0.1, 1e30])) },
      { key: 'i64', type: 'LongStorage', bytes: bytes(new BigInt64Array([-3n, 2147483647n])) },
      { key: 'i32', type: 'IntStorage', bytes: bytes(new Int32Array([-7, 8])) },
      { key: 'b', type: 'BoolStorage', bytes: new Uint8Array([1, 0]) },
      { key: 'u8', type: 'ByteStorage', bytes: new Uint8Array([0, 255]) },
    ];
    const ck = await load(storages, storages.map((s) => ({ name: s.key, storage: s.key, shape: [2] })));
    const values = (n: string) => Array.from(ck.read(n).data);
    assert.deepEqual(values('f32'), [1.5, -2.25]);
    assert.deepEqual(values('f16'), [1, -2]);
    assert.deepEqual(values('bf16'), [3.140625, -1]);
    assert.deepEqual(values('f64'), [Math.fround(0.1), Math.fround(1e30)]);
    assert.deepEqual(values('i64'), [-3, 2147483647]);
    assert.deepEqual(values('i32'), [-7, 8]);
    assert.deepEqual(values('b'), [1, 0]);
    assert.deepEqual(values('u8'), [0, 255]);
    assert.deepEqual([...ck.tensors.values()].map((t) => t.dtype), ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'bool', 'uint8']);
    assert.deepEqual(ck.read('i64').dtype, 'int32');
    assert.deepEqual(Array.from(ck.readRaw('f16').bytes), Array.from(storages[1].bytes));
  });

  it('refuses int64 values outside the int32 range when decoding, naming the tensor', async () => {
    const ck = await load([{ key: '0', type: 'LongStorage', bytes: new Uint8Array(new BigInt64Array([2n ** 40n]).buffer) }], [{ name: 'big', storage: '0', shape: [1] }]);
    assert.throws(() => ck.read('big'), (e: unknown) => e instanceof CheckpointFormatError && /'big'.*int32/.test((e as Error).message));
  });

  it('makes shared storages, offsets, transposed and stride-0 (expanded) views contiguous', async () => {
    const base = Array.from({ length: 12 }, (_, i) => i);
    const ck = await load(
      [{ key: '0', type: 'FloatStorage', bytes: f32(base) }, { key: '1', type: 'DoubleStorage', bytes: new Uint8Array(new Float64Array([7.5]).buffer) }],
      [
        { name: 'whole', storage: '0', shape: [3, 4] },
        { name: 'tail', storage: '0', offset: 4, shape: [2, 4] },
        { name: 'transposed', storage: '0', shape: [4, 3], strides: [1, 4] },
        { name: 'column', storage: '0', offset: 1, shape: [3], strides: [4] },
        { name: 'expanded', storage: '1', shape: [2, 3], strides: [0, 0] },
        { name: 'row_broadcast', storage: '0', shape: [2, 3], strides: [0, 1] },
        { name: 'empty', storage: '0', shape: [0, 5] },
      ],
    );
    const values = (n: string) => Array.from(ck.read(n).data);
    assert.deepEqual(values('whole'), base);
    assert.deepEqual(values('tail'), base.slice(4));
    assert.deepEqual(values('transposed'), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    assert.deepEqual(values('column'), [1, 5, 9]);
    assert.deepEqual(values('expanded'), [7.5, 7.5, 7.5, 7.5, 7.5, 7.5]);
    assert.deepEqual(values('row_broadcast'), [0, 1, 2, 0, 1, 2]);
    assert.deepEqual(ck.read('empty').shape, [0, 5]);
    assert.equal(ck.read('empty').data.length, 0);
    assert.equal(ck.info('tail').storageKey, ck.info('whole').storageKey);
  });

  it('reads a big-endian checkpoint, a bare state dict and deflated entries', async () => {
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.25, false);
    new DataView(be.buffer).setFloat32(4, -3, false);
    const storages: StorageSpec[] = [{ key: '0', type: 'FloatStorage', bytes: be }];
    const tensors: TensorSpec[] = [{ name: 'w', storage: '0', shape: [2] }, { name: 'wt', storage: '0', shape: [2], strides: [0] }];
    const big = await load(storages, tensors, { byteorder: 'big' });
    assert.equal(big.byteOrder, 'big');
    assert.deepEqual(Array.from(big.read('w').data), [1.25, -3]);
    assert.deepEqual(Array.from(big.read('wt').data), [1.25, 1.25]);

    const little: StorageSpec[] = [{ key: '0', type: 'FloatStorage', bytes: f32([1.25, -3]) }];
    const bare = await load(little, tensors, { wrapInModel: false, byteorder: null, deflate: true });
    assert.equal(bare.byteOrder, 'little');
    assert.deepEqual(bare.names, ['w', 'wt']);
    assert.deepEqual(Array.from(bare.read('w').data), [1.25, -3]);
  });

  describe('zip bombs: a deflated entry costs at most the bytes its storage needs, once', () => {
    /** Sets the uncompressed size of entry `name` in its local and central headers (what a hand-made bomb claims). */
    function claimSize(zip: Uint8Array, name: string, size: number): Uint8Array {
      const out = zip.slice();
      const dv = new DataView(out.buffer);
      const nameBytes = Buffer.from(name);
      for (let i = 0; i + 46 < out.length; i++) {
        const sig = dv.getUint32(i, true);
        const [nameLenAt, sizeAt, nameAt] = sig === 0x04034b50 ? [26, 22, 30] : sig === 0x02014b50 ? [28, 24, 46] : [0, 0, 0];
        if (!nameAt || dv.getUint16(i + nameLenAt, true) !== nameBytes.length) continue;
        if (Buffer.compare(out.subarray(i + nameAt, i + nameAt + nameBytes.length), nameBytes) === 0) dv.setUint32(i + sizeAt, size, true);
      }
      return out;
    }

    it('a 100-float storage whose deflated entry holds 64 MB is refused when the file is opened, before any inflation', async () => {
      const pickle = stateDictPickle([{ key: '0', type: 'FloatStorage', numel: 100 }], [{ name: 'w', storage: '0', shape: [100] }]);
      const bomb = zipBytes([['archive/data.pkl', pickle], ['archive/data/0', new Uint8Array(64 * 2 ** 20)]], true);
      assert.ok(bomb.length < 200_000, `${bomb.length} bytes`);
      const rss = process.memoryUsage().rss;
      await rejectsWith(readTorchCheckpoint(memorySource(bomb), 'bomb.pt'), /storage '0' is compressed and declares 67108864 bytes, more than its 100 × float32 \(400 bytes\)/);
      assert.ok(process.memoryUsage().rss - rss < 32 * 2 ** 20);
    });

    it('an entry whose data inflates past its declared size stops at that size', async () => {
      const pickle = stateDictPickle([{ key: '0', type: 'FloatStorage', numel: 100 }], [{ name: 'w', storage: '0', shape: [100] }]);
      const honest = zipBytes([['archive/data.pkl', pickle], ['archive/data/0', new Uint8Array(16 * 2 ** 20)]], true);
      const ck = await readTorchCheckpoint(memorySource(claimSize(honest, 'archive/data/0', 400)), 'liar.pt');
      assert.throws(() => ck.read('w'), (e: unknown) => e instanceof CheckpointFormatError && /entry 'archive\/data\/0' inflates to more than the 400 bytes/.test((e as Error).message));
      const pklBomb = claimSize(zipBytes([['archive/data.pkl', new Uint8Array(128 * 2 ** 20)]], true), 'archive/data.pkl', 128 * 2 ** 20);
      await rejectsWith(readTorchCheckpoint(memorySource(pklBomb), 'pkl.pt'), /data\.pkl declares 134217728 bytes/);
    });

    it('200 tensors viewing one deflated storage inflate it once', async () => {
      const values = Array.from({ length: 200 * 16 }, (_, i) => i);
      const tensors: TensorSpec[] = Array.from({ length: 200 }, (_, k) => ({ name: `t${k}`, storage: '0', offset: k * 16, shape: [16] }));
      const storages: StorageSpec[] = [{ key: '0', type: 'FloatStorage', bytes: f32(values) }];
      const ck = await load(storages, tensors, { deflate: true });
      const opened = ck.inflated.inflatedBytes;
      for (let k = 0; k < 200; k++) assert.deepEqual(Array.from(ck.read(`t${k}`).data), values.slice(k * 16, k * 16 + 16));
      // data.pkl and byteorder when opened, then the storage: each once.
      assert.deepEqual(ck.inflated, { inflatedEntries: 3, inflatedBytes: opened + 200 * 16 * 4 });
    });
  });

  it('unwraps nn.Parameter rebuilds and reads torch.Size shapes', async () => {
    const w = new PickleWriter().proto().emptyDict().str('model').global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    w.str('p').global('torch._utils', '_rebuild_parameter').mark();
    w.global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cuda:0').int(2).tuple().binpersid();
    w.int(0).global('torch', 'Size').mark().intTuple([2]).tuple().reduce().intTuple([1]).newfalse();
    w.global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
    w.raw(0x88).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
    w.setitems().setitem().stop();
    const ck = await load([{ key: '0', type: 'FloatStorage', bytes: f32([4, 5]) }], [], { pickle: w.toBytes() });
    assert.deepEqual(ck.names, ['p']);
    assert.deepEqual(Array.from(ck.read('p').data), [4, 5]);
  });

  describe('malformed files are CheckpointFormatError naming the problem', () => {
    const storages: StorageSpec[] = [{ key: '0', type: 'FloatStorage', bytes: f32([1, 2, 3, 4]) }];
    const tensors: TensorSpec[] = [{ name: 'w', storage: '0', shape: [2, 2] }];
    const good = () => torchSaveBytes(storages, tensors);
    const read = (bytes: Uint8Array) => readTorchCheckpoint(memorySource(bytes), 'bad.pt');

    it('truncated zip', async () => {
      const bytes = good();
      await rejectsWith(read(bytes.subarray(0, bytes.byteLength - 30)), /not a zip archive|malformed zip/);
      await rejectsWith(read(bytes.subarray(0, 10)), /not a zip archive/);
    });

    it('not a zip, and the legacy torch.save format', async () => {
      await rejectsWith(read(new TextEncoder().encode('hello, not a checkpoint at all')), /not a zip archive/);
      await rejectsWith(read(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19])), /legacy/);
    });

    it('no data.pkl in the archive', async () => {
      await rejectsWith(read(zipBytes([['archive/other.txt', new Uint8Array(3)]])), /data\.pkl/);
    });

    it('a storage shorter than its tensor needs, and a missing storage entry', async () => {
      const short = torchSaveBytes(storages, [{ name: 'w', storage: '0', shape: [2, 3] }]);
      await rejectsWith(read(short), /'model'\['w'\]: shape \[2,3\] .* needs 6 elements of storage '0', which has 4/);
      const pickle = stateDictPickle(storages.map(declare), tensors);
      const missing = zipBytes([['archive/data.pkl', pickle]]);
      await rejectsWith(read(missing), /storage '0' has no entry/);
      const shortEntry = torchSaveBytes([{ key: '0', type: 'FloatStorage', bytes: f32([1, 2, 3, 4]) }], tensors, {
        pickle: stateDictPickle([{ key: '0', type: 'FloatStorage', numel: 6 }], tensors),
      });
      await rejectsWith(read(shortEntry), /storage '0' holds 16 bytes, shorter than its 6 × float32/);
    });

    it('a bad opcode, a truncated pickle, a stack underflow, a dangling memo reference', async () => {
      const withPickle = (p: number[]) => read(torchSaveBytes(storages, tensors, { pickle: Uint8Array.from(p) }));
      await rejectsWith(withPickle([0x80, 0x02, 0xff, 0x2e]), /unknown or unsupported pickle opcode 0xff/);
      await rejectsWith(withPickle([0x80, 0x02, 0x58, 0x10, 0, 0, 0, 0x41]), /truncated/);
      await rejectsWith(withPickle([0x80, 0x02, 0x73, 0x2e]), /stack underflow/);
      await rejectsWith(withPickle([0x80, 0x02, 0x68, 0x07, 0x2e]), /memo entry 7/);
      await rejectsWith(withPickle([0x80, 0x02, 0x7d]), /no STOP/);
    });

    it('a state dict holding something that is not a tensor', async () => {
      const p = new PickleWriter().proto().emptyDict().str('model').emptyDict().str('w').int(3).setitem().setitem().stop().toBytes();
      await rejectsWith(read(torchSaveBytes(storages, [], { pickle: p })), /\['w'\] is 3, not a tensor/);
    });
  });

  describe('WeightStore reports a state dict that does not fit, by key', () => {
    let sd: Map<string, HostArray>;
    before(async () => {
      await setupBackend();
      const ck = await readTorchCheckpoint(memorySource(new Uint8Array(fs.readFileSync(fixturePath('sam2_mini.pt')))), 'sam2_mini.pt');
      sd = new Map(ck.names.map((n) => [n, ck.read(n)]));
    });

    function askForAll(store: WeightStore, shapes: Map<string, number[]>): void {
      for (const [key, shape] of shapes) store.take(key, shape);
    }

    it('accepts the complete state dict with the right shapes', () => {
      const before = tf.memory().numTensors;
      const store = new WeightStore(sd);
      askForAll(store, new Map([...sd].map(([k, t]) => [k, t.shape])));
      store.finish();
      assert.equal(store.numParameters, [...sd.values()].reduce((n, t) => n + t.data.length, 0));
      store.dispose();
      assert.equal(tf.memory().numTensors, before);
    });

    it('names a missing key, a mis-shaped key and an unexpected key', () => {
      const wanted = new Map([...sd].map(([k, t]) => [k, [...t.shape]]));
      const missing = 'memory_attention.layers.1.linear2.weight';
      const misShaped = 'image_encoder.trunk.patch_embed.proj.weight';
      wanted.set(misShaped, [9, 3, 7, 7]);
      wanted.set('memory_attention.layers.2.norm1.weight', [32]);
      const reduced = new Map(sd);
      reduced.delete(missing);
      reduced.set('extra.weight', { shape: [1], data: new Float32Array(1) });
      const store = new WeightStore(reduced);
      askForAll(store, wanted);
      assert.throws(() => store.finish('sam2_mini'), (e: unknown) => {
        assert.ok(e instanceof CheckpointKeyError);
        const byKey = new Map(e.problems.map((p) => [p.key, p]));
        assert.equal(byKey.get(missing)?.problem, 'missing');
        assert.deepEqual(byKey.get(misShaped), { key: misShaped, problem: 'shape', expected: [9, 3, 7, 7], found: sd.get(misShaped)?.shape });
        assert.equal(byKey.get('memory_attention.layers.2.norm1.weight')?.problem, 'missing');
        assert.equal(byKey.get('extra.weight')?.problem, 'unexpected');
        assert.equal(e.problems.length, 4);
        assert.match(e.message, /sam2_mini does not match.*\n.*linear2\.weight: missing/s);
        return true;
      });
    });

    it('names every tensor holding NaN or infinite values; predict refuses such weights with exit 2', async () => {
      const poisoned = new Map(sd);
      const nanKey = 'sam_mask_decoder.iou_prediction_head.layers.0.weight';
      const infKey = 'memory_encoder.out_proj.bias';
      const nan = Float32Array.from(sd.get(nanKey)?.data as Float32Array);
      nan[5] = NaN;
      nan[9] = NaN;
      const inf = Float32Array.from(sd.get(infKey)?.data as Float32Array);
      inf[0] = -Infinity;
      poisoned.set(nanKey, { ...(sd.get(nanKey) as HostArray), data: nan });
      poisoned.set(infKey, { ...(sd.get(infKey) as HostArray), data: inf });
      const store = new WeightStore(poisoned);
      askForAll(store, new Map([...sd].map(([k, t]) => [k, t.shape])));
      assert.throws(() => store.finish('poisoned'), (e: unknown) => {
        assert.ok(e instanceof CheckpointKeyError);
        assert.deepEqual(e.problems.map((p) => [p.key, p.problem]).sort(), [[infKey, 'non-finite'], [nanKey, 'non-finite']].sort());
        assert.match(e.message, /^poisoned has NaN or infinite weights \(2 problem\(s\)\)/);
        assert.match(e.message, new RegExp(`${nanKey.replace(/\./g, '\\.')}: 2 of its ${nan.length} values are NaN or infinite \\(the first at flat index 5\\)`));
        return true;
      });

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-nan-'));
      try {
        const tensors = [...poisoned].map(([name, t]) => ({ name, dtype: safeDtypeOf(t as never), shape: t.shape, bytes: hostTensorBytes(t as never) }));
        fs.writeFileSync(path.join(dir, 'nan.safetensors'), Buffer.concat(encodeSafetensors(tensors)));
        fs.copyFileSync(fixturePath('sam2_mini.config.json'), path.join(dir, 'nan.json'));
        const r = await quietly(() => main(['predict', '--model', path.join(dir, 'nan.safetensors'), '--image', fixturePath('video1/frames/00000.jpg'),
          '--points', '46,128,1', '--out', path.join(dir, 'mask.png')]));
        assert.equal(r.result, 2, r.err);
        assert.match(r.err, /has NaN or infinite weights.*iou_prediction_head\.layers\.0\.weight: 2 of/s);
        assert.ok(!fs.existsSync(path.join(dir, 'mask.png')));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
