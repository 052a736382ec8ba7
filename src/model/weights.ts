/**
 * State dict → module weights. Modules ask for parameters by their official names (relative to a scope)
 * with the shape they expect; layouts are converted here, once, at load:
 * - linear weights [out, in] become [in, out], so every projection is a plain 2-D matMul (fast on wasm);
 * - conv weights [out, in/groups, kh, kw] become HWIO [kh, kw, in, out] (tfjs convolutions are NHWC);
 *   depthwise weights [C, 1, kh, kw] become [kh, kw, C, 1].
 * Problems are collected, not thrown one by one: `finish()` throws one CheckpointKeyError listing every
 * missing, unexpected and mis-shaped key.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointKeyError, type KeyProblem } from '../errors.js';

/** A host-side tensor as read from a checkpoint (float data as Float32Array). */
export interface HostArray {
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** How many values of `data` are NaN or ±Infinity, and the first one's index; null when all are finite. */
function nonFinite(data: Float32Array): { count: number; first: number } | null {
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    // x - x is 0 for every finite x and NaN for NaN and ±Infinity: one test for both.
    if (data[i] - data[i] !== 0) {
      if (count++ === 0) first = i;
    }
  }
  return count ? { count, first } : null;
}

export class WeightStore {
  private readonly used = new Set<string>();
  private readonly problems: KeyProblem[] = [];
  /** Every tensor handed to a module; `dispose()` frees them. */
  private readonly owned: tf.Tensor[] = [];
  /** Tensors derived from the config alone, made once however many modules ask (see `constant`). */
  private readonly constants = new Map<string, tf.Tensor>();

  constructor(private readonly tensors: ReadonlyMap<string, HostArray>) {}

  scope(prefix: string): WeightScope {
    return new WeightScope(this, prefix);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The host arrays of every key that starts with one of `prefixes` (to build part of the model elsewhere). */
  entries(prefixes: readonly string[]): Map<string, HostArray> {
    return new Map([...this.tensors].filter(([key]) => prefixes.some((p) => key.startsWith(p))));
  }

  /** The tensor `name` as float32, checked against `shape`; a zero placeholder when missing or mis-shaped. */
  take(name: string, shape: readonly number[]): tf.Tensor {
    this.used.add(name);
    const host = this.tensors.get(name);
    if (!host) {
      this.problems.push({ key: name, problem: 'missing', expected: [...shape] });
      return this.own(tf.zeros(shape as number[]));
    }
    const same = host.shape.length === shape.length && host.shape.every((d, i) => d === shape[i]);
    if (!same) {
      this.problems.push({ key: name, problem: 'shape', expected: [...shape], found: [...host.shape] });
      return this.own(tf.zeros(shape as number[]));
    }
    const data = host.data instanceof Float32Array ? host.data : Float32Array.from(host.data);
    const bad = nonFinite(data);
    // A NaN weight gives NaN scores and empty masks on every frame, silently: refused with the tensor named.
    if (bad) this.problems.push({ key: name, problem: 'non-finite', found: [bad.count, bad.first, data.length] });
    return this.own(tf.tensor(data, shape as number[], 'float32'));
  }

  own<T extends tf.Tensor>(t: T): T {
    tf.keep(t);
    this.owned.push(t);
    return t;
  }

  /**
   * The tensor `key` names, made by `make` on the first request and owned from then on: a constant of the
   * config (RoPE's angle tables) that several layers read, stored once on the device instead of once per
   * layer or uploaded on every call.
   */
  constant<T extends tf.Tensor>(key: string, make: () => T): T {
    let t = this.constants.get(key);
    if (!t) {
      t = this.own(tf.tidy(make));
      this.constants.set(key, t);
    }
    return t as T;
  }

  /** Replaces an owned tensor by a derived layout (the source is freed). */
  derive<T extends tf.Tensor>(source: tf.Tensor, fn: (t: tf.Tensor) => T): T {
    const out = this.own(tf.tidy(() => fn(source)));
    const i = this.owned.indexOf(source);
    if (i >= 0) this.owned.splice(i, 1);
    source.dispose();
    return out;
  }

  /** Throws CheckpointKeyError listing every missing, mis-shaped and unexpected key. */
  finish(context = 'checkpoint'): void {
    const unexpected: KeyProblem[] = [...this.tensors.keys()]
      .filter((k) => !this.used.has(k))
      .map((key) => ({ key, problem: 'unexpected' as const }));
    const all = [...this.problems, ...unexpected];
    if (all.length) {
      this.dispose();
      throw new CheckpointKeyError(all, context);
    }
  }

  get numParameters(): number {
    return [...this.used].reduce((n, k) => n + (this.tensors.get(k)?.data.length ?? 0), 0);
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
    this.constants.clear();
  }
}

export interface LinearWeights {
  /** [in, out] */
  w: tf.Tensor2D;
  /** [out] */
  b: tf.Tensor1D | null;
}

export interface ConvWeights {
  /** HWIO [kh, kw, in, out], or [kh, kw, C, 1] for depthwise */
  w: tf.Tensor4D;
  /** [out] */
  b: tf.Tensor1D | null;
}

export interface NormWeights {
  /** [C] */
  w: tf.Tensor1D;
  /** [C] */
  b: tf.Tensor1D;
}

export class WeightScope {
  constructor(readonly store: WeightStore, readonly prefix: string) {}

  private key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  scope(name: string): WeightScope {
    return new WeightScope(this.store, this.key(name));
  }

  has(name: string): boolean {
    return this.store.has(this.key(name));
  }

  tensor(name: string, shape: readonly number[]): tf.Tensor {
    return this.store.take(this.key(name), shape);
  }

  /** nn.Linear(inDim, outDim) → weight pre-transposed to [in, out]. */
  linear(name: string, inDim: number, outDim: number, bias = true): LinearWeights {
    const raw = this.tensor(`${name}.weight`, [outDim, inDim]);
    return {
      w: this.store.derive(raw, (t) => tf.transpose(t) as tf.Tensor2D),
      b: bias ? (this.tensor(`${name}.bias`, [outDim]) as tf.Tensor1D) : null,
    };
  }

  /** nn.Conv2d → HWIO weight. `groups === inDim === outDim` is depthwise ([kh, kw, C, 1]). */
  conv2d(name: string, inDim: number, outDim: number, kernel: number, groups = 1, bias = true): ConvWeights {
    const raw = this.tensor(`${name}.weight`, [outDim, inDim / groups, kernel, kernel]);
    const depthwise = groups > 1;
    return {
      w: this.store.derive(raw, (t) => tf.transpose(t, depthwise ? [2, 3, 0, 1] : [2, 3, 1, 0]) as tf.Tensor4D),
      b: bias ? (this.tensor(`${name}.bias`, [outDim]) as tf.Tensor1D) : null,
    };
  }

  /** nn.ConvTranspose2d(in, out, k) weight [in, out, kh, kw] → [kh, kw, out, in] (tfjs conv2dTranspose filter). */
  convTranspose2d(name: string, inDim: number, outDim: number, kernel: number): ConvWeights {
    const raw = this.tensor(`${name}.weight`, [inDim, outDim, kernel, kernel]);
    return {
      w: this.store.derive(raw, (t) => tf.transpose(t, [2, 3, 1, 0]) as tf.Tensor4D),
      b: this.tensor(`${name}.bias`, [outDim]) as tf.Tensor1D,
    };
  }

  norm(name: string, dim: number): NormWeights {
    return {
      w: this.tensor(`${name}.weight`, [dim]) as tf.Tensor1D,
      b: this.tensor(`${name}.bias`, [dim]) as tf.Tensor1D,
    };
  }
}
