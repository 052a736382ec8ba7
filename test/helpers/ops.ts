/** Seeded weights for op-level comparisons of the model's building blocks across backends. */
import type { HostArray } from '../../src/model/weights.js';

/** Seeded values in [-1, 1). */
export function seededValues(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/**
 * A Linear 'lin' (40 → linearOut), a 3×3 conv 'conv' (8 → 16), a depthwise 7×7 'dw' (8), a LayerNorm 'norm' (40)
 * and a LayerNorm 'norm4' over 4 channels (the mask downsampler's first: averaged by matMul, affine regrouped).
 */
export function blockWeights(linearOut: number): Map<string, HostArray> {
  return new Map<string, HostArray>([
    ['lin.weight', { shape: [linearOut, 40], data: seededValues(linearOut * 40, 1) }],
    ['lin.bias', { shape: [linearOut], data: seededValues(linearOut, 2) }],
    ['conv.weight', { shape: [16, 8, 3, 3], data: seededValues(16 * 8 * 9, 3) }],
    ['conv.bias', { shape: [16], data: seededValues(16, 4) }],
    ['dw.weight', { shape: [8, 1, 7, 7], data: seededValues(8 * 49, 5) }],
    ['dw.bias', { shape: [8], data: seededValues(8, 6) }],
    ['norm.weight', { shape: [40], data: seededValues(40, 7) }],
    ['norm.bias', { shape: [40], data: seededValues(40, 8) }],
    ['norm4.weight', { shape: [4], data: seededValues(4, 12) }],
    ['norm4.bias', { shape: [4], data: seededValues(4, 13) }],
  ]);
}
