/**
 * A restricted pickle reader. It runs the pickle stack machine over plain data only: every GLOBAL goes
 * through the caller's `resolveGlobal` (which holds the allowlist), REDUCE/NEWOBJ may only call what that
 * resolver returned as a callable `PyGlobal`, and BUILD goes through `build`. Nothing in the file can name
 * code that we would run, so a checkpoint cannot execute anything here.
 *
 * Values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes → Uint8Array, list → array, tuple → frozen array, dict → PyDict, set → PySet.
 */
import { CheckpointFormatError, Sam2LongError, UnsafeCheckpointError } from '../errors.js';

export type PyValue = unknown;

/** A dict or OrderedDict: insertion-ordered, keyed by the JS value of the key. */
export class PyDict {
  readonly map = new Map<PyValue, PyValue>();
  /** The state a BUILD attached to the dict (OrderedDict's `_metadata`), kept but never interpreted. */
  state: PyValue = undefined;
}

export class PySet {
  constructor(readonly items: PyValue[] = [], readonly frozen = false) {}
}

/** A global the resolver allowed. `call` is set only for the ones that REDUCE/NEWOBJ may invoke. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: readonly PyValue[]) => PyValue,
  ) {}

  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface UnpickleHooks {
  /** Returns the allowed value for `module.name`, or throws UnsafeCheckpointError. */
  resolveGlobal(module: string, name: string): PyGlobal;
  /** BINPERSID / PERSID: turns a persistent id into a value (torch: a storage reference). */
  persistentLoad(pid: PyValue): PyValue;
  /** BUILD on `target` (its `__setstate__` in Python); throws UnsafeCheckpointError for anything not expected. */
  build(target: PyValue, state: PyValue): void;
}

export function isTuple(v: PyValue): v is readonly PyValue[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

export function isList(v: PyValue): v is PyValue[] {
  return Array.isArray(v) && !Object.isFrozen(v);
}

/** A short description of a value for error messages. */
export function describePy(v: PyValue): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return v.qualname;
  if (v instanceof PyDict) return `dict(${v.map.size} items)`;
  if (v instanceof PySet) return `set(${v.items.length} items)`;
  if (v instanceof Uint8Array) return `bytes(${v.byteLength})`;
  if (isTuple(v)) return `tuple(${v.length})`;
  if (Array.isArray(v)) return `list(${v.length})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return v?.constructor?.name ?? 'object';
  return String(v);
}

const MARK = Symbol('mark');
const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Reads the pickle in `bytes` and returns the object it describes. */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, label = 'pickle'): PyValue {
  const machine = new Machine(bytes, hooks, label);
  try {
    return machine.run();
  } catch (err) {
    if (err instanceof Sam2LongError) throw err;
    // Every expected malformation is checked explicitly; this keeps an unforeseen one typed as well.
    throw new CheckpointFormatError(`${label}: malformed pickle at byte ${machine.opStart}: ${(err as Error).message}`);
  }
}

class Machine {
  private pos = 0;
  opStart = 0;
  private stack: PyValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PyValue>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly hooks: UnpickleHooks, private readonly label: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(message: string): never {
    throw new CheckpointFormatError(`${this.label}: ${message} (opcode at byte ${this.opStart})`);
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.bytes.byteLength) this.fail(`truncated: needs ${n} more bytes, ${this.bytes.byteLength - this.pos} left`);
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(this.bytes.byteLength)) this.fail(`length ${v} is longer than the pickle`);
    return Number(v);
  }

  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A newline-terminated text argument (protocol 0 opcodes, GLOBAL). */
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated: a text argument has no newline');
    const text = latin1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  private text(bytes: Uint8Array): string {
    try {
      return utf8.decode(bytes);
    } catch {
      return this.fail('a string is not valid UTF-8');
    }
  }

  private push(v: PyValue): void {
    this.stack.push(v);
  }

  /** Values above the topmost MARK: an opcode may not reach below it. */
  private frameSize(): number {
    return this.stack.length - (this.marks.at(-1) ?? 0);
  }

  private pop(): PyValue {
    if (this.frameSize() <= 0) this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): PyValue {
    if (this.frameSize() <= 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  /** Pops everything above the topmost MARK, and the mark. */
  private popMark(): PyValue[] {
    const at = this.marks.pop();
    if (at === undefined) this.fail('no MARK on the stack');
    return this.stack.splice(at);
  }

  private memoGet(i: number): PyValue {
    if (!this.memo.has(i)) this.fail(`memo entry ${i} was never stored`);
    return this.memo.get(i);
  }

  private memoPut(i: number): void {
    this.memo.set(i, this.top());
  }

  private int(v: bigint): number | bigint {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Little-endian two's-complement integer (LONG1 / LONG4). */
  private long(n: number): number | bigint {
    const b = this.take(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return this.int(v);
  }

  private decimal(text: string, what: string): number | bigint {
    const t = text.replace(/L$/, '');
    if (!/^[-+]?\d+$/.test(t)) this.fail(`${what} argument ${JSON.stringify(text)} is not an integer`);
    return this.int(BigInt(t));
  }

  private memoIndex(what: string): number {
    const i = this.decimal(this.line(), what);
    if (typeof i !== 'number' || i < 0) this.fail(`${what} index ${i} is out of range`);
    return i;
  }

  private setItems(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyDict)) this.fail(`SETITEM(S) on ${describePy(target)}, expected a dict`);
    if (items.length % 2) this.fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.map.set(items[i], items[i + 1]);
  }

  private appendItems(target: PyValue, items: PyValue[]): void {
    if (!isList(target)) this.fail(`APPEND(S) on ${describePy(target)}, expected a list`);
    for (const item of items) target.push(item);
  }

  private call(callable: PyValue, args: PyValue, op: string): PyValue {
    if (!(callable instanceof PyGlobal) || !callable.call) {
      throw new UnsafeCheckpointError(`${this.label}: ${op} on ${describePy(callable)} is not allowed (only state-dict rebuild functions may be called)`);
    }
    if (!isTuple(args)) this.fail(`${op} arguments are ${describePy(args)}, expected a tuple`);
    return callable.call(args);
  }

  private resolve(module: string, name: string): PyGlobal {
    const g = this.hooks.resolveGlobal(module, name);
    if (!(g instanceof PyGlobal)) throw new UnsafeCheckpointError(`${this.label}: global ${module}.${name} is not allowed`);
    return g;
  }

  run(): PyValue {
    const n = this.bytes.byteLength;
    while (this.pos < n) {
      this.opStart = this.pos;
      const op = this.bytes[this.pos++];
      switch (op) {
        case 0x80: { // PROTO
          const proto = this.u8();
          if (proto > 5) this.fail(`pickle protocol ${proto} is not supported`);
          break;
        }
        case 0x95: // FRAME: a length hint only
          this.u64();
          break;
        case 0x2e: { // STOP
          if (this.stack.length !== 1 || this.marks.length) this.fail(`STOP with ${this.stack.length} values on the stack`);
          return this.stack[0];
        }
        // --- constants and numbers
        case 0x4e: this.push(null); break; // NONE
        case 0x88: this.push(true); break; // NEWTRUE
        case 0x89: this.push(false); break; // NEWFALSE
        case 0x4b: this.push(this.u8()); break; // BININT1
        case 0x4d: this.push(this.u16()); break; // BININT2
        case 0x4a: this.push(this.i32()); break; // BININT
        case 0x8a: this.push(this.long(this.u8())); break; // LONG1
        case 0x8b: { // LONG4
          const len = this.i32();
          if (len < 0) this.fail('negative LONG4 length');
          this.push(this.long(len));
          break;
        }
        case 0x49: { // INT (protocol 0 spells the booleans 00 and 01)
          const t = this.line();
          this.push(t === '00' ? false : t === '01' ? true : this.decimal(t, 'INT'));
          break;
        }
        case 0x4c: this.push(this.decimal(this.line(), 'LONG')); break; // LONG
        case 0x47: { // BINFLOAT (big-endian)
          this.need(8);
          this.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        }
        case 0x46: { // FLOAT
          const t = this.line();
          const v = Number(t);
          if (t.trim() === '' || (Number.isNaN(v) && !/nan/i.test(t))) this.fail(`FLOAT argument ${JSON.stringify(t)} is not a number`);
          this.push(v);
          break;
        }
        // --- strings and bytes
        case 0x58: this.push(this.text(this.take(this.u32()))); break; // BINUNICODE
        case 0x8c: this.push(this.text(this.take(this.u8()))); break; // SHORT_BINUNICODE
        case 0x8d: this.push(this.text(this.take(this.u64()))); break; // BINUNICODE8
        case 0x55: this.push(latin1.decode(this.take(this.u8()))); break; // SHORT_BINSTRING (Python 2 str)
        case 0x54: { // BINSTRING
          const len = this.i32();
          if (len < 0) this.fail('negative BINSTRING length');
          this.push(latin1.decode(this.take(len)));
          break;
        }
        case 0x43: this.push(new Uint8Array(this.take(this.u8()))); break; // SHORT_BINBYTES
        case 0x42: this.push(new Uint8Array(this.take(this.u32()))); break; // BINBYTES
        case 0x8e: this.push(new Uint8Array(this.take(this.u64()))); break; // BINBYTES8
        case 0x96: this.push(new Uint8Array(this.take(this.u64()))); break; // BYTEARRAY8
        // --- containers
        case 0x28: this.marks.push(this.stack.length); break; // MARK
        case 0x29: this.push(Object.freeze([])); break; // EMPTY_TUPLE
        case 0x74: this.push(Object.freeze(this.popMark())); break; // TUPLE
        case 0x85: this.push(Object.freeze([this.pop()])); break; // TUPLE1
        case 0x86: { // TUPLE2
          const b = this.pop();
          this.push(Object.freeze([this.pop(), b]));
          break;
        }
        case 0x87: { // TUPLE3
          const c = this.pop();
          const b = this.pop();
          this.push(Object.freeze([this.pop(), b, c]));
          break;
        }
        case 0x5d: this.push([]); break; // EMPTY_LIST
        case 0x6c: this.push(this.popMark()); break; // LIST
        case 0x61: { // APPEND
          const item = this.pop();
          this.appendItems(this.top(), [item]);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          this.appendItems(this.top(), items);
          break;
        }
        case 0x7d: this.push(new PyDict()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const d = new PyDict();
          this.setItems(d, this.popMark());
          this.push(d);
          break;
        }
        case 0x73: { // SETITEM
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x8f: this.push(new PySet()); break; // EMPTY_SET
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (!(set instanceof PySet) || set.frozen) this.fail(`ADDITEMS on ${describePy(set)}, expected a set`);
          set.items.push(...items);
          break;
        }
        case 0x91: this.push(new PySet(this.popMark(), true)); break; // FROZENSET
        // --- stack and memo
        case 0x30: this.pop(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: this.push(this.top()); break; // DUP
        case 0x71: this.memoPut(this.u8()); break; // BINPUT
        case 0x72: this.memoPut(this.u32()); break; // LONG_BINPUT
        case 0x94: this.memoPut(this.memo.size); break; // MEMOIZE
        case 0x70: this.memoPut(this.memoIndex('PUT')); break; // PUT
        case 0x68: this.push(this.memoGet(this.u8())); break; // BINGET
        case 0x6a: this.push(this.memoGet(this.u32())); break; // LONG_BINGET
        case 0x67: this.push(this.memoGet(this.memoIndex('GET'))); break; // GET
        // --- the restricted part: globals, calls, state, persistent ids
        case 0x63: { // GLOBAL
          const module = this.line();
          const name = this.line();
          this.push(this.resolve(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.push(this.resolve(module, name));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const callable = this.pop();
          this.push(this.call(callable, args, 'REDUCE'));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x62: { // BUILD
          const state = this.pop();
          this.hooks.build(this.top(), state);
          break;
        }
        case 0x51: this.push(this.hooks.persistentLoad(this.pop())); break; // BINPERSID
        case 0x50: this.push(this.hooks.persistentLoad(this.line())); break; // PERSID
        case 0x69: // INST
        case 0x6f: // OBJ
        case 0x92: // NEWOBJ_EX
        case 0x82: case 0x83: case 0x84: // EXT1/2/4 (copyreg extension registry)
          throw new UnsafeCheckpointError(`${this.label}: opcode 0x${op.toString(16)} builds arbitrary objects and is not allowed in a state dict (byte ${this.opStart})`);
        default:
          this.fail(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
    this.opStart = this.pos;
    return this.fail('truncated: no STOP opcode');
  }
}
