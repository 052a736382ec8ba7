/**
 * The peer to beat: the official SAM 2.1 tiny in PyTorch on this kind of 2-core machine (CPU, 2 threads,
 * OpenBLAS, 1024 px, random weights), medians from ../shared/perf/README.md (±25%, shared machines), and the
 * targets of issue 6 derived from them.
 */
import type { UnitName } from './model-bench.js';

export const PYTORCH_SOURCE = '../shared/perf/README.md: official SAM 2.1 tiny, PyTorch 1.13 CPU, 2 threads, OpenBLAS, 1024 px';

/** Milliseconds per unit at 1024 px (the "step" units include the memory encoder, as the README's tracking step does). */
export const PYTORCH_TINY_1024_MS: Partial<Record<UnitName, number>> = {
  imageEncoder: 4300,
  memoryAttention: 6770,
  maskDecoder: 180,
  memoryEncoder: 290,
  greedyStep: 7270,
  greedyFrame: 11600,
  treeStep: 23000,
  treeFrame: 27300,
};

/** Issue 6, point 5: greedy frame ≤ 2.5× PyTorch, image encoder ≤ 2× (tiny, 1024 px, wasm). */
export const TARGET_RATIO: Partial<Record<UnitName, number>> = {
  imageEncoder: 2,
  greedyFrame: 2.5,
};

/** The PyTorch time of `unit`, where the benchmark corresponds to a measured one (tiny at 1024 px only). */
export function pytorchMs(model: string, imageSize: number, unit: UnitName): number | undefined {
  return model === 'tiny' && imageSize === 1024 ? PYTORCH_TINY_1024_MS[unit] : undefined;
}
