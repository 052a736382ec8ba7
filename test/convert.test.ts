import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createHash } from 'node:crypto';
import { convertCheckpoint } from '../tools/convert.js';
import { COMMANDS, main } from '../tools/cli.js';
import type { Sam2ConfigFile } from '../src/config.js';
import { loadConfigFile } from '../src/node/load.js';
import { openSafetensors } from '../src/node/files.js';
import { ConfigError, exitCodeOf, outputError } from '../src/errors.js';
import { officialModelSection } from '../src/presets/official.js';
import { FIXTURES, fixturePath, goldenJson } from './helpers/golden.js';
import { quietly } from './helpers/console.js';

interface Manifest {
  models: Record<string, Record<string, { dtype: string; shape: number[]; sha256: string }>>;
}

const REPO = path.resolve(FIXTURES, '../../..');
const SHARED_GOLDEN = path.resolve(REPO, '../shared/golden');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');


describe('convert', () => {
  const manifest = goldenJson<Manifest>('model-manifest.json');
  let outDir: string;
  before(() => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-convert-'));
  });
  after(() => fs.rmSync(outDir, { recursive: true, force: true }));

  for (const model of Object.keys(manifest.models)) {
    const compareShared = fs.existsSync(path.join(SHARED_GOLDEN, `${model}.safetensors`));
    it(`${model}.pt --config → ${model}.safetensors bit for bit (manifest${compareShared ? ' and the shared golden file' : ''}) + config JSON`, async () => {
      const result = await convertCheckpoint({ input: fixturePath(`${model}.pt`), outDir, config: fixturePath(`${model}.config.json`) });
      assert.equal(result.name, model);
      assert.equal(result.size, 'custom');
      const expected = manifest.models[model];
      const converted = openSafetensors(result.safetensorsPath);
      const shared = compareShared ? openSafetensors(path.join(SHARED_GOLDEN, `${model}.safetensors`)) : null;
      try {
        assert.deepEqual(converted.names, Object.keys(expected));
        for (const [name, e] of Object.entries(expected)) {
          const entry = converted.entry(name);
          assert.deepEqual({ dtype: entry.dtype, shape: entry.shape }, { dtype: e.dtype, shape: e.shape }, name);
          const bytes = converted.rawBytes(name);
          assert.equal(sha256(bytes), e.sha256, `${name}: bytes differ from the manifest`);
          if (shared) {
            assert.deepEqual({ dtype: shared.entry(name).dtype, shape: shared.entry(name).shape }, { dtype: entry.dtype, shape: entry.shape });
            assert.ok(Buffer.from(shared.rawBytes(name)).equals(bytes), `${name}: bytes differ from the shared golden file`);
          }
        }
        if (shared) assert.deepEqual(shared.names, converted.names);
      } finally {
        converted.close();
        shared?.close();
      }

      const golden = goldenJson<Sam2ConfigFile>(`${model}.config.json`);
      assert.deepEqual(await loadConfigFile(result.configPath), {
        name: model, sam2_version: golden.sam2_version, model: golden.model, predictor_settings: golden.predictor_settings,
      });
      const numel = Object.values(expected).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
      assert.equal(result.parameters, numel);
      assert.equal(Object.values(result.parametersByModule).reduce((a, b) => a + b, 0), numel);
    });
  }

  it('refuses a checkpoint that is no official variant unless --config is given', async () => {
    await assert.rejects(convertCheckpoint({ input: fixturePath('sam21_mini.pt'), outDir }),
      (e: unknown) => e instanceof ConfigError && /^not an official SAM 2 variant: pass --config/.test((e as Error).message));
    await assert.rejects(convertCheckpoint({ input: fixturePath('sam21_mini.pt'), outDir, config: fixturePath('sam2_mini.config.json') }),
      (e: unknown) => e instanceof ConfigError && /does not fit the checkpoint/.test((e as Error).message));
    assert.ok(!fs.existsSync(path.join(outDir, 'sam21_mini.safetensors.partial')));
  });

  it('detects an official variant (sam2_hiera_tiny skeleton): preset config, every tensor written as F32', async function () {
    const skeletons = goldenJson<Record<string, { params: number; tensors: Record<string, number[]> }>>('skeletons/skeletons.json');
    const result = await convertCheckpoint({ input: fixturePath('skeletons/sam2_hiera_tiny.skeleton.pt'), outDir });
    try {
      assert.deepEqual([result.name, result.version, result.size], ['sam2_hiera_tiny', '2.0', 'tiny']);
      assert.equal(result.parameters, skeletons.sam2_hiera_tiny.params);
      assert.deepEqual(await loadConfigFile(result.configPath), { name: 'sam2_hiera_tiny', sam2_version: '2.0', model: officialModelSection('2.0', 'tiny') });
      const out = openSafetensors(result.safetensorsPath);
      try {
        assert.deepEqual(Object.fromEntries(out.names.map((n) => [n, out.entry(n).shape])), skeletons.sam2_hiera_tiny.tensors);
        assert.ok(out.names.every((n) => out.entry(n).dtype === 'F32'));
        assert.ok(out.read('image_encoder.trunk.pos_embed').data.every((v) => v === 0));
      } finally {
        out.close();
      }
    } finally {
      fs.rmSync(result.safetensorsPath);
    }
  });

  it('bin/sam2long.js convert prints the version, size and parameters per module', () => {
    const run = spawnSync(process.execPath, [
      path.join(REPO, 'bin/sam2long.js'), 'convert', fixturePath('sam2_mini.pt'), outDir, '--config', fixturePath('sam2_mini.config.json'), '--name', 'from_cli',
    ], { cwd: REPO, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^SAM 2\.0 \(custom config\): 368 tensors, [\d,]+ parameters/);
    for (const module of ['image_encoder', 'memory_attention', 'memory_encoder', 'sam_prompt_encoder', 'sam_mask_decoder', 'other']) {
      assert.match(run.stdout, new RegExp(`\\n  ${module} +[\\d,]+\\n`));
    }
    assert.ok(fs.existsSync(path.join(outDir, 'from_cli.safetensors')) && fs.existsSync(path.join(outDir, 'from_cli.json')));
  });

  it('CLI exit codes, one rule for every command: 0 done, 2 bad input or usage (missing or corrupt files), 1 a failure', async () => {
    assert.equal((await quietly(() => main(['--help']))).result, 0);
    assert.equal((await quietly(() => main(['convert', '--help']))).result, 0);
    const noConfig = await quietly(() => main(['convert', fixturePath('sam21_mini.pt'), outDir]));
    assert.equal(noConfig.result, 2);
    assert.match(noConfig.err, /sam2long convert: not an official SAM 2 variant: pass --config/);
    assert.equal((await quietly(() => main([]))).result, 2);
    assert.equal((await quietly(() => main(['frobnicate']))).result, 2);
    assert.equal((await quietly(() => main(['convert', 'only-one-arg']))).result, 2);
    assert.equal((await quietly(() => main(['convert', 'a', 'b', '--bogus']))).result, 2);
    // A missing file and a corrupt checkpoint: exit 2 from every command that reads them.
    const corrupt = path.join(outDir, 'corrupt.pt');
    fs.writeFileSync(corrupt, 'PK\x03\x04 this is not really a zip');
    const nothing = path.join(outDir, 'nothing.pt');
    const image = fixturePath('video1/frames/00000.jpg');
    for (const ckpt of [nothing, corrupt]) {
      const runs = [
        ['convert', ckpt, outDir],
        ['predict', '--model', ckpt, '--image', image, '--points', '1,1,1', '--out', path.join(outDir, 'm.png')],
        ['segment', '--model', ckpt, '--frames', fixturePath('video1/frames'), '--points', '1,1,1', '--out', path.join(outDir, 'seg'), '--quiet'],
      ];
      for (const argv of runs) {
        const r = await quietly(() => main(argv));
        assert.equal(r.result, 2, `${argv.join(' ')}: ${r.err}`);
        assert.match(r.err, /^sam2long \w+: [^\n]+\n$/, r.err);
      }
    }
    const noImage = await quietly(() => main(['predict', '--model', corrupt, '--image', nothing, '--points', '1,1,1', '--out', path.join(outDir, 'm.png')]));
    assert.equal(noImage.result, 2);
    const noGt = await quietly(() => main(['eval', '--gt', path.join(outDir, 'no-gt'), '--pred', outDir]));
    assert.equal(noGt.result, 2, noGt.err);
  });

  it('an unexpected error is one line asking for a report, exit 1 (SAM2LONG_DEBUG=1 adds the stack)', async () => {
    COMMANDS.crash = { summary: 'test', load: async () => ({ USAGE: 'usage: sam2long crash', run: async () => { throw new TypeError("Cannot read properties of undefined (reading 'x')"); } }) };
    try {
      const r = await quietly(() => main(['crash']));
      assert.equal(r.result, 1);
      assert.match(r.err, /^sam2long crash: unexpected error: TypeError: Cannot read properties of undefined \(reading 'x'\)\nThis is a bug in sam2long: please report it/);
      assert.doesNotMatch(r.err, /\n\s+at /);
      process.env.SAM2LONG_DEBUG = '1';
      const debug = await quietly(() => main(['crash']));
      assert.equal(debug.result, 1);
      assert.match(debug.err, /\n\s+at .*convert\.test\.ts/);
    } finally {
      delete process.env.SAM2LONG_DEBUG;
      delete COMMANDS.crash;
    }
  });

  it('a read-only folder: one line saying EROFS, also where the output directory must be created (Node\'s recursive mkdir says ENOENT there)', async () => {
    // A read-only file system as Node sees it (the test cannot mount one): under `readOnly`, every write and mkdir
    // fails with EROFS, except that a recursive mkdir fails with ENOENT, as Node 20's does on a read-only mount.
    const readOnly = fs.mkdtempSync(path.join(outDir, 'ro-'));
    const nodeFs = createRequire(import.meta.url)('node:fs') as typeof fs;
    const { mkdirSync, openSync } = nodeFs;
    const refuse = (code: string, p: fs.PathLike) => Object.assign(new Error(`${code}: simulated, '${String(p)}'`), { code });
    const under = (p: fs.PathLike) => path.resolve(String(p)).startsWith(readOnly + path.sep);
    nodeFs.mkdirSync = ((p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
      if (!under(p)) return mkdirSync(p, o);
      throw refuse(o?.recursive ? 'ENOENT' : 'EROFS', p);
    }) as typeof fs.mkdirSync;
    nodeFs.openSync = ((p: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode) => {
      if (under(p)) throw refuse('EROFS', p);
      return openSync(p, flags, mode);
    }) as typeof fs.openSync;
    syncBuiltinESMExports();
    try {
      for (const target of [path.join(readOnly, 'weights'), path.join(readOnly, 'a', 'b')]) {
        const r = await quietly(() => main(['convert', fixturePath('sam2_mini.pt'), target, '--config', fixturePath('sam2_mini.config.json')]));
        assert.equal(r.result, 1, r.err);
        assert.equal(r.err, `sam2long convert: cannot write '${target}': the file system is read-only (EROFS)\n`);
      }
      // An existing read-only directory: the first file cannot be created.
      const r = await quietly(() => main(['convert', fixturePath('sam2_mini.pt'), path.join(readOnly, '.'), '--config', fixturePath('sam2_mini.config.json')]));
      assert.equal(r.err, `sam2long convert: cannot write '${path.join(readOnly, 'sam2_mini.safetensors')}': the file system is read-only (EROFS)\n`);
    } finally {
      Object.assign(nodeFs, { mkdirSync, openSync });
      syncBuiltinESMExports();
    }
    assert.deepEqual(fs.readdirSync(readOnly), []);
  });

  it('a full disk: one line naming the file and ENOSPC, exit 1, and neither output file is left (nor a partial)', async () => {
    const dir = fs.mkdtempSync(path.join(outDir, 'full-'));
    for (const victim of ['sam2_mini.safetensors.partial', 'sam2_mini.json.partial']) {
      // /dev/full fails every write with ENOSPC: a disk that fills up at the weights, then at the config.
      fs.symlinkSync('/dev/full', path.join(dir, victim));
      const r = await quietly(() => main(['convert', fixturePath('sam2_mini.pt'), dir, '--config', fixturePath('sam2_mini.config.json')]));
      assert.equal(r.result, 1, r.err);
      assert.match(r.err, /^sam2long convert: cannot write '.*sam2_mini\.(safetensors|json)': no space left on the device \(ENOSPC\)\n$/);
      assert.deepEqual(fs.readdirSync(dir), [], victim);
    }
    const ok = await quietly(() => main(['convert', fixturePath('sam2_mini.pt'), dir, '--config', fixturePath('sam2_mini.config.json')]));
    assert.equal(ok.result, 0, ok.err);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['sam2_mini.json', 'sam2_mini.safetensors']);
    // The file-system errors a user can fix read as words; a read-only folder as EROFS.
    const erofs = Object.assign(new Error('EROFS: read-only file system, open \'x\''), { code: 'EROFS' });
    assert.equal(outputError('/mnt/x.json', erofs).message, "cannot write '/mnt/x.json': the file system is read-only (EROFS)");
    assert.equal(exitCodeOf(outputError('/mnt/x.json', erofs)), 1);
  });
});
