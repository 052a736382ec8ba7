/**
 * The benchmark suite (`npm run bench`; not part of `npm test`). See bench/README.md.
 *
 *   npm run bench                  SAM 2.1 tiny (random weights) at 1024 and 512 px on wasm (and on the backend
 *                                  the library picks by itself, when another): per-module and per-frame timings,
 *                                  GFLOP/s, memory, hot spots; per-frame video timings (greedy, P=1, 3, 5) on the
 *                                  golden mini model and on tiny at 256 px with a synthetic video. JSON to bench/results/.
 *   npm run bench -- --quick       the golden mini model only: everything on wasm, the modules on cpu (CI smoke,
 *                                  ~25 s); no JSON unless --out.
 *
 * Options: --sizes 1024,512  --backends wasm,cpu  --paths 3  --reps N  --warmup N  --video-size 256
 *          --video-frames 14  --video-modes greedy,1,3,5  --video-reps N  --video-models mini,tiny  --no-model  --no-video  --out DIR
 *          --pytorch FILE (the JSON lines of ../shared/perf/reference/sam2_bench.py, run in the same session:
 *          ratios against PyTorch are printed only with it)
 * Every job runs in a Node process of its own, so its peak RSS is its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { BACKEND_NAMES, initBackend, webGpuAdapter, type BackendName, type WebGpuAdapterSummary } from '../src/node/backend.js';
import { modelFlops, total } from './flops.js';
import { MODULE_UNITS, benchModelUnits, type ModelBenchResult, type UnitName } from './model-bench.js';
import { applyReference, readPytorchReference, type PytorchReference } from './reference.js';
import { formatHotSpots, formatModelBench, formatVideoBench, loadWarning } from './report.js';
import { REPO, fullBank, tinyConfig, type BenchModelName } from './synthetic.js';
import { benchVideo, type VideoBenchResult, type VideoMode } from './video-bench.js';

/** The pure-JS cpu backend's throughput (perf README): what makes it impractical at real sizes. */
const CPU_GFLOP_PER_S = 0.3;
/** Frames of video1 the --quick video benchmark tracks. */
const QUICK_VIDEO_FRAMES = 10;
/** The cpu backend runs real sizes only when asked for by name. */
const CPU_MAX_DEFAULT_SIZE = 256;

type Job =
  | { kind: 'model'; model: BenchModelName; imageSize: number; backend: BackendName; paths: number; reps: number; warmup: number; units?: UnitName[] }
  | { kind: 'video'; model: BenchModelName; imageSize: number; backend: BackendName; frames: number; modes: VideoMode[]; reps: number };

type JobResult = {
  job: Job; model?: ModelBenchResult; video?: VideoBenchResult; wasmThreads?: number; webgpuAdapter?: WebGpuAdapterSummary | null; error?: string;
};

/** Threads of the job's wasm backend (multi-threaded XNNPACK; SAM2LONG_WASM_THREADS sets them), else none. */
function wasmThreads(): number | undefined {
  return tf.getBackend() === 'wasm' ? getThreadsCount() : undefined;
}

const THIS_FILE = fileURLToPath(import.meta.url);

async function runJob(job: Job): Promise<ModelBenchResult | VideoBenchResult> {
  await initBackend(job.backend);
  const log = (line: string) => console.log(line);
  if (job.backend === 'wasm') log(`wasm threads: ${wasmThreads()}`);
  if (job.kind === 'model') return benchModelUnits({ ...job, log });
  return benchVideo({ ...job, log });
}

/** Runs `job` in a child process and reads back its result. */
function spawnJob(job: Job): JobResult {
  const resultFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-bench-')), 'result.json');
  const where = job.model === 'mini' ? 'mini' : `tiny ${job.imageSize} px`;
  console.log(`\n== ${job.kind} benchmark: ${where} on ${job.backend}`);
  // This process's own Node flags: tsx's loader under `npm run bench`, none in the device machine's bundle.
  const child = spawnSync(process.execPath, [...process.execArgv, THIS_FILE, '--job', JSON.stringify(job), '--result', resultFile], {
    cwd: REPO, stdio: 'inherit',
  });
  try {
    if (child.status !== 0) return { job, error: `exit ${child.status ?? child.signal}` };
    const { wasmThreads: threads, webgpuAdapter: adapter, ...result } = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
    const context = { job, wasmThreads: threads, webgpuAdapter: adapter };
    return job.kind === 'model' ? { ...context, model: result } : { ...context, video: result };
  } finally {
    fs.rmSync(path.dirname(resultFile), { recursive: true, force: true });
  }
}

/**
 * Where the results come from. A copy of the tree sent to another machine (bench/device/) is told its commit
 * and whether tracked files differed from it (SAM2LONG_COMMIT, SAM2LONG_DIRTY=1): git there, if any, would
 * see a partial tree.
 */
function machine() {
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  const sent = process.env.SAM2LONG_COMMIT;
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    /** 1, 5 and 15 min load averages when the results were written: above the core count, timings are inflated. */
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    tfjs: tf.version_core,
    commit: sent ?? git(['rev-parse', 'HEAD']),
    dirty: sent ? process.env.SAM2LONG_DIRTY === '1' : (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
  };
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** The integer option `--name`, checked to be ≥ min (a typo fails here, not deep inside a job). */
function integer(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer ≥ ${min}, found '${text}'`);
  return n;
}

/**
 * The jobs the options ask for. Without --backends: wasm, and `best` (the backend the library picks by itself)
 * when it is another one (tensorflow with tfjs-node installed, webgpu on a hardware GPU); cpu only where it
 * finishes in reasonable time (what is left out is listed in `skipped`).
 */
function planJobs(values: Record<string, string | boolean | undefined>, best: BackendName): { jobs: Job[]; skipped: string[] } {
  const quick = values.quick === true;
  const paths = integer('paths', values.paths as string, 1);
  const modes = list(values['video-modes'] as string).map((m): VideoMode => (m === 'greedy' ? 'greedy' : integer('video-modes', m, 1)));
  const named = values.backends !== undefined;
  const backends = (named ? list(values.backends as string) : quick ? ['wasm', 'cpu'] : ['wasm', ...(best !== 'wasm' && best !== 'cpu' ? [best] : [])]) as BackendName[];
  for (const b of backends) if (!(BACKEND_NAMES as readonly string[]).includes(b)) throw new Error(`unknown backend '${b}'`);
  const jobs: Job[] = [];
  const skipped: string[] = [];
  // At 1024 px one run takes seconds to minutes: the profiled run is the only warm-up and one timed run follows.
  const reps = (size: number) => (values.reps !== undefined ? integer('reps', values.reps as string, 1) : size > 512 ? 1 : 3);
  const warmup = (size: number) => (values.warmup !== undefined ? integer('warmup', values.warmup as string, 0) : size > 512 ? 0 : 1);
  // The golden video takes seconds a run: 3 interleaved runs per mode steady its ratios on a shared machine.
  const videoReps = (model: BenchModelName) => (values['video-reps'] !== undefined ? integer('video-reps', values['video-reps'] as string, 1) : model === 'mini' && !quick ? 3 : 1);
  const runsHere = (backend: BackendName, size: number, what: string, gflop: number) => {
    if (backend !== 'cpu' || named || size <= CPU_MAX_DEFAULT_SIZE) return true;
    skipped.push(`cpu backend, ${what}: ~${Math.round(gflop / CPU_GFLOP_PER_S / 60)} min for one pass at ${CPU_GFLOP_PER_S} GFLOP/s (pass --backends cpu to run it)`);
    return false;
  };
  if (quick) {
    // One timed run after the profiled one, the first QUICK_VIDEO_FRAMES frames of video1; cpu (~50× slower) times the modules only.
    for (const backend of backends) {
      const cpu = backend === 'cpu' && !named;
      if (values['no-model'] !== true) {
        jobs.push({ kind: 'model', model: 'mini', imageSize: 256, backend, paths, reps: 1, warmup: cpu ? 0 : 1, ...(cpu ? { units: MODULE_UNITS } : {}) });
      }
      if (values['no-video'] !== true && !cpu) jobs.push({ kind: 'video', model: 'mini', imageSize: 256, backend, frames: QUICK_VIDEO_FRAMES, modes, reps: videoReps('mini') });
    }
    if (!named) skipped.push('cpu backend in --quick: frames and video (pass --backends cpu to run them)');
    return { jobs, skipped };
  }
  const allBackends = named ? backends : [...backends, 'cpu' as BackendName];
  if (values['no-model'] !== true) {
    for (const size of list(values.sizes as string).map((x) => integer('sizes', x, 1))) {
      const cfg = tinyConfig(size);
      const bank = fullBank(cfg);
      const f = modelFlops(cfg, bank.tokens, bank.pointerTokens, paths, 'reference');
      const gflop = (total(f.imageEncoder) * 2 + total(f.memoryAttention) * 2 + total(f.greedyFrame) + total(f.treeFrame)) / 1e9;
      for (const backend of allBackends) {
        if (runsHere(backend, size, `tiny model benchmark at ${size} px`, gflop)) jobs.push({ kind: 'model', model: 'tiny', imageSize: size, backend, paths, reps: reps(size), warmup: warmup(size) });
      }
    }
  }
  if (values['no-video'] !== true) {
    const size = integer('video-size', values['video-size'] as string, 1);
    const frames = integer('video-frames', values['video-frames'] as string, 2);
    tinyConfig(size); // a ConfigError now for a size the model cannot take
    const models = list(values['video-models'] as string);
    for (const m of models) if (m !== 'mini' && m !== 'tiny') throw new Error(`--video-models: expected mini and/or tiny, found '${m}'`);
    for (const backend of backends) {
      if (models.includes('mini')) jobs.push({ kind: 'video', model: 'mini', imageSize: 256, backend, frames: 0, modes, reps: videoReps('mini') });
      if (models.includes('tiny')) jobs.push({ kind: 'video', model: 'tiny', imageSize: size, backend, frames, modes, reps: videoReps('tiny') });
    }
    if (!named) skipped.push('cpu backend, video benchmarks (the mini model runs on cpu with --quick)');
  }
  return { jobs, skipped };
}

/**
 * bench/results/<date>-<backend>[x<threads>]-<size or 'mini'>[-quick].json, one per backend and model size
 * (x2: wasm on two threads).
 */
function writeResults(outDir: string, results: JobResult[], skipped: string[], quick: boolean, reference: PytorchReference | null): string[] {
  const date = new Date().toISOString().slice(0, 10);
  const groups = new Map<string, JobResult[]>();
  for (const r of results) {
    const threads = (r.wasmThreads ?? 1) > 1 ? `x${r.wasmThreads}` : '';
    const key = `${r.job.backend}${threads}-${r.job.model === 'mini' ? 'mini' : r.job.imageSize}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const info = machine();
  return [...groups].map(([key, rs]) => {
    const file = path.join(outDir, `${date}-${key}${quick ? '-quick' : ''}.json`);
    fs.writeFileSync(file, `${JSON.stringify({
      date: new Date().toISOString(),
      machine: info,
      backend: rs[0].job.backend,
      wasmThreads: rs[0].wasmThreads ?? null,
      // Which GPU the timings are of (a software adapter's say little), as Dawn describes it.
      webgpuAdapter: rs.find((r) => r.webgpuAdapter)?.webgpuAdapter ?? null,
      model: rs[0].job.model,
      imageSize: rs[0].job.imageSize,
      flops: 'analytic, bench/flops.ts: 2 per multiply-add of products and convolutions; gflop = official algorithm, executedGflop = ours',
      pytorchReference: reference?.source ?? null,
      modelBench: rs.find((r) => r.model)?.model ?? null,
      videoBench: rs.find((r) => r.video)?.video ?? null,
      errors: rs.filter((r) => r.error).map((r) => ({ job: r.job, error: r.error })),
      skipped,
    }, null, 1)}\n`);
    return file;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      sizes: { type: 'string', default: '1024,512' },
      backends: { type: 'string' },
      paths: { type: 'string', default: '3' },
      reps: { type: 'string' },
      warmup: { type: 'string' },
      'video-size': { type: 'string', default: '256' },
      'video-frames': { type: 'string', default: '14' },
      'video-modes': { type: 'string', default: 'greedy,1,3,5' },
      'video-reps': { type: 'string' },
      'video-models': { type: 'string', default: 'mini,tiny' },
      'no-model': { type: 'boolean', default: false },
      'no-video': { type: 'boolean', default: false },
      out: { type: 'string' },
      pytorch: { type: 'string' },
      job: { type: 'string' },
      result: { type: 'string' },
    },
  });
  if (values.job) {
    const result = await runJob(JSON.parse(values.job) as Job);
    fs.writeFileSync(values.result as string, JSON.stringify({ ...result, wasmThreads: wasmThreads(), webgpuAdapter: webGpuAdapter() }));
    return;
  }
  const started = performance.now();
  const reference = values.pytorch ? readPytorchReference(values.pytorch, integer('paths', values.paths as string, 1)) : null;
  const { jobs, skipped } = planJobs(values, values.quick || values.backends ? 'wasm' : await initBackend());
  const results: JobResult[] = [];
  for (const job of jobs) {
    const r = spawnJob(job);
    results.push(r);
    const warning = loadWarning(os.loadavg()[0], os.cpus().length);
    if (r.model && reference) applyReference(r.model, reference);
    if (r.model) console.log(`\n${formatModelBench(r.model, reference?.source)}\n\n${formatHotSpots(r.model)}`);
    if (r.video) console.log(`\n${formatVideoBench(r.video)}`);
    if (warning && !r.error) console.log(warning);
    if (r.error) console.log(`FAILED: ${r.error}`);
  }
  console.log(`\n== done in ${(performance.now() - started) / 1000 | 0} s (load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores)`);
  for (const s of skipped) console.log(`skipped: ${s}`);
  const out = values.out ?? (values.quick ? undefined : path.join(REPO, 'bench/results'));
  if (out) for (const file of writeResults(out, results, skipped, values.quick === true, reference)) console.log(`wrote ${path.relative(process.cwd(), file)}`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  // Said in one line: left uncaught, the error would reach the wasm glue's handler, which prints its source.
  console.error(`bench: ${(err as Error).name}: ${(err as Error).message}`);
  process.exitCode = 2;
}
