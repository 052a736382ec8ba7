/**
 * Writes files in the layout of PyTorch's `torch.save` (zip of data.pkl + data/<key> storages), so tests and
 * benches can make checkpoints with chosen dtypes, shared storages, strides, byte orders and hostile pickles.
 */
import * as zlib from 'node:zlib';

/** Emits pickle opcodes (protocol 2, as torch.save does). */
export class PickleWriter {
  private readonly chunks: number[] = [];

  private bytes(...b: number[]): this {
    this.chunks.push(...b);
    return this;
  }

  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }

  proto(): this { return this.bytes(0x80, 2); }
  stop(): this { return this.bytes(0x2e); }
  mark(): this { return this.bytes(0x28); }
  tuple(): this { return this.bytes(0x74); }
  emptyTuple(): this { return this.bytes(0x29); }
  emptyDict(): this { return this.bytes(0x7d); }
  emptyList(): this { return this.bytes(0x5d); }
  setitem(): this { return this.bytes(0x73); }
  setitems(): this { return this.bytes(0x75); }
  reduce(): this { return this.bytes(0x52); }
  build(): this { return this.bytes(0x62); }
  binpersid(): this { return this.bytes(0x51); }
  newfalse(): this { return this.bytes(0x89); }
  raw(...b: number[]): this { return this.bytes(...b); }

  global(module: string, name: string): this {
    return this.bytes(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }

  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.bytes(0x58, ...this.u32(b.length), ...b);
  }

  int(n: number): this {
    if (n >= 0 && n < 256) return this.bytes(0x4b, n);
    if (n >= 0 && n < 65536) return this.bytes(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.bytes(0x4a, ...this.u32(n));
    const b: number[] = [];
    let v = BigInt(n);
    do {
      b.push(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n || (b[b.length - 1] & 0x80) !== 0);
    return this.bytes(0x8a, b.length, ...b);
  }

  intTuple(values: number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export type StorageType = 'FloatStorage' | 'DoubleStorage' | 'HalfStorage' | 'BFloat16Storage' | 'LongStorage' | 'IntStorage' | 'BoolStorage' | 'ByteStorage';

export const STORAGE_ITEM_SIZE: Record<StorageType, number> = {
  FloatStorage: 4, DoubleStorage: 8, HalfStorage: 2, BFloat16Storage: 2, LongStorage: 8, IntStorage: 4, BoolStorage: 1, ByteStorage: 1,
};

/** A storage as data.pkl names it. */
export interface StorageDecl {
  key: string;
  type: StorageType;
  /** In elements of the storage type. */
  numel: number;
}

export interface StorageSpec {
  key: string;
  type: StorageType;
  /** Little-endian element bytes (or big-endian when the file says so). */
  bytes: Uint8Array;
}

export function declare(s: StorageSpec): StorageDecl {
  return { key: s.key, type: s.type, numel: s.bytes.byteLength / STORAGE_ITEM_SIZE[s.type] };
}

export interface TensorSpec {
  name: string;
  storage: string;
  offset?: number;
  shape: number[];
  /** Row-major when omitted. */
  strides?: number[];
}

function rowMajorStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** The data.pkl torch.save writes for `{"model": OrderedDict(tensors)}` (or the bare OrderedDict). */
export function stateDictPickle(storages: StorageDecl[], tensors: TensorSpec[], wrapInModel = true): Uint8Array {
  const byKey = new Map(storages.map((s) => [s.key, s]));
  const w = new PickleWriter().proto();
  if (wrapInModel) w.emptyDict().str('model');
  w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const t of tensors) {
    const s = byKey.get(t.storage);
    if (!s) throw new Error(`no storage ${t.storage}`);
    w.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', s.type).str(s.key).str('cpu').int(s.numel).tuple().binpersid();
    w.int(t.offset ?? 0).intTuple(t.shape).intTuple(t.strides ?? rowMajorStrides(t.shape)).newfalse();
    w.global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  w.setitems();
  if (wrapInModel) w.setitem();
  return w.stop().toBytes();
}

export interface ZipSink {
  write(chunk: Uint8Array): void;
}

/** A zip writer streaming to a sink: stored entries (as torch.save writes them) or deflated; no zip64 (under 4 GB). */
export class ZipWriter {
  private offset = 0;
  private readonly central: Uint8Array[] = [];
  private count = 0;

  constructor(private readonly sink: ZipSink) {}

  private emit(chunk: Uint8Array): void {
    this.sink.write(chunk);
    this.offset += chunk.byteLength;
  }

  /**
   * Adds one entry whose data arrives as `parts`; a function is called twice (CRC and size first, then the
   * data), so a big entry never needs to be in memory at once.
   */
  add(name: string, parts: Uint8Array[] | (() => Iterable<Uint8Array>), deflate = false): void {
    let produce = typeof parts === 'function' ? parts : () => parts;
    let crc = 0;
    let size = 0;
    for (const p of produce()) {
      crc = zlib.crc32(p, crc);
      size += p.byteLength;
    }
    let stored = size;
    if (deflate) {
      const packed = zlib.deflateRawSync(Buffer.concat([...produce()]));
      produce = () => [packed];
      stored = packed.byteLength;
    }
    const nameBytes = new TextEncoder().encode(name);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(8, deflate ? 8 : 0, true);
    local.setUint32(14, crc >>> 0, true);
    local.setUint32(18, stored, true);
    local.setUint32(22, size, true);
    local.setUint16(26, nameBytes.byteLength, true);
    const headerAt = this.offset;
    this.emit(new Uint8Array(local.buffer));
    this.emit(nameBytes);
    for (const p of produce()) this.emit(p);

    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(10, deflate ? 8 : 0, true);
    c.setUint32(16, crc >>> 0, true);
    c.setUint32(20, stored, true);
    c.setUint32(24, size, true);
    c.setUint16(28, nameBytes.byteLength, true);
    c.setUint32(42, headerAt, true);
    this.central.push(new Uint8Array(c.buffer), nameBytes);
    this.count++;
  }

  finish(): void {
    const start = this.offset;
    for (const chunk of this.central) this.emit(chunk);
    const eocd = new DataView(new ArrayBuffer(22));
    eocd.setUint32(0, 0x06054b50, true);
    eocd.setUint16(8, this.count, true);
    eocd.setUint16(10, this.count, true);
    eocd.setUint32(12, this.offset - start, true);
    eocd.setUint32(16, start, true);
    this.emit(new Uint8Array(eocd.buffer));
  }
}

export function zipBytes(entries: [string, Uint8Array][], deflate = false): Uint8Array {
  const chunks: Uint8Array[] = [];
  const zip = new ZipWriter({ write: (c) => chunks.push(c) });
  for (const [name, data] of entries) zip.add(name, [data], deflate);
  zip.finish();
  return Buffer.concat(chunks);
}

export interface TorchSaveOptions {
  archive?: string;
  byteorder?: 'little' | 'big' | null;
  wrapInModel?: boolean;
  /** Replaces the generated data.pkl (hostile or hand-written pickles). */
  pickle?: Uint8Array;
  /** Deflate every entry (torch.save never does; a re-zipped checkpoint might). */
  deflate?: boolean;
}

/** A whole torch.save zip in memory. */
export function torchSaveBytes(storages: StorageSpec[], tensors: TensorSpec[], options: TorchSaveOptions = {}): Uint8Array {
  const archive = options.archive ?? 'archive';
  const entries: [string, Uint8Array][] = [[`${archive}/data.pkl`, options.pickle ?? stateDictPickle(storages.map(declare), tensors, options.wrapInModel ?? true)]];
  if (options.byteorder !== null) entries.push([`${archive}/byteorder`, new TextEncoder().encode(options.byteorder ?? 'little')]);
  for (const s of storages) entries.push([`${archive}/data/${s.key}`, s.bytes]);
  entries.push([`${archive}/version`, new TextEncoder().encode('3\n')]);
  return zipBytes(entries, options.deflate);
}
