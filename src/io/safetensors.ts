/**
 * safetensors reader and writer. The reader validates the header before it trusts a byte of it, and
 * reads one tensor at a time from a byte source, so a big file is never held twice in memory.
 *
 * Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}},
 * then the raw little-endian data; offsets are relative to the end of the header.
 */
import { CheckpointFormatError } from '../errors.js';

export type SafeDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const ITEM_SIZE: Record<SafeDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Largest header we accept (the official limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  /** Byte span relative to the start of the data section. */
  begin: number;
  end: number;
}

/** Decoded tensor data: floats widen to Float32Array, integers to Int32Array, U8/BOOL stay bytes. */
export type TensorData = Float32Array | Int32Array | Uint8Array;

export interface HostTensor {
  dtype: 'float32' | 'int32' | 'uint8' | 'bool';
  shape: number[];
  data: TensorData;
}

/** Random access to bytes: a file descriptor in Node, an ArrayBuffer in the browser. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

export class SafetensorsReader {
  readonly entries: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly dataStart: number;

  constructor(private readonly source: ByteSource, private readonly label = 'safetensors file') {
    const { entries, metadata, dataStart } = parseHeader(source, label);
    this.entries = entries;
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointFormatError(`${this.label}: no tensor named '${name}'`);
    return e;
  }

  /** The raw little-endian bytes of one tensor (a view where the source allows, else a fresh copy). */
  rawBytes(name: string): Uint8Array {
    const e = this.entry(name);
    return this.source.read(this.dataStart + e.begin, e.end - e.begin);
  }

  read(name: string): HostTensor {
    const e = this.entry(name);
    return decodeTensor(e, this.rawBytes(name), this.label);
  }
}

function parseHeader(source: ByteSource, label: string) {
  if (source.size < 8) throw new CheckpointFormatError(`${label}: ${source.size} bytes is too short for a safetensors header`);
  const lenBytes = source.read(0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > source.size - 8) {
    throw new CheckpointFormatError(`${label}: header length ${headerLen} is not within the file (${source.size} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(source.read(8, headerLen)));
  } catch (err) {
    throw new CheckpointFormatError(`${label}: header is not well-formed JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new CheckpointFormatError(`${label}: header is not a JSON object`);
  }
  const dataStart = 8 + headerLen;
  const dataSize = source.size - dataStart;
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw, label);
      continue;
    }
    entries.set(name, parseEntry(name, raw, dataSize, label));
  }
  checkNoOverlap([...entries.values()], label);
  return { entries, metadata, dataStart };
}

function parseMetadata(raw: unknown, label: string): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CheckpointFormatError(`${label}: __metadata__ is not an object`);
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new CheckpointFormatError(`${label}: __metadata__.${k} is not a string`);
  }
  return raw as Record<string, string>;
}

function parseEntry(name: string, raw: unknown, dataSize: number, label: string): TensorEntry {
  const where = `${label}: tensor '${name}'`;
  if (raw === null || typeof raw !== 'object') throw new CheckpointFormatError(`${where}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in ITEM_SIZE)) {
    throw new CheckpointFormatError(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new CheckpointFormatError(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new CheckpointFormatError(`${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw new CheckpointFormatError(`${where}: data span [${begin}, ${end}) is outside the data section (${dataSize} bytes)`);
  }
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  const expectedBytes = count * ITEM_SIZE[dtype as SafeDtype];
  if (expectedBytes !== end - begin) {
    throw new CheckpointFormatError(`${where}: shape [${shape.join(', ')}] × ${dtype} needs ${expectedBytes} bytes, span has ${end - begin}`);
  }
  return { name, dtype: dtype as SafeDtype, shape: shape as number[], begin, end };
}

function checkNoOverlap(entries: TensorEntry[], label: string): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new CheckpointFormatError(`${label}: tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap`);
    }
  }
}

/** Decode little-endian bytes of `entry` (float16/bfloat16 widen to float32; int64 must fit int32). */
export function decodeTensor(entry: Pick<TensorEntry, 'name' | 'dtype' | 'shape'>, bytes: Uint8Array, label = 'tensor'): HostTensor {
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = [...entry.shape];
  switch (entry.dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      new Uint8Array(out.buffer).set(bytes.subarray(0, n * 4));
      return { dtype: 'float32', shape, data: out };
    }
    case 'F64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return { dtype: 'float32', shape, data: out };
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return { dtype: 'float32', shape, data: out };
    }
    case 'BF16': {
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return { dtype: 'float32', shape, data: new Float32Array(bits.buffer) };
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) {
          throw new CheckpointFormatError(`${label}: tensor '${entry.name}' holds int64 value ${v}, outside the int32 range`);
        }
        out[i] = Number(v);
      }
      return { dtype: 'int32', shape, data: out };
    }
    case 'I32': {
      const out = new Int32Array(n);
      new Uint8Array(out.buffer).set(bytes.subarray(0, n * 4));
      return { dtype: 'int32', shape, data: out };
    }
    case 'I16': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      return { dtype: 'int32', shape, data: out };
    }
    case 'I8': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      return { dtype: 'int32', shape, data: out };
    }
    case 'U8':
      return { dtype: 'uint8', shape, data: Uint8Array.from(bytes.subarray(0, n)) };
    case 'BOOL':
      return { dtype: 'bool', shape, data: Uint8Array.from(bytes.subarray(0, n), (b) => (b ? 1 : 0)) };
  }
}

/** IEEE 754 half → float32 value. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export interface TensorToWrite {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  /** Little-endian bytes, exactly shape × itemsize of dtype. */
  bytes: Uint8Array;
}

/** The dtype tag safetensors uses for a decoded host tensor. */
export function safeDtypeOf(t: HostTensor): SafeDtype {
  return ({ float32: 'F32', int32: 'I32', uint8: 'U8', bool: 'BOOL' } as const)[t.dtype];
}

export function hostTensorBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export type TensorHeaderSpec = Pick<TensorToWrite, 'name' | 'dtype' | 'shape'>;

/** Byte size of a tensor of `shape` × `dtype`. */
export function tensorByteLength(t: TensorHeaderSpec): number {
  return t.shape.reduce((a, b) => a * b, 1) * ITEM_SIZE[t.dtype];
}

/**
 * The header of a safetensors file holding `tensors` in this order (length prefix + JSON padded to 8 bytes);
 * the data of each tensor follows it, in order, `tensorByteLength` bytes each.
 */
export function encodeSafetensorsHeader(tensors: TensorHeaderSpec[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const size = tensorByteLength(t);
    if (t.name in header) throw new CheckpointFormatError(`cannot write '${t.name}' twice`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).byteLength % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8 + jsonBytes.byteLength);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  prefix.set(jsonBytes, 8);
  return prefix;
}

/** Throws unless `bytes` is exactly the data size of `t`. */
export function checkTensorBytes(t: TensorHeaderSpec, bytes: Uint8Array): void {
  const expected = tensorByteLength(t);
  if (expected !== bytes.byteLength) {
    throw new CheckpointFormatError(`cannot write '${t.name}': shape [${t.shape.join(', ')}] × ${t.dtype} needs ${expected} bytes, got ${bytes.byteLength}`);
  }
}

/**
 * Serialise tensors as safetensors: returns the header bytes (length prefix + padded JSON) and the
 * data chunks in order, so a caller can stream them to a file without concatenating.
 */
export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array[] {
  for (const t of tensors) checkTensorBytes(t, t.bytes);
  return [encodeSafetensorsHeader(tensors, metadata), ...tensors.map((t) => t.bytes)];
}
