/**
 * README.md runs as written. Its blocks are run in order in a scratch copy of the repository (sources, bin,
 * fixtures; node_modules linked), as the README's own rules say (near its top):
 * - every ```sh block: each command must exit 0; the `# ` lines right under a command are output it prints
 *   (each must be a whole line of its stdout or stderr; `…` stands for any text);
 * - set-up and test commands (npm ci, npm test, npm run test:*, npm run build:demo, apt-get / dpkg lines) and
 *   servers (npm run demo) are not re-run;
 * - a block fenced ```sh norun (a real checkpoint, a GPU) is not run;
 * - a ```ts block whose fence names a file (```ts example.ts) is written to that file for the commands after it.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = process.cwd();
/** What the README's commands read: the CLI and library sources, the fixtures, the TypeScript config (tsx). */
const COPIED = ['package.json', 'tsconfig.json', 'bin', 'src', 'tools', 'test/fixtures', 'weights/README.md'];
/** Commands the README documents but this test does not run (set-up, tests, servers, the demo build). */
const NOT_RERUN = /^(npm (ci|test)\b|npm run (test(:\S+)?|demo|build:demo)(\s|$))|\b(apt-get|dpkg)\b/;

export interface ReadmeCommand {
  /** The command as bash runs it (continuation lines joined). */
  command: string;
  /** Lines it must print (`…` = any text). */
  output: string[];
  /** README.md line of the command. */
  line: number;
}

export type ReadmeStep =
  | { kind: 'commands'; commands: ReadmeCommand[]; line: number }
  | { kind: 'file'; file: string; text: string; line: number };

/** The runnable steps of a README, in order: sh blocks (norun ones left out) and ts blocks that name a file. */
export function readmeSteps(markdown: string): ReadmeStep[] {
  const lines = markdown.split('\n');
  const steps: ReadmeStep[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)(?:[ \t]+(\S.*))?$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const body = lines.slice(start, end);
    const [lang, info = ''] = [open[1], open[2]?.trim()];
    i = end;
    if (lang === 'ts' && /^[\w.-]+\.ts$/.test(info)) {
      steps.push({ kind: 'file', file: info, text: `${body.join('\n')}\n`, line: start });
    } else if (lang === 'sh' && info !== 'norun') {
      assert.equal(info, '', `README.md:${start}: unknown sh fence option '${info}' (only 'norun')`);
      steps.push({ kind: 'commands', commands: shellCommands(body, start + 1), line: start });
    }
  }
  return steps;
}

/** A sh block's commands (a trailing `\` continues a line) with the `# ` output lines under each. */
function shellCommands(body: string[], firstLine: number): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  for (let k = 0; k < body.length; k++) {
    const text = body[k];
    if (text.trim() === '') continue;
    if (text.trimStart().startsWith('#')) {
      const last = commands.at(-1);
      if (last) last.output.push(text.trimStart().replace(/^#\s?/, ''));
      continue;
    }
    const line = firstLine + k;
    let command = text;
    while (command.endsWith('\\') && k + 1 < body.length) command = `${command.slice(0, -1)}${body[++k].trimStart()}`;
    commands.push({ command: command.trim(), output: [], line });
  }
  return commands;
}

/** A documented output line as a whole-line pattern: `…` matches anything, runs of spaces any spacing. */
function outputPattern(documented: string): RegExp {
  const parts = documented.trim().split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\s+/g, '\\s+'));
  return new RegExp(`^${parts.join('.*')}$`);
}

describe('README.md runs as written', function () {
  this.timeout(900_000);
  let scratch: string;

  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-readme-'));
    for (const entry of COPIED) {
      fs.mkdirSync(path.dirname(path.join(scratch, entry)), { recursive: true });
      fs.cpSync(path.join(ROOT, entry), path.join(scratch, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
  });

  after(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('its rules: fences, output lines, continuation lines', () => {
    const steps = readmeSteps([
      '```sh', 'npm ci', 'echo "a  b" \\', '  c', '# a b c', '#   …b…', '', 'true', '```',
      '```sh norun', 'false', '```',
      '```ts example.ts', 'console.log(1);', '```',
      '```ts', 'not written();', '```',
    ].join('\n'));
    assert.deepEqual(steps, [
      { kind: 'commands', line: 1, commands: [
        { command: 'npm ci', output: [], line: 2 },
        { command: 'echo "a  b" c', output: ['a b c', '  …b…'], line: 3 },
        { command: 'true', output: [], line: 8 },
      ] },
      { kind: 'file', file: 'example.ts', text: 'console.log(1);\n', line: 13 },
    ]);
    assert.ok(outputPattern('scores: 0.79 …').test('scores:  0.79 0.42'));
    assert.ok(!outputPattern('scores: 0.79').test('scores: 0.794'));
    assert.ok(NOT_RERUN.test('npm run test:webgpu') && NOT_RERUN.test('npm run demo   # http://…') && !NOT_RERUN.test('npm run bench -- --quick'));
  });

  it('every sh block, in order, in a scratch copy of the repository', () => {
    const steps = readmeSteps(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(scratch, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}` };
    delete env.SAM2LONG_BACKEND;
    let ran = 0;
    for (const step of steps) {
      if (step.kind === 'file') {
        fs.writeFileSync(path.join(scratch, step.file), step.text);
        continue;
      }
      for (const { command, output, line } of step.commands) {
        if (NOT_RERUN.test(command)) continue;
        const started = Date.now();
        const r = spawnSync('bash', ['-o', 'pipefail', '-c', command], { cwd: scratch, env, encoding: 'utf8', timeout: 600_000 });
        const printed = `${r.stdout}${r.stderr}`;
        const where = `README.md:${line}: ${command}`;
        assert.equal(r.status, 0, `${where}\nexit ${r.status}${r.signal ? ` (${r.signal})` : ''}:\n${printed}`);
        const printedLines = printed.split(/\r?\n|\r/).map((l) => l.trim());
        for (const documented of output) {
          const pattern = outputPattern(documented);
          assert.ok(printedLines.some((l) => pattern.test(l)), `${where}\ndocuments the line\n  ${documented}\nwhich it did not print:\n${printed}`);
        }
        console.log(`      README.md:${line} (${((Date.now() - started) / 1000).toFixed(1)} s) ${command.slice(0, 90)}`);
        ran++;
      }
    }
    assert.ok(ran >= 8, `ran ${ran} commands`);
  });
});
