/** The printed tables of the benchmark suite. */
import type { ModelBenchResult, UnitResult } from './model-bench.js';
import { TARGET_RATIO } from './reference.js';
import type { VideoBenchResult } from './video-bench.js';

const MB = 2 ** 20;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const num = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const mb = (bytes: number | null | undefined) => (bytes == null ? '-' : num(bytes / MB));

export function modelTitle(model: string, imageSize: number): string {
  return model === 'mini' ? 'golden mini SAM 2.1 (256 px, real weights)' : `SAM 2.1 tiny (random weights) at ${imageSize} px`;
}

const count = (x: number | null | undefined, digits = 0) => (x == null ? '-' : num(x, digits));
const kib = (bytes: number | null | undefined) => (bytes == null ? '-' : num(bytes / 1024, 1));

/** `pytorchSource`: where the units' PyTorch times come from (`--pytorch FILE`); without it, absolute times only. */
export function formatModelBench(r: ModelBenchResult, pytorchSource?: string): string {
  const withTorch = r.units.some((u) => u.pytorchMs);
  const rows = r.units.map((u: UnitResult) => [
    u.label,
    num(u.ms),
    num(u.cpuMs),
    num(u.gflop, 1),
    num(u.executedGflop, 1),
    num(u.gflopPerS, 1),
    num(u.gflopPerCpuS, 1),
    ...(withTorch ? [
      u.pytorchMs ? num(u.pytorchMs) : '-',
      u.pytorchMs ? `${num(u.ms / u.pytorchMs, 2)}×` : '-',
      u.pytorchMs ? `${num(u.cpuMs / u.pytorchMs, 2)}×` : '-',
    ] : []),
    count(u.counts?.kernels),
    count(u.counts?.programs),
    count(u.counts?.reads),
    kib(u.counts?.readBytes),
    u.hotspots ? mb(u.hotspots.peakTensorBytes) : '-',
    mb(u.memoryAfter.maxRssBytes),
  ]);
  const lines = [
    `${modelTitle(r.model, r.imageSize)} on ${r.backend}: full bank = ${r.bank.frames} memory frames + ${r.bank.pointers} pointers (${num(r.bank.tokens)} memory tokens); ${num(r.parameters)} parameters, built in ${num(r.buildMs)} ms`,
    table(['unit', 'ms', 'cpu ms', 'GFLOP', 'exec GFLOP', 'GFLOP/s', 'GFLOP/cpu-s',
      ...(withTorch ? ['PyTorch ms', '×PyTorch', '×PyTorch (cpu)'] : []),
      'kernels', 'GPU programs', 'host reads', 'read KiB', 'peak tensors MB', 'peak RSS MB'], rows),
    `memory: tensors resident after build ${mb(r.memoryAfterBuild.tensorBytes)} MB; at the end RSS ${mb(r.memoryEnd.rssBytes)} MB, peak RSS ${mb(r.memoryEnd.maxRssBytes)} MB, wasm heap ${mb(r.memoryEnd.wasmHeapBytes)} MB`,
  ];
  const targets = r.units.filter((u) => u.pytorchMs && TARGET_RATIO[u.unit]);
  if (targets.length) {
    lines.push(`targets (issue 6): ${targets.map((u) => `${u.label.trim()} ${num(u.ms / u.pytorchMs!, 2)}× PyTorch (cpu time ${num(u.cpuMs / u.pytorchMs!, 2)}×; target ≤ ${TARGET_RATIO[u.unit]}×)`).join('; ')}`);
  }
  if (withTorch && pytorchSource) lines.push(`PyTorch figures: ${pytorchSource}`);
  return lines.join('\n');
}

/** The kernels that took the most time in each profiled unit. */
export function formatHotSpots(r: ModelBenchResult, top = 3): string {
  const lines = [`hot spots (${r.backend}, ${modelTitle(r.model, r.imageSize)}; one profiled run per unit):`];
  for (const u of r.units) {
    if (!u.hotspots) continue;
    const spots = u.hotspots.byShape.slice(0, top).map((s) => `${s.kernel} ${s.shapes} ${num(s.ms)} ms ×${s.calls} (${num(100 * s.share)}%)`);
    lines.push(`  ${u.label.trim()} (${num(u.hotspots.kernelMs)} cpu ms in kernels): ${spots.join('; ')}`);
  }
  return lines.join('\n');
}

export function formatVideoBench(r: VideoBenchResult): string {
  const greedy = r.runs.find((x) => x.mode === 'greedy');
  const rows = r.runs.map((x) => [
    x.mode,
    num(x.msPerFrame),
    greedy ? `${num(x.msPerFrame / greedy.msPerFrame, 2)}×` : '-',
    num(x.steadyMsPerFrame),
    num(x.steadyCpuMsPerFrame),
    greedy ? `${num(x.steadyMsPerFrame / greedy.steadyMsPerFrame, 2)}×` : '-',
    greedy ? `${num(x.steadyCpuMsPerFrame / greedy.steadyCpuMsPerFrame, 2)}×` : '-',
    num(x.decodedRowsPerFrame, 2),
    num(x.encodedRowsPerFrame, 2),
    x.memoryFramesPerPath === null ? '-' : num(x.memoryFramesPerPath, 2),
    count(x.countsPerFrame?.kernels),
    count(x.countsPerFrame?.programs),
    count(x.countsPerFrame?.reads, 1),
    kib(x.countsPerFrame?.readBytes),
    String(x.tensorsLeaked),
    mb(x.memoryAfter.maxRssBytes),
  ]);
  return [
    `per-frame video: ${modelTitle(r.model, r.imageSize)} on ${r.backend}, ${r.video} (steady = ${r.steadyRule === 'span mean' ? `total over frames ≥ ${r.steadyFrom} / their number (GPU: frames encoded in batches, read a frame late)` : `median of frames ≥ ${r.steadyFrom}, last excluded`}`
      + `${(r.runs[0]?.reps ?? 1) > 1 ? `; each frame the median of ${r.runs[0].reps} interleaved runs per mode` : ''})`,
    table(['mode', 'ms/frame', '×greedy', 'steady ms/frame', 'steady cpu ms/frame', 'steady ×greedy', 'steady ×greedy (cpu)', 'rows decoded/frame', 'rows encoded/frame', 'memory frames/path',
      'kernels/frame', 'GPU programs/frame', 'host reads/frame', 'read KiB/frame', 'leaked tensors', 'peak RSS MB'], rows),
    ...(r.p3OverGreedy !== null
      ? [`P=3 / greedy: ${num(r.p3OverGreedyAllFrames!, 2)}× over all tracked frames (ms/frame); steady ${num(r.p3OverGreedy, 2)}× wall, ${num(r.p3OverGreedyCpu!, 2)}× cpu time`]
      : []),
  ].join('\n');
}

/** A warning when other processes compete for the cores: wall times are then inflated, CPU times are not. */
export function loadWarning(loadAverage: number, cores: number): string | null {
  return loadAverage > cores
    ? `note: load average ${num(loadAverage, 1)} on ${cores} cores during the run: wall times (ms) are inflated by other processes; cpu ms is this process's own compute time`
    : null;
}
