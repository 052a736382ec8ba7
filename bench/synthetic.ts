/**
 * What the benchmarks run on: the real SAM 2.1 tiny architecture with random weights (every official key and
 * shape, from the golden skeleton list) at any image size, the golden mini model, and synthetic inputs —
 * a full memory bank and a video of a moving disc.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { PREDICTOR_DEFAULTS, derivedSizes, resolveModelConfig, type Sam2ModelConfig } from '../src/config.js';
import { loadSam2 } from '../src/node/load.js';
import { officialModelSection } from '../src/presets/official.js';
import type { ItemMemory } from '../src/model/memory-prompt.js';
import { Sam2Model } from '../src/model/sam2.js';
import type { HostArray } from '../src/model/weights.js';
import { normalizeFrame } from '../src/predictor/transforms.js';
import type { FrameProvider } from '../src/predictor/video-state.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const GOLDEN = path.join(REPO, 'test/fixtures/golden');

export type BenchModelName = 'tiny' | 'mini';

/** Deterministic values in [-scale, scale) (an LCG: no dependency, the same weights on every run). */
function uniform(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 * 2 - 1) * scale;
  }
  return out;
}

/**
 * The object-score head's last bias. Random weights give object scores of either sign, and SAM2Long only keeps
 * memory frames whose object is present (score > 0): a positive bias keeps the bank as full as on a real
 * video. It stays inside SAM2Long's uncertainty band (|score| ≤ 2), where the tree keeps distinct candidates,
 * so the paths diverge (the costly case) instead of all following the best candidate.
 */
const OBJECT_PRESENT_BIAS = { key: 'sam_mask_decoder.pred_obj_score_head.layers.2.bias', value: 1 };

/**
 * Random values of a plausible scale for each official key: norm weights near 1, biases near 0,
 * matrices and kernels ±1/√fan_in, so activations stay in range through every layer.
 */
export function randomStateDict(shapes: ReadonlyMap<string, number[]>): Map<string, HostArray> {
  const sd = new Map<string, HostArray>();
  let seed = 1;
  for (const [key, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (key === OBJECT_PRESENT_BIAS.key) {
      data = new Float32Array(n).fill(OBJECT_PRESENT_BIAS.value);
    } else if (key.endsWith('.bias')) {
      data = uniform(n, seed, 0.02);
    } else if (shape.length === 1) {
      data = uniform(n, seed, 0.1).map((v) => 1 + v);
    } else {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      data = uniform(n, seed, 1 / Math.sqrt(fanIn));
    }
    seed++;
    sd.set(key, { shape, data });
  }
  return sd;
}

/** Every key and shape of an official checkpoint, from the golden skeleton list. */
export function officialShapes(name = 'sam2.1_hiera_tiny'): Map<string, number[]> {
  const all = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'skeletons/skeletons.json'), 'utf8')) as Record<string, { tensors: Record<string, number[]> }>;
  if (!all[name]) throw new Error(`no skeleton '${name}' in skeletons.json`);
  return new Map(Object.entries(all[name].tensors));
}

/** The official SAM 2.1 tiny config at `imageSize` (RoPE grids follow the feature size), with the video predictor's settings. */
export function tinyConfig(imageSize: number): Sam2ModelConfig {
  const model = officialModelSection('2.1', 'tiny');
  const side = imageSize / 16;
  const layer = model.memory_attention!.layer!;
  layer.self_attention!.feat_sizes = [side, side];
  layer.cross_attention!.feat_sizes = [side, side];
  return resolveModelConfig({ name: 'sam2.1_hiera_tiny', sam2_version: '2.1', model: { ...model, image_size: imageSize }, predictor_settings: PREDICTOR_DEFAULTS });
}

/** SAM 2.1 tiny with random weights (the whole official key set is consumed, as for a real checkpoint). */
export function randomTinyModel(imageSize: number): Sam2Model {
  return Sam2Model.fromStateDict(tinyConfig(imageSize), randomStateDict(officialShapes()), 'random sam2.1_hiera_tiny');
}

/** The golden mini SAM 2.1 model (real weights, 256 px). */
export function goldenMiniModel(): Promise<Sam2Model> {
  return loadSam2(path.join(GOLDEN, 'sam21_mini.pt'), { config: path.join(GOLDEN, 'sam21_mini.config.json') });
}

export async function benchModel(name: BenchModelName, imageSize: number): Promise<Sam2Model> {
  return name === 'mini' ? goldenMiniModel() : randomTinyModel(imageSize);
}

/** How many memory frames and pointers a full bank holds for this config. */
export function fullBank(cfg: Sam2ModelConfig): { frames: number; pointers: number; tokens: number; pointerTokens: number } {
  const { memoryTokensPerFrame, tokensPerPointer } = derivedSizes(cfg);
  const frames = cfg.num_maskmem;
  const pointers = cfg.max_obj_ptrs_in_encoder;
  const pointerTokens = pointers * tokensPerPointer;
  return { frames, pointers, pointerTokens, tokens: frames * memoryTokensPerFrame + pointerTokens };
}

/**
 * `rows` full memory banks of random stored memories: a conditioning frame and num_maskmem−1 recent frames,
 * max_obj_ptrs pointers. `weighted` gives each row SAM2Long-style key weights. Dispose with `disposeMemories`.
 */
export function randomFullMemories(cfg: Sam2ModelConfig, rows: number, weighted: boolean): ItemMemory[] {
  const { memoryTokensPerFrame: hw, memDim, hiddenDim } = derivedSizes(cfg);
  const bank = fullBank(cfg);
  let seed = 100;
  return Array.from({ length: rows }, (_, r) => ({
    frames: Array.from({ length: bank.frames }, (_, f) => ({
      features: tf.keep(tf.randomNormal([hw, memDim], 0, 1, 'float32', seed++)) as tf.Tensor2D,
      tpos: f === 0 ? 0 : f,
      keyWeight: weighted ? 0.95 + (0.1 * ((f + r) % bank.frames)) / (bank.frames - 1) : undefined,
    })),
    pointers: Array.from({ length: bank.pointers }, (_, p) => ({
      pointer: tf.keep(tf.randomNormal([hiddenDim], 0, 1, 'float32', seed++)) as tf.Tensor1D,
      tdiff: p + 1,
      keyWeight: weighted ? 1 : undefined,
    })),
  }));
}

export function disposeMemories(items: ItemMemory[]): void {
  for (const m of items) tf.dispose([...m.frames.map((f) => f.features), ...m.pointers.map((p) => p.pointer)]);
}

/** A disc moving across a striped background: frame i as 8-bit RGB, side×side. */
export class SyntheticVideo implements FrameProvider {
  readonly width: number;
  readonly height: number;

  constructor(readonly numFrames: number, readonly side: number) {
    this.width = this.height = side;
  }

  /** Where the disc is on frame i (centre x, y and radius, pixels): the prompt point of frame 0. */
  disc(i: number): { x: number; y: number; r: number } {
    const t = this.numFrames > 1 ? i / (this.numFrames - 1) : 0;
    return { x: this.side * (0.25 + 0.5 * t), y: this.side * (0.5 + 0.15 * Math.sin(2 * Math.PI * t)), r: this.side * 0.12 };
  }

  async input(i: number): Promise<tf.Tensor4D> {
    const s = this.side;
    const { x, y, r } = this.disc(i);
    const data = new Uint8Array(s * s * 3);
    for (let row = 0; row < s; row++) {
      for (let col = 0; col < s; col++) {
        const inside = (col - x) ** 2 + (row - y) ** 2 <= r * r;
        const o = (row * s + col) * 3;
        const stripe = ((col + row + i * 3) >> 4) & 1 ? 150 : 90;
        data[o] = inside ? 230 : stripe;
        data[o + 1] = inside ? 60 : stripe;
        data[o + 2] = inside ? 40 : 120;
      }
    }
    return normalizeFrame({ width: s, height: s, data });
  }

  async has(i: number): Promise<boolean> {
    return i >= 0 && i < this.numFrames;
  }

  name(i: number): string {
    return String(i).padStart(5, '0');
  }
}
