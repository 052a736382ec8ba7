/**
 * The peer to beat, measured, never remembered: the official SAM 2.1 tiny in PyTorch, run by
 * ../shared/perf/reference/sam2_bench.py on the same machine in the same session (`--pytorch FILE` takes its
 * JSON lines). Without such a file the bench prints absolute times only.
 */
import * as fs from 'node:fs';
import type { ModelBenchResult, UnitName } from './model-bench.js';

/** Issue 6, point 5: greedy frame ≤ 2.5× PyTorch, image encoder ≤ 2× (tiny, 1024 px, wasm). */
export const TARGET_RATIO: Partial<Record<UnitName, number>> = {
  imageEncoder: 2,
  greedyFrame: 2.5,
};

/** PyTorch's medians per unit (ms) from one reference run, and where they come from. */
export interface PytorchReference {
  source: string;
  /** SAM 2.1 tiny at 1024 px, the only model and size the reference script times. */
  ms: Partial<Record<UnitName, number>>;
}

type Line = { info?: Record<string, unknown>; size?: string; what?: string; median?: number; parts_median_s?: Record<string, number> };

/**
 * Reads sam2_bench.py's JSON lines: the image encoder, track_step of 1 row (greedy) and of `paths` rows
 * (the tree's batched step), with their memory attention / decoder / memory encoder parts. Frames are the
 * encoder plus the step, as the reference README adds them.
 */
export function readPytorchReference(file: string, paths: number): PytorchReference {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as Line);
  const info = lines.find((l) => l.info)?.info ?? {};
  const ms: Partial<Record<UnitName, number>> = {};
  const sec = (x: number | undefined) => (x === undefined ? undefined : x * 1000);
  const encoder = lines.find((l) => l.what?.startsWith('image encoder (forward_image'));
  const step = (b: number) => lines.find((l) => l.what === `track_step non-cond frame, full bank, batch B=${b}`);
  ms.imageEncoder = sec(encoder?.median);
  const one = step(1);
  if (one) {
    ms.greedyStep = sec(one.median);
    const parts = one.parts_median_s ?? {};
    ms.memoryAttention = sec(parts.memory_attention);
    if (parts.sam_mask_decoder !== undefined) ms.maskDecoder = sec(parts.sam_mask_decoder + (parts.sam_prompt_encoder ?? 0));
    ms.memoryEncoder = sec(parts.memory_encoder);
  }
  ms.treeStep = sec(step(paths)?.median);
  if (ms.imageEncoder !== undefined) {
    if (ms.greedyStep !== undefined) ms.greedyFrame = ms.imageEncoder + ms.greedyStep;
    if (ms.treeStep !== undefined) ms.treeFrame = ms.imageEncoder + ms.treeStep;
  }
  for (const key of Object.keys(ms) as UnitName[]) if (ms[key] === undefined) delete ms[key];
  if (Object.keys(ms).length === 0) throw new Error(`--pytorch ${file}: no measurement of sam2_bench.py found (JSON lines with 'what' and 'median')`);
  return { source: `${file}: official SAM 2.1 tiny, PyTorch ${String(info.torch ?? '?')}, ${String(info.threads ?? '?')} threads, 1024 px, measured with this run`, ms };
}

/** Sets each unit's PyTorch time where the reference measured it (SAM 2.1 tiny at 1024 px only). */
export function applyReference(result: ModelBenchResult, reference: PytorchReference): void {
  if (result.model !== 'tiny' || result.imageSize !== 1024) return;
  for (const u of result.units) u.pytorchMs = reference.ms[u.unit];
}
