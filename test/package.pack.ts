/**
 * The published package, as a user installs it (`npm run test:package`; CI runs it): `npm pack` of a copy of
 * this checkout (its prepack script builds dist/), unpacked into a fresh project beside exactly the packages
 * an install of its production dependencies brings (from package-lock.json, linked from this checkout's
 * node_modules: offline, and without tsx, webgpu or any other development dependency), then used through its
 * CLI, from ES modules and CommonJS, and from TypeScript without skipLibCheck.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturePath } from './helpers/golden.js';
import { startRedis } from './helpers/redis.js';

const ROOT = process.cwd();
/** What the package's `files`, its manifest and its build need. */
const PACK_INPUTS = ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'esm-only.cjs', 'bin', 'src', 'tools', 'tsconfig.json', 'tsconfig.build.json'];

interface Manifest {
  version: string;
  peerDependencies: Record<string, string>;
}

interface LockEntry { dev?: boolean; devOptional?: boolean; link?: boolean }

function run(command: string, args: string[], options: SpawnSyncOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, ...options });
  if (r.error) throw r.error;
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** The top-level packages a production install brings: the lockfile's entries not marked dev. */
function productionPackages(): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  return Object.entries(lock.packages)
    .filter(([key, e]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(key) && !e.dev && !e.devOptional && !e.link)
    .map(([key]) => key.slice('node_modules/'.length))
    .filter((name) => fs.existsSync(path.join(ROOT, 'node_modules', name)));
}

describe('the packed package, installed', function () {
  this.timeout(600_000);
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;
  let work: string;
  let project: string;
  let tarball: string;
  let files: string[];

  /** Runs a command in the user's project, with its node_modules/.bin on PATH as npm scripts have it. */
  const inProject = (command: string, args: string[], env: Record<string, string> = {}) => run(command, args, {
    cwd: project,
    env: { ...process.env, SAM2LONG_BACKEND: '', ...env, PATH: `${path.join(project, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}` },
  });

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-pack-'));
    const source = path.join(work, 'source');
    fs.mkdirSync(source);
    for (const entry of PACK_INPUTS) fs.cpSync(path.join(ROOT, entry), path.join(source, entry), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(source, 'node_modules'), 'dir');
    const pack = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: source });
    assert.equal(pack.status, 0, pack.stderr);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(work, info.filename);
    files = info.files.map((f) => f.path);

    project = path.join(work, 'project');
    const modules = path.join(project, 'node_modules');
    fs.mkdirSync(path.join(modules, 'sam2long'), { recursive: true });
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module', dependencies: { sam2long: manifest.version } }));
    const untar = run('tar', ['-xzf', tarball, '-C', path.join(modules, 'sam2long'), '--strip-components=1']);
    assert.equal(untar.status, 0, untar.stderr);
    for (const name of productionPackages()) {
      fs.mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
      fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name), 'dir');
    }
    fs.mkdirSync(path.join(modules, '.bin'));
    fs.symlinkSync('../sam2long/bin/sam2long.js', path.join(modules, '.bin/sam2long'));
  });

  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('ships the build, the licence and no source maps; installs without tsx or webgpu', () => {
    for (const file of ['LICENSE', 'README.md', 'package.json', 'esm-only.cjs', 'bin/sam2long.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/browser.js', 'dist/tools/cli.js']) {
      assert.ok(files.includes(file), `${file} is in the package`);
    }
    assert.deepEqual(files.filter((f) => f.endsWith('.map')), [], 'no source maps (their sources are not shipped)');
    assert.deepEqual(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources');
    assert.match(fs.readFileSync(path.join(project, 'node_modules/sam2long/LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
    for (const dev of ['tsx', 'webgpu', 'typescript']) {
      assert.ok(!fs.existsSync(path.join(project, 'node_modules', dev)), `${dev} is not installed with sam2long`);
    }
    const size = fs.statSync(tarball).size;
    console.log(`      ${path.basename(tarball)}: ${files.length} files, ${(size / 1024).toFixed(0)} KB`);
  });

  it('npx sam2long runs the compiled CLI: --version, convert, predict', () => {
    const version = inProject('npx', ['--offline', '--no-install', 'sam2long', '--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), manifest.version);

    const convert = inProject('npx', ['--offline', '--no-install', 'sam2long', 'convert', fixturePath('sam21_mini.pt'), 'weights', '--config', fixturePath('sam21_mini.config.json')]);
    assert.equal(convert.status, 0, convert.stderr);
    assert.match(convert.stdout, /wrote weights\/sam21_mini\.safetensors/);

    const predict = inProject('npx', ['--offline', '--no-install', 'sam2long', 'predict', '--model', 'weights/sam21_mini.safetensors',
      '--image', fixturePath('video1/frames/00000.jpg'), '--points', '46,128,1', '--out', 'mask.png']);
    assert.equal(predict.status, 0, predict.stderr);
    assert.match(predict.stdout, /^mask \d \(score [\d.]+\) → mask\.png$/m);
    assert.ok(fs.existsSync(path.join(project, 'mask.png')));
  });

  it('the compiled `vos --queue` and `worker` (tracking on a worker thread, no tsx) segment a dataset', async () => {
    const golden = fixturePath('vos/data');
    for (const [from, to, files] of [['JPEGImages/clipB', 'vos/JPEGImages/clipB', ['00000.jpg', '00001.jpg', '00002.jpg']], ['Annotations/clipB', 'vos/Annotations/clipB', ['00000.png']]] as const) {
      fs.mkdirSync(path.join(project, to), { recursive: true });
      for (const f of files) fs.copyFileSync(path.join(golden, from, f), path.join(project, to, f));
    }
    const redis = await startRedis();
    const env = { ...process.env, SAM2LONG_BACKEND: '' };
    const worker = spawn(process.execPath, [path.join(project, 'node_modules/sam2long/bin/sam2long.js'), 'worker', '--queue', redis.url],
      { cwd: project, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    worker.stderr?.on('data', (d) => { log += String(d); });
    const closed = new Promise<number | null>((resolve) => worker.once('close', (code) => resolve(code)));
    try {
      const vos = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(project, 'node_modules/sam2long/bin/sam2long.js'), 'vos', '--model', fixturePath('sam21_mini_b.pt'),
          '--config', fixturePath('sam21_mini_b.config.json'), '--videos', 'vos/JPEGImages', '--masks', 'vos/Annotations', '--out', 'vos-out',
          '--queue', redis.url, '--quiet'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => { out += String(d); });
        child.stderr.on('data', (d) => { err += String(d); });
        child.once('close', (code) => resolve({ code, out, err }));
      });
      assert.equal(vos.code, 0, `${vos.err}\n${log}`);
      assert.match(vos.out, /^1 video\(s\): 1 segmented, 0 already complete, 0 failed/m);
      assert.deepEqual(fs.readdirSync(path.join(project, 'vos-out/clipB')).filter((f) => f.endsWith('.png')).sort(), ['00000.png', '00001.png', '00002.png']);
      assert.match(log, /model loaded in/);
    } finally {
      worker.kill('SIGTERM');
      assert.equal(await closed, 0, log);
      await redis.stop();
    }
  });

  it('SAM2LONG_BACKEND=webgpu without the optional webgpu package names the line that installs it', () => {
    const r = inProject('npx', ['--offline', '--no-install', 'sam2long', 'predict', '--model', 'weights/sam21_mini.safetensors',
      '--image', fixturePath('video1/frames/00000.jpg'), '--points', '46,128,1', '--out', 'gpu.png'], { SAM2LONG_BACKEND: 'webgpu' });
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.includes(`npm install webgpu@${manifest.peerDependencies.webgpu}`), r.stderr);
  });

  it('import works; require() says the package is ES modules only', () => {
    const esm = inProject(process.execPath, ['--input-type=module', '-e', "const m = await import('sam2long'); console.log(typeof m.VideoPredictor, typeof m.initBackend);"]);
    assert.equal(esm.status, 0, esm.stderr);
    assert.equal(esm.stdout.trim(), 'function function');
    const cjs = inProject(process.execPath, ['--input-type=commonjs', '-e', "require('sam2long')"]);
    assert.notEqual(cjs.status, 0);
    assert.match(cjs.stderr, /sam2long is an ES module package and cannot be loaded with require\(\): use `import/);
    assert.doesNotMatch(cjs.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('a TypeScript project compiles against its types without skipLibCheck', () => {
    fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [] },
      include: ['main.ts'],
    }));
    fs.writeFileSync(path.join(project, 'main.ts'), [
      "import { VideoPredictor, ImagePredictor, initBackend, type FrameResult } from 'sam2long';",
      "import { initBrowserBackend, loadSam2FromUrl } from 'sam2long/browser';",
      'export async function track(file: string): Promise<number> {',
      '  const video = await VideoPredictor.fromCheckpoint(file, { tree: { pathways: 3 } });',
      "  const state = await video.initState('frames/');",
      '  let last: FrameResult | undefined;',
      '  for await (const r of video.propagate(state)) last = r;',
      '  return last?.frame ?? -1;',
      '}',
      'export const all = [ImagePredictor, initBackend, initBrowserBackend, loadSam2FromUrl];',
    ].join('\n'));
    const tsc = inProject(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.']);
    assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
  });
});
