/**
 * Peak memory of `convert` on a full-size checkpoint. Writes a synthetic checkpoint with every key and shape
 * of an official variant (from its skeleton; default sam2.1_hiera_large, ~900 MB) and real, non-constant
 * float32 data, converts it in a child process, and reports the child's peak RSS against the file size
 * (the budget is 2.5×). It also checks a sample of the converted tensors against the data written.
 *
 *   npx tsx bench/convert-memory.ts [--variant sam2.1_hiera_tiny] [--keep]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openSafetensors, openTorchCheckpoint } from '../src/node/files.js';
import { convertCheckpoint } from '../tools/convert.js';
import { ZipWriter, stateDictPickle, type StorageDecl, type TensorSpec } from '../test/helpers/torch-save.js';

const BUDGET = 2.5;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKELETONS = path.join(REPO, 'test/fixtures/golden/skeletons');

/** Deterministic float32 data: element i of tensor t is a function of (t, i), and no two tensors are alike. */
function tensorChunks(t: number, numel: number): () => Iterable<Uint8Array> {
  const chunkElements = 1 << 18;
  return function* () {
    const chunk = new Float32Array(Math.min(chunkElements, numel));
    for (let start = 0; start < numel; start += chunkElements) {
      const n = Math.min(chunkElements, numel - start);
      for (let i = 0; i < n; i++) chunk[i] = Math.sin(t * 7.1 + (start + i) * 0.001) * 0.05;
      yield new Uint8Array(chunk.buffer, 0, n * 4);
    }
  };
}

async function writeSyntheticCheckpoint(variant: string, file: string): Promise<Map<string, number[]>> {
  const skeleton = await openTorchCheckpoint(path.join(SKELETONS, `${variant}.skeleton.pt`));
  const shapes = skeleton.shapes();
  skeleton.close();
  const keys = [...shapes.keys()];
  const storages: StorageDecl[] = keys.map((k, i) => ({ key: String(i), type: 'FloatStorage', numel: shapes.get(k)!.reduce((a, b) => a * b, 1) }));
  const tensors: TensorSpec[] = keys.map((k, i) => ({ name: k, storage: String(i), shape: shapes.get(k)! }));
  const fd = fs.openSync(file, 'w');
  try {
    const zip = new ZipWriter({ write: (chunk) => fs.writeSync(fd, chunk) });
    const archive = path.basename(file, '.pt');
    zip.add(`${archive}/data.pkl`, [stateDictPickle(storages, tensors)]);
    zip.add(`${archive}/byteorder`, [new TextEncoder().encode('little')]);
    storages.forEach((s, i) => zip.add(`${archive}/data/${s.key}`, tensorChunks(i, s.numel)));
    zip.add(`${archive}/version`, [new TextEncoder().encode('3\n')]);
    zip.finish();
  } finally {
    fs.closeSync(fd);
  }
  return shapes;
}

/** Child mode: convert and print the peak RSS (bytes) as JSON. */
async function child(input: string, outDir: string): Promise<void> {
  const started = performance.now();
  const result = await convertCheckpoint({ input, outDir });
  console.log(JSON.stringify({ maxRss: process.resourceUsage().maxRSS * 1024, seconds: (performance.now() - started) / 1000, size: result.size }));
}

function checkSample(outFile: string, shapes: Map<string, number[]>): void {
  const out = openSafetensors(outFile);
  try {
    const keys = [...shapes.keys()];
    for (const i of [0, Math.floor(keys.length / 2), keys.length - 1]) {
      const written = Buffer.from(out.rawBytes(keys[i]));
      let at = 0;
      for (const chunk of tensorChunks(i, written.byteLength / 4)()) {
        if (!written.subarray(at, at + chunk.byteLength).equals(chunk)) throw new Error(`converted '${keys[i]}' differs from the data written`);
        at += chunk.byteLength;
      }
    }
  } finally {
    out.close();
  }
}

async function parent(variant: string, keep: boolean): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-bench-'));
  try {
    const input = path.join(dir, `${variant}.pt`);
    let t = performance.now();
    const shapes = await writeSyntheticCheckpoint(variant, input);
    const size = fs.statSync(input).size;
    console.log(`synthetic ${variant}: ${(size / 2 ** 20).toFixed(0)} MiB written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    const report = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', input, dir], { cwd: REPO, encoding: 'utf8' }).trim().split('\n').at(-1)!);
    checkSample(path.join(dir, `${variant}.safetensors`), shapes);
    const ratio = report.maxRss / size;
    console.log(`convert: ${report.seconds.toFixed(1)} s, detected size '${report.size}', peak RSS ${(report.maxRss / 2 ** 20).toFixed(0)} MiB = ${ratio.toFixed(2)}× the checkpoint (budget ${BUDGET}×)`);
    if (ratio > BUDGET) process.exitCode = 1;
  } finally {
    if (keep) console.log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

const { values, positionals } = parseArgs({
  options: { variant: { type: 'string', default: 'sam2.1_hiera_large' }, keep: { type: 'boolean', default: false }, child: { type: 'boolean', default: false } },
  allowPositionals: true,
});
if (values.child) await child(positionals[0], positionals[1]);
else await parent(values.variant!, values.keep!);
