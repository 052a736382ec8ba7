/**
 * A program that uses the library as a user writes it, run as its own Node process: no `initBackend()` call,
 * and an error it does not catch.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixturePath } from './helpers/golden.js';

const INDEX = pathToFileURL(path.resolve('src/index.ts')).href;
const TFJS_CORE = import.meta.resolve('@tensorflow/tfjs-core');

/** Runs `source` (an ES module in TypeScript, outside the repository) with tsx in a fresh process. */
function runProgram(source: string): { status: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-program-'));
  try {
    const file = path.join(dir, 'program.mts');
    fs.writeFileSync(file, source);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, SAM2LONG_BACKEND: '' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('a program using the library', () => {
  it('the predictors\' factories start the default backend themselves (no initBackend call)', () => {
    const r = runProgram(`
import * as tf from '${TFJS_CORE}';
import { ImagePredictor } from '${INDEX}';
const image = await ImagePredictor.fromCheckpoint(${JSON.stringify(fixturePath('sam21_mini.pt'))}, { config: ${JSON.stringify(fixturePath('sam21_mini.config.json'))} });
await image.setImage(${JSON.stringify(fixturePath('video1/frames/00000.jpg'))});
const { scores } = await image.predict({ points: [[46, 128]], labels: [1] });
console.log('backend', tf.getBackend(), 'scores', scores.length);
`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^backend wasm scores 3$/m);
  });

  it('an uncaught library error prints its message and stack, not a line of tfjs-wasm\'s minified source, and exits 1', () => {
    const r = runProgram(`
import { ensureBackend, loadSam2 } from '${INDEX}';
await ensureBackend();
await loadSam2('no-such-checkpoint.safetensors');
`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /ConfigError: checkpoint 'no-such-checkpoint.safetensors' does not exist/);
    const longest = Math.max(...r.stderr.split('\n').map((l) => l.length));
    assert.ok(longest < 300, `stderr has a ${longest}-character line: ${r.stderr.slice(0, 300)}`);
    assert.doesNotMatch(r.stderr, /tfjs-backend-wasm/);
  });
});
