/** State dicts of the golden mini models, for model tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { openSafetensors } from '../../src/node/files.js';
import type { HostArray } from '../../src/model/weights.js';
import { FIXTURES } from './golden.js';

const REPO = path.resolve(FIXTURES, '../../..');
const cache = new Map<string, Map<string, HostArray>>();

/**
 * The state dict of a golden mini model ('sam21_mini', 'sam2_mini', 'sam21_mini_b'), read from
 * test/fixtures/golden/<name>.pt through src/io/torch-checkpoint.ts (the fixtures carry no converted files).
 * The reader is asynchronous (the zip index), so the .pt is converted once per process by the CLI in a child
 * process and the result read back synchronously.
 */
export function miniStateDict(name: string): Map<string, HostArray> {
  let sd = cache.get(name);
  if (!sd) {
    sd = convertMini(name);
    cache.set(name, sd);
  }
  return sd;
}

function convertMini(name: string): Map<string, HostArray> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-mini-'));
  try {
    const reader = openSafetensors(convertMiniTo(name, dir));
    try {
      return new Map(reader.names.map((n) => [n, reader.read(n)]));
    } finally {
      reader.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Converts a golden mini model with the CLI into `dir`: returns its `.safetensors` (its `.json` lies beside it). */
export function convertMiniTo(name: string, dir: string): string {
  execFileSync(process.execPath, [
    '--import', 'tsx', path.join(REPO, 'tools/cli.ts'), 'convert', path.join(FIXTURES, `${name}.pt`), dir,
    '--config', path.join(FIXTURES, `${name}.config.json`), '--name', name,
  ], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  return path.join(dir, `${name}.safetensors`);
}
