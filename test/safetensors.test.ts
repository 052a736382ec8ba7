import * as assert from 'node:assert/strict';
import { SafetensorsReader, encodeSafetensors, memorySource, type TensorToWrite } from '../src/io/safetensors.js';
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
