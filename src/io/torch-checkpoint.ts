/**
 * PyTorch checkpoints (the zip format of `torch.save` since 1.6) read without Python and without running
 * anything from the file. Layout: `<archive>/data.pkl` (pickle protocol 2 of the saved object; tensors are
 * references to storages), `<archive>/data/<key>` (raw bytes of each storage), `<archive>/byteorder`
 * (absent in older files: little) and `<archive>/version`.
 *
 * The pickle is read by the restricted unpickler with a state-dict allowlist (OrderedDict, torch's tensor
 * rebuild helpers, storage types, dtypes, torch.Size/device); anything else is an UnsafeCheckpointError.
 * Every tensor is checked against its storage when the file is opened; data is read one tensor at a time,
 * only the bytes that tensor covers, so memory stays at about one tensor above the caller's own.
 */
import { CheckpointFormatError, UnsafeCheckpointError } from '../errors.js';
import { decodeTensor, type ByteSource, type HostTensor, type SafeDtype } from './safetensors.js';
import { PyDict, PyGlobal, describePy, isList, isTuple, unpickle, type PyValue, type UnpickleHooks } from './pickle.js';
import { openZipArchive, type ZipArchive } from './zip-archive.js';

export type TorchDtype = 'float64' | 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const ITEM_SIZE: Record<TorchDtype, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

const SAFE_DTYPE: Record<TorchDtype, SafeDtype> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

/** What `TorchCheckpoint.read` decodes each dtype to (floats → F32, integers → I32). */
export const DECODED_DTYPE: Record<TorchDtype, SafeDtype> = {
  float64: 'F32', float32: 'F32', float16: 'F32', bfloat16: 'F32', int64: 'I32', int32: 'I32', int16: 'I32', int8: 'I32', uint8: 'U8', bool: 'BOOL',
};

/** torch.<X>Storage → element dtype (UntypedStorage holds bytes). */
const STORAGE_TYPES: Record<string, TorchDtype> = {
  DoubleStorage: 'float64', FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', UntypedStorage: 'uint8',
};

/** torch.<dtype> globals (str(torch.float32) is 'torch.float32'). */
const DTYPE_NAMES: Record<string, TorchDtype> = {
  float64: 'float64', double: 'float64', float32: 'float32', float: 'float32', float16: 'float16', half: 'float16',
  bfloat16: 'bfloat16', int64: 'int64', long: 'int64', int32: 'int32', int: 'int32', int16: 'int16', short: 'int16',
  int8: 'int8', uint8: 'uint8', bool: 'bool',
};

/** Bigger single tensors are refused rather than allocated (the largest SAM 2 tensor is ~20 MB). */
export const MAX_TENSOR_BYTES = 2 ** 31;

/** A bigger data.pkl is refused before it is read or inflated (an official checkpoint's is ~100 KB). */
export const MAX_PICKLE_BYTES = 64 * 2 ** 20;

export interface TorchTensorInfo {
  name: string;
  dtype: TorchDtype;
  shape: number[];
  /** In elements, as torch reports them (0 for an expanded dimension). */
  strides: number[];
  /** In elements of `dtype` from the start of the storage. */
  storageOffset: number;
  storageKey: string;
}

/** One tensor's data made contiguous: little-endian bytes of `dtype`, row-major over `shape`. */
export interface RawTensor {
  name: string;
  dtype: TorchDtype;
  shape: number[];
  bytes: Uint8Array;
}

interface StorageRef {
  readonly kind: 'storage';
  readonly key: string;
  readonly dtype: TorchDtype;
  /** In elements of `dtype`. */
  readonly numel: number;
}

interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  readonly dtype: TorchDtype;
  readonly offset: number;
  readonly shape: number[];
  readonly strides: number[];
}

function isStorage(v: PyValue): v is StorageRef {
  return typeof v === 'object' && v !== null && (v as StorageRef).kind === 'storage';
}

function isTensor(v: PyValue): v is TensorRef {
  return typeof v === 'object' && v !== null && (v as TensorRef).kind === 'tensor';
}

export class TorchCheckpoint {
  constructor(
    private readonly zip: ZipArchive,
    private readonly prefix: string,
    /** The state dict in file order. */
    readonly tensors: ReadonlyMap<string, TorchTensorInfo>,
    readonly byteOrder: 'little' | 'big',
    readonly label: string,
  ) {}

  get names(): string[] {
    return [...this.tensors.keys()];
  }

  /** How many deflated entries were inflated, and their bytes (each storage once, however many tensors view it). */
  get inflated(): { readonly inflatedEntries: number; readonly inflatedBytes: number } {
    return this.zip.stats;
  }

  /** Keys and shapes, without reading any tensor data. */
  shapes(): Map<string, number[]> {
    return new Map([...this.tensors].map(([k, t]) => [k, [...t.shape]]));
  }

  info(name: string): TorchTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointFormatError(`${this.label}: no tensor named '${name}'`);
    return t;
  }

  /** The tensor's data in its own dtype, contiguous and little-endian. */
  readRaw(name: string): RawTensor {
    const t = this.info(name);
    const item = ITEM_SIZE[t.dtype];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel === 0) return { name, dtype: t.dtype, shape: [...t.shape], bytes: new Uint8Array(0) };
    const span = 1 + t.shape.reduce((s, d, i) => s + (d - 1) * t.strides[i], 0);
    // An aligned copy of only the elements this tensor covers (a source may hand out views of its own memory).
    const covered = new Uint8Array(this.zip.read(`${this.prefix}data/${t.storageKey}`, t.storageOffset * item, span * item));
    if (this.byteOrder === 'big') swapBytes(covered, item);
    const bytes = isContiguous(t.shape, t.strides) ? covered : gather(covered, t.shape, t.strides, item);
    return { name, dtype: t.dtype, shape: [...t.shape], bytes };
  }

  /** The tensor decoded for the model: floats as float32, integers as int32 (int64 must fit), uint8, bool. */
  read(name: string): HostTensor {
    const raw = this.readRaw(name);
    return decodeTensor({ name, dtype: SAFE_DTYPE[raw.dtype], shape: raw.shape }, raw.bytes, this.label);
  }
}

/** Reads the index of a checkpoint held by `source` (a file, or bytes in memory). */
export async function readTorchCheckpoint(source: ByteSource, label = 'checkpoint'): Promise<TorchCheckpoint> {
  // The legacy format starts with a pickled magic number: PROTO 2, LONG1 of 10 bytes.
  const head = source.read(0, Math.min(4, source.size));
  if (head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a && head[3] === 0x0a) {
    throw new CheckpointFormatError(`${label}: this is the legacy (pre-1.6) torch.save format; re-save it with a recent PyTorch`);
  }
  const zip = await openZipArchive(source, label);
  const pkl = zip.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    throw new CheckpointFormatError(`${label}: expected one '<archive>/data.pkl' in the zip, found ${pkl.length ? pkl.join(', ') : 'none'} (not a torch.save file?)`);
  }
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const byteOrder = readByteOrder(zip, prefix, label);
  const pklSize = zip.entry(pkl[0]).size;
  if (pklSize > MAX_PICKLE_BYTES) throw new CheckpointFormatError(`${label}: data.pkl declares ${pklSize} bytes, more than a state dict's pickle can be (${MAX_PICKLE_BYTES})`);
  const root = unpickle(zip.read(pkl[0]), torchHooks(zip, prefix, label), `${label}: data.pkl`);
  const tensors = stateDictOf(root, label);
  // Tensors that view one deflated storage share a single inflation of it.
  const views = new Map<string, number>();
  for (const t of tensors.values()) views.set(t.storageKey, (views.get(t.storageKey) ?? 0) + 1);
  for (const [key, n] of views) zip.expectReads(`${prefix}data/${key}`, n);
  return new TorchCheckpoint(zip, prefix, tensors, byteOrder, label);
}

function readByteOrder(zip: ZipArchive, prefix: string, label: string): 'little' | 'big' {
  const name = `${prefix}byteorder`;
  if (!zip.entries.has(name)) return 'little';
  if (zip.entry(name).size > 16) throw new CheckpointFormatError(`${label}: byteorder declares ${zip.entry(name).size} bytes, expected 'little' or 'big'`);
  const text = new TextDecoder().decode(zip.read(name)).trim();
  if (text !== 'little' && text !== 'big') throw new CheckpointFormatError(`${label}: byteorder is '${text.slice(0, 20)}', expected little or big`);
  return text;
}

/** The `model` entry of `{"model": state_dict, ...}`, or the object itself when it is a dict of tensors. */
function stateDictOf(root: PyValue, label: string): Map<string, TorchTensorInfo> {
  if (!(root instanceof PyDict)) throw new CheckpointFormatError(`${label}: the checkpoint holds ${describePy(root)}, expected a dict`);
  const model = root.map.get('model');
  const nested = model !== undefined && !isTensor(model);
  if (nested && !(model instanceof PyDict)) throw new CheckpointFormatError(`${label}: 'model' holds ${describePy(model)}, expected a state dict`);
  const dict = nested ? (model as PyDict) : root;
  const where = nested ? "'model'" : 'the checkpoint';
  const out = new Map<string, TorchTensorInfo>();
  for (const [key, value] of dict.map) {
    if (typeof key !== 'string') throw new CheckpointFormatError(`${label}: ${where} has a key ${describePy(key)}, expected parameter names`);
    if (!isTensor(value)) {
      throw new CheckpointFormatError(`${label}: ${where}['${key}'] is ${describePy(value)}, not a tensor (expected {"model": state_dict} or a state dict)`);
    }
    checkView(value, `${label}: ${where}['${key}']`);
    out.set(key, {
      name: key, dtype: value.dtype, shape: value.shape, strides: value.strides, storageOffset: value.offset, storageKey: value.storage.key,
    });
  }
  return out;
}

/** Throws unless every element of the view lies inside its storage (and the tensor is of a sane size). */
function checkView(t: TensorRef, where: string): void {
  const item = ITEM_SIZE[t.dtype];
  // A storage's size is in its own elements; a _rebuild_tensor_v3 view may reinterpret it as another dtype.
  const available = Math.floor((t.storage.numel * ITEM_SIZE[t.storage.dtype]) / item);
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (numel * item > MAX_TENSOR_BYTES) {
    throw new CheckpointFormatError(`${where}: shape [${t.shape}] × ${t.dtype} is larger than ${MAX_TENSOR_BYTES} bytes`);
  }
  if (numel === 0) return;
  const last = t.offset + t.shape.reduce((s, d, i) => s + (d - 1) * t.strides[i], 0);
  if (last >= available) {
    throw new CheckpointFormatError(
      `${where}: shape [${t.shape}] with stride [${t.strides}] at offset ${t.offset} needs ${last + 1} elements of storage '${t.storage.key}', which has ${available}`,
    );
  }
}

function torchHooks(zip: ZipArchive, prefix: string, label: string): UnpickleHooks {
  const where = `${label}: data.pkl`;
  const fail = (message: string): never => {
    throw new CheckpointFormatError(`${where}: ${message}`);
  };
  const storages = new Map<string, StorageRef>();

  const int = (v: PyValue, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} is ${describePy(v)}, expected a non-negative integer`);
    return v as number;
  };
  const ints = (v: PyValue, what: string): number[] => {
    if (!Array.isArray(v)) fail(`${what} is ${describePy(v)}, expected a tuple of integers`);
    return (v as PyValue[]).map((x, i) => int(x, `${what}[${i}]`));
  };

  function persistentLoad(pid: PyValue): StorageRef {
    if (!isTuple(pid) || pid.length !== 5 || pid[0] !== 'storage') return fail(`persistent id ${describePy(pid)} is not ('storage', type, key, location, numel)`);
    const [, type, key, , numelRaw] = pid;
    if (!(type instanceof PyGlobal) || !(type.name in STORAGE_TYPES)) return fail(`storage type ${describePy(type)} is not a storage class`);
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) return fail(`storage key ${describePy(key)} is not a name`);
    const dtype = STORAGE_TYPES[type.name];
    const numel = int(numelRaw, `storage '${key}' size`);
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (!entry) return fail(`storage '${key}' has no entry ${prefix}data/${key} in the zip`);
    const needed = numel * ITEM_SIZE[dtype];
    if (entry.size < needed) {
      return fail(`storage '${key}' holds ${entry.size} bytes, shorter than its ${numel} × ${dtype} (${needed} bytes)`);
    }
    // torch.save writes a storage's bytes and nothing more; a compressed entry that claims more would only be
    // inflated for nothing (a zip bomb's way to make a small file cost gigabytes).
    if (entry.deflated && entry.size > needed) {
      return fail(`storage '${key}' is compressed and declares ${entry.size} bytes, more than its ${numel} × ${dtype} (${needed} bytes)`);
    }
    const known = storages.get(key);
    if (known && (known.dtype !== dtype || known.numel !== numel)) return fail(`storage '${key}' is declared twice with different types`);
    const ref: StorageRef = known ?? { kind: 'storage', key, dtype, numel };
    storages.set(key, ref);
    return ref;
  }

  /** A view (offset, shape, strides) into a storage; `stateDictOf` checks that it lies inside it. */
  function tensorView(storage: PyValue, offsetRaw: PyValue, sizeRaw: PyValue, strideRaw: PyValue, dtypeOverride?: TorchDtype): TensorRef {
    if (!isStorage(storage)) return fail(`a tensor is rebuilt from ${describePy(storage)}, not a storage`);
    const offset = int(offsetRaw, 'storage offset');
    const shape = ints(sizeRaw, 'tensor size');
    const strides = ints(strideRaw, 'tensor stride');
    if (strides.length !== shape.length) fail(`size [${shape}] and stride [${strides}] have different ranks`);
    return { kind: 'tensor', storage, dtype: dtypeOverride ?? storage.dtype, offset, shape, strides };
  }

  const rebuilders: Record<string, (args: readonly PyValue[]) => PyValue> = {
    // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
    _rebuild_tensor: (a) => (a.length === 4 ? tensorView(a[0], a[1], a[2], a[3]) : fail('_rebuild_tensor takes 4 arguments')),
    _rebuild_tensor_v2: (a) => (a.length >= 6 && a.length <= 7 ? tensorView(a[0], a[1], a[2], a[3]) : fail('_rebuild_tensor_v2 takes 6 or 7 arguments')),
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
    _rebuild_tensor_v3: (a) => {
      if (a.length < 7 || a.length > 8) fail('_rebuild_tensor_v3 takes 7 or 8 arguments');
      const dtype = a[6] instanceof PyGlobal && a[6].module === 'torch' ? DTYPE_NAMES[a[6].name] : undefined;
      return tensorView(a[0], a[1], a[2], a[3], dtype ?? fail(`_rebuild_tensor_v3 dtype ${describePy(a[6])} is not supported`));
    },
    // (data, requires_grad, backward_hooks[, state]): a Parameter is its data here.
    _rebuild_parameter: (a) => (a.length === 3 && isTensor(a[0]) ? a[0] : fail('_rebuild_parameter expects (tensor, requires_grad, hooks)')),
    _rebuild_parameter_with_state: (a) => (a.length === 4 && isTensor(a[0]) ? a[0] : fail('_rebuild_parameter_with_state expects (tensor, requires_grad, hooks, state)')),
  };

  /** torch._tensor._rebuild_from_type_v2(func, new_type, args, state): a plain Tensor or Parameter only. */
  function rebuildFromType(a: readonly PyValue[]): PyValue {
    if (a.length !== 4) fail('_rebuild_from_type_v2 takes 4 arguments');
    const [func, type, args] = a;
    const plain = type instanceof PyGlobal && ['torch.Tensor', 'torch.nn.parameter.Parameter'].includes(type.qualname);
    if (!plain) throw new UnsafeCheckpointError(`${where}: tensor subclass ${describePy(type)} is not allowed`);
    if (!(func instanceof PyGlobal) || !func.call || !isTuple(args)) return fail('_rebuild_from_type_v2 needs a rebuild function and its arguments');
    return func.call(args);
  }

  function resolveGlobal(module: string, name: string): PyGlobal {
    const q = `${module}.${name}`;
    if (q === 'collections.OrderedDict') {
      return new PyGlobal(module, name, (a) => {
        const d = new PyDict();
        if (a.length === 1 && isList(a[0])) {
          for (const pair of a[0]) {
            if (!isTuple(pair) || pair.length !== 2) fail('OrderedDict items must be pairs');
            d.map.set((pair as PyValue[])[0], (pair as PyValue[])[1]);
          }
        } else if (a.length !== 0) fail('OrderedDict takes no arguments or a list of pairs');
        return d;
      });
    }
    if (module === 'torch._utils' && name in rebuilders) return new PyGlobal(module, name, rebuilders[name]);
    if (q === 'torch._tensor._rebuild_from_type_v2') return new PyGlobal(module, name, rebuildFromType);
    if (module === 'torch' && (name in STORAGE_TYPES || name in DTYPE_NAMES)) return new PyGlobal(module, name);
    if (q === 'torch.Tensor' || q === 'torch.nn.parameter.Parameter') return new PyGlobal(module, name);
    if (q === 'torch.Size') return new PyGlobal(module, name, (a) => (a.length === 1 && isTuple(a[0]) ? a[0] : fail('torch.Size takes one tuple')));
    if (q === 'torch.device') {
      return new PyGlobal(module, name, (a) => (a.length >= 1 && typeof a[0] === 'string' ? a.join(':') : fail('torch.device takes a string')));
    }
    if (q === '_codecs.encode') {
      // How protocol 2 spells a bytes value: encode(text, 'latin1').
      return new PyGlobal(module, name, (a) => {
        if (a.length !== 2 || typeof a[0] !== 'string' || !['latin1', 'latin-1'].includes(a[1] as string)) fail('_codecs.encode takes (str, "latin1")');
        return Uint8Array.from(a[0] as string, (c) => c.charCodeAt(0) & 0xff);
      });
    }
    throw new UnsafeCheckpointError(`${where}: global ${q} is not allowed in a state dict (nothing was executed)`);
  }

  function build(target: PyValue, state: PyValue): void {
    // OrderedDict carries `_metadata` (module versions), kept uninterpreted; a tensor's python attributes are dropped.
    if (target instanceof PyDict) {
      target.state = state;
      return;
    }
    if (isTensor(target)) return;
    throw new UnsafeCheckpointError(`${where}: BUILD (setstate) on ${describePy(target)} is not allowed`);
  }

  return { resolveGlobal, persistentLoad, build };
}

function isContiguous(shape: number[], strides: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Copies a strided view into row-major order; `src` starts at the view's first element. */
function gather(src: Uint8Array, shape: number[], strides: number[], item: number): Uint8Array {
  const numel = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(numel * item);
  // Copy in 4-, 2- or 1-byte words (an 8-byte element is two words) so bit patterns travel untouched.
  const word = item >= 4 ? 4 : item;
  const perItem = item / word;
  const s = words(src, word);
  const d = words(out, word);
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let from = 0;
  for (let n = 0; n < numel; n++) {
    for (let w = 0; w < perItem; w++) d[n * perItem + w] = s[from * perItem + w];
    for (let axis = rank - 1; axis >= 0; axis--) {
      if (++index[axis] < shape[axis]) {
        from += strides[axis];
        break;
      }
      from -= (shape[axis] - 1) * strides[axis];
      index[axis] = 0;
    }
  }
  return out;
}

function words(bytes: Uint8Array, word: number): Uint8Array | Uint16Array | Uint32Array {
  const length = bytes.byteLength / word;
  if (word === 4) return new Uint32Array(bytes.buffer, bytes.byteOffset, length);
  if (word === 2) return new Uint16Array(bytes.buffer, bytes.byteOffset, length);
  return bytes;
}

function swapBytes(bytes: Uint8Array, item: number): void {
  for (let i = 0; i + item <= bytes.byteLength; i += item) bytes.subarray(i, i + item).reverse();
}
