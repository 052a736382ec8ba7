import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsReader, encodeSafetensors, memorySource, type TensorToWrite } from '../src/io/safetensors.js';
import { openSafetensors, writeSafetensorsFile, writeSafetensorsStreamed } from '../src/node/files.js';
import { CheckpointFormatError } from '../src/errors.js';

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out;
}

describe('safetensors', () => {
  it('round-trips every dtype it writes', () => {
    const f = new Float32Array([1.5, -2, 3.25, 0]);
    const i = new Int32Array([7, -8]);
    const u = new Uint8Array([0, 255, 3]);
    const tensors: TensorToWrite[] = [
      { name: 'a.f', dtype: 'F32', shape: [2, 2], bytes: new Uint8Array(f.buffer) },
      { name: 'b.i', dtype: 'I32', shape: [2], bytes: new Uint8Array(i.buffer) },
      { name: 'c.u', dtype: 'U8', shape: [3], bytes: u },
      { name: 'empty', dtype: 'F32', shape: [0, 3], bytes: new Uint8Array(0) },
    ];
    const bytes = concat(encodeSafetensors(tensors, { note: 'x' }));
    assert.equal((new DataView(bytes.buffer).getUint32(0, true) + 8) % 8, 0);
    const r = new SafetensorsReader(memorySource(bytes));
    assert.deepEqual(r.names, ['a.f', 'b.i', 'c.u', 'empty']);
    assert.deepEqual(r.metadata, { note: 'x' });
    assert.deepEqual(Array.from(r.read('a.f').data), Array.from(f));
    assert.deepEqual(r.read('a.f').shape, [2, 2]);
    assert.deepEqual(Array.from(r.read('b.i').data), [7, -8]);
    assert.deepEqual(Array.from(r.read('c.u').data), [0, 255, 3]);
    assert.equal(r.read('empty').data.length, 0);
  });

  it('widens F16 and BF16 to float32', () => {
    const header = JSON.stringify({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] } });
    const bytes = new Uint8Array(8 + header.length + 6);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    const dv = new DataView(bytes.buffer, 8 + header.length);
    dv.setUint16(0, 0x3c00, true); // 1.0
    dv.setUint16(2, 0xc000, true); // -2.0
    dv.setUint16(4, 0x4049, true); // bf16 3.140625
    const r = new SafetensorsReader(memorySource(bytes));
    assert.deepEqual(Array.from(r.read('h').data), [1, -2]);
    assert.deepEqual(Array.from(r.read('b').data), [3.140625]);
  });

  it('rejects malformed headers with CheckpointFormatError naming the problem', () => {
    const make = (header: string, dataBytes = 0) => {
      const b = new Uint8Array(8 + header.length + dataBytes);
      new DataView(b.buffer).setBigUint64(0, BigInt(header.length), true);
      b.set(new TextEncoder().encode(header), 8);
      return b;
    };
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(4), /too short/],
      [make('{"a": '), /JSON/],
      [make('{"a": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}', 1), /unknown dtype/],
      [make('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}', 4), /needs 8 bytes/],
      [make('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', 2), /outside the data section/],
      [make('{"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}', 3), /overlap/],
    ];
    for (const [bytes, re] of cases) {
      assert.throws(() => new SafetensorsReader(memorySource(bytes)), (e: unknown) => e instanceof CheckpointFormatError && re.test((e as Error).message));
    }
  });
});

describe('safetensors files (Node): both writers are atomic', () => {
  const tensors: TensorToWrite[] = [
    { name: 'w', dtype: 'F32', shape: [3], bytes: new Uint8Array(new Float32Array([1, 2, 3]).buffer) },
    { name: 'b', dtype: 'I32', shape: [1], bytes: new Uint8Array(new Int32Array([-4]).buffer) },
  ];
  const specs = tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
  /** The two writers, each writing `tensors` to `file`; `fail` makes the second tensor's data go missing. */
  const writers: [string, (file: string, fail?: boolean) => void][] = [
    ['writeSafetensorsFile', (file) => writeSafetensorsFile(file, tensors, { k: 'v' })],
    ['writeSafetensorsStreamed', (file, fail) => writeSafetensorsStreamed(file, specs, (_, i) => {
      if (fail && i === 1) throw new Error('source gone');
      return tensors[i].bytes;
    }, { k: 'v' })],
  ];
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-st-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [name, write] of writers) {
    it(`${name}: the same bytes as encodeSafetensors, and no partial file`, () => {
      const file = path.join(dir, 'm.safetensors');
      write(file);
      assert.deepEqual(fs.readdirSync(dir), ['m.safetensors']);
      assert.deepEqual(new Uint8Array(fs.readFileSync(file)), concat(encodeSafetensors(tensors, { k: 'v' })));
      const reader = openSafetensors(file);
      assert.deepEqual(Array.from(reader.read('w').data), [1, 2, 3]);
      reader.close();
    });

    it(`${name}: a failed write (a full disk) leaves the old file as it was and nothing else`, () => {
      const file = path.join(dir, 'm.safetensors');
      fs.writeFileSync(file, 'the previous file');
      // /dev/full fails every write with ENOSPC.
      fs.symlinkSync('/dev/full', `${file}.partial`);
      assert.throws(() => write(file), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
      assert.deepEqual(fs.readdirSync(dir), ['m.safetensors']);
      assert.equal(fs.readFileSync(file, 'utf8'), 'the previous file');
    });
  }

  it('writeSafetensorsStreamed: a tensor source that fails leaves nothing behind, with rename: false too', () => {
    const file = path.join(dir, 'm.safetensors');
    const [, streamed] = writers[1];
    assert.throws(() => streamed(file, true), /source gone/);
    assert.deepEqual(fs.readdirSync(dir), []);
    assert.throws(() => writeSafetensorsStreamed(file, specs, () => new Uint8Array(1), undefined, { rename: false }), /bytes/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
