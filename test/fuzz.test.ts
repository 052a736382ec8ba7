import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readTorchCheckpoint } from '../src/io/torch-checkpoint.js';
import { openZipArchive } from '../src/io/zip-archive.js';
import { SafetensorsReader, encodeSafetensors, memorySource, safeDtypeOf, hostTensorBytes } from '../src/io/safetensors.js';
import { CheckpointFormatError, UnsafeCheckpointError } from '../src/errors.js';
import { fixturePath } from './helpers/golden.js';
import { PickleWriter, torchSaveBytes } from './helpers/torch-save.js';

const CASES_PER_FORMAT = 1000;

/** mulberry32: a small seeded generator, so every failure is reproducible from its case number. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Region {
  start: number;
  end: number;
}

/** A mutated copy (never a view: the base is reused): a few random bytes changed inside `region` (when given) or anywhere, or a truncation. */
function mutate(base: Uint8Array, rand: () => number, regions: Region[]): { bytes: Uint8Array; what: string } {
  const int = (n: number) => Math.floor(rand() * n);
  if (rand() < 0.2) {
    const length = int(base.byteLength);
    return { bytes: new Uint8Array(base.subarray(0, length)), what: `truncated to ${length}` };
  }
  const bytes = new Uint8Array(base);
  const region = regions[int(regions.length)];
  const changes = 1 + int(8);
  for (let i = 0; i < changes; i++) {
    const at = region.start + int(region.end - region.start);
    bytes[at] = rand() < 0.5 ? int(256) : bytes[at] ^ (1 << int(8));
  }
  return { bytes, what: `${changes} byte(s) in [${region.start}, ${region.end})` };
}

/** Loads everything (index and every tensor); returns 'loaded' or the refusing error's class name. */
async function outcome(load: () => Promise<void>, label: string): Promise<string> {
  try {
    await load();
    return 'loaded';
  } catch (err) {
    if (err instanceof CheckpointFormatError || err instanceof UnsafeCheckpointError) return err.constructor.name;
    throw new Error(`${label}: escaped as ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack ?? err}`);
  }
}

function tally(results: string[]): Record<string, number> {
  return results.reduce<Record<string, number>>((t, r) => ({ ...t, [r]: (t[r] ?? 0) + 1 }), {});
}

describe('fuzzing the checkpoint readers', function () {
  let pt: Uint8Array;
  let safetensors: Uint8Array;
  let ptRegions: Region[];

  before(async () => {
    pt = new Uint8Array(fs.readFileSync(fixturePath('sam2_mini.pt')));
    const ck = await readTorchCheckpoint(memorySource(pt), 'sam2_mini.pt');
    const tensors = ck.names.map((name) => {
      const t = ck.read(name);
      return { name, dtype: safeDtypeOf(t), shape: t.shape, bytes: hostTensorBytes(t) };
    });
    safetensors = new Uint8Array(Buffer.concat(encodeSafetensors(tensors, { source: 'sam2_mini.pt' })));
    // Random positions mostly hit tensor data; aim half the mutations at the pickle and the zip directory.
    const zip = await openZipArchive(memorySource(pt), 'sam2_mini.pt');
    const pkl = zip.entry('sam2_mini/data.pkl');
    const firstStorage = Math.min(...[...zip.entries.values()].filter((e) => e.name.includes('/data/')).map((e) => e.dataStart));
    const lastData = Math.max(...[...zip.entries.values()].map((e) => e.dataStart + e.compressedSize));
    ptRegions = [
      { start: 0, end: pt.byteLength },
      { start: pkl.dataStart - 64, end: pkl.dataStart + pkl.size },
      { start: pkl.dataStart + pkl.size, end: firstStorage },
      { start: lastData, end: pt.byteLength },
    ];
  });

  it(`${CASES_PER_FORMAT} mutated / truncated .pt files: each loads or is refused with a typed error`, async () => {
    const results: string[] = [];
    for (let i = 0; i < CASES_PER_FORMAT; i++) {
      const { bytes, what } = mutate(pt, random(i), ptRegions);
      // CPU time, not wall time: a loaded machine must not fail the test, a runaway loop must.
      const started = process.cpuUsage();
      results.push(await outcome(async () => {
        const ck = await readTorchCheckpoint(memorySource(bytes), `case ${i}`);
        for (const name of ck.names) ck.read(name);
      }, `pt case ${i} (${what})`));
      const { user, system } = process.cpuUsage(started);
      assert.ok(user + system < 5e6, `pt case ${i} (${what}) took ${((user + system) / 1e6).toFixed(1)} s of CPU`);
    }
    const counts = tally(results);
    console.log(`      .pt: ${JSON.stringify(counts)}`);
    assert.ok(counts.CheckpointFormatError > 0 && counts.loaded > 0);
  });

  it(`${CASES_PER_FORMAT} mutated / truncated safetensors files: each loads or is refused with a typed error`, async () => {
    const headerEnd = 8 + Number(new DataView(safetensors.buffer, safetensors.byteOffset).getBigUint64(0, true));
    const regions = [{ start: 0, end: safetensors.byteLength }, { start: 0, end: 8 }, { start: 8, end: headerEnd }];
    const results: string[] = [];
    for (let i = 0; i < CASES_PER_FORMAT; i++) {
      const { bytes, what } = mutate(safetensors, random(100_000 + i), regions);
      results.push(await outcome(async () => {
        const reader = new SafetensorsReader(memorySource(bytes), `case ${i}`);
        for (const name of reader.names) reader.read(name);
      }, `safetensors case ${i} (${what})`));
    }
    const counts = tally(results);
    console.log(`      safetensors: ${JSON.stringify(counts)}`);
    assert.ok(counts.CheckpointFormatError > 0 && counts.loaded > 0);
  });
});

describe('hostile pickles', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-hostile-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** `module.name(argument)` as GLOBAL + REDUCE: what a malicious torch.save file does. */
  function callPickle(module: string, name: string, argument: string, stackGlobal = false): Uint8Array {
    const w = new PickleWriter().proto();
    if (stackGlobal) w.str(module).str(name).raw(0x93);
    else w.global(module, name);
    return w.mark().str(argument).tuple().reduce().stop().toBytes();
  }

  function refuses(bytes: Uint8Array, re: RegExp) {
    return assert.rejects(readTorchCheckpoint(memorySource(torchSaveBytes([], [], { pickle: bytes })), 'hostile.pt'),
      (e: unknown) => e instanceof UnsafeCheckpointError && re.test((e as Error).message));
  }

  it('refuses os.system / posix.system / builtins.eval / subprocess, and the command never runs', async () => {
    const marker = path.join(dir, 'pwned');
    const command = `touch ${marker}`;
    const payloads = [
      callPickle('os', 'system', command),
      callPickle('posix', 'system', command),
      callPickle('builtins', 'eval', `__import__('os').system('${command}')`),
      callPickle('builtins', 'exec', `import os; os.system('${command}')`, true),
      callPickle('subprocess', 'check_call', command),
    ];
    for (const p of payloads) await refuses(p, /global (os\.system|posix\.system|builtins\.eval|builtins\.exec|subprocess\.check_call) is not allowed/);
    assert.ok(!fs.existsSync(marker), 'a payload ran');

    // The same bytes are live: Python's own pickle runs the command (checked only where python3 exists).
    const payloadFile = path.join(dir, 'payload.pkl');
    fs.writeFileSync(payloadFile, payloads[0]);
    const python = spawnSync('python3', ['-c', 'import pickle, sys; pickle.load(open(sys.argv[1], "rb"))', payloadFile]);
    if (python.status === 0) assert.ok(fs.existsSync(marker), 'the payload should work under Python');
  });

  it('refuses a hostile global even where a tensor is expected, and calls of allowed non-callables', async () => {
    const inside = new PickleWriter().proto().emptyDict().str('model').emptyDict().str('w');
    inside.global('os', 'system').mark().str('true').tuple().reduce().setitem().setitem().stop();
    await refuses(inside.toBytes(), /global os\.system is not allowed/);
    const storageCall = new PickleWriter().proto().global('torch', 'FloatStorage').mark().int(4).tuple().reduce().stop();
    await refuses(storageCall.toBytes(), /REDUCE on torch\.FloatStorage is not allowed/);
    const buildOnList = new PickleWriter().proto().emptyList().emptyDict().build().stop();
    await refuses(buildOnList.toBytes(), /BUILD \(setstate\) on list/);
    const inst = new PickleWriter().proto().mark().raw(0x69, ...new TextEncoder().encode('os\nsystem\n')).stop();
    await refuses(inst.toBytes(), /opcode 0x69 builds arbitrary objects/);
    const subclass = new PickleWriter().proto().global('torch._tensor', '_rebuild_from_type_v2').mark();
    subclass.global('torch._utils', '_rebuild_tensor_v2').global('evil', 'Tensor').emptyTuple().emptyDict().tuple().reduce().stop();
    await refuses(subclass.toBytes(), /global evil\.Tensor is not allowed/);
  });
});
