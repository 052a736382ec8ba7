/** State dicts of the golden mini models, for model tests. */
import * as path from 'node:path';
import { openSafetensors } from '../../src/io/files.js';
import type { HostArray } from '../../src/model/weights.js';
import { FIXTURES } from './golden.js';

const cache = new Map<string, Map<string, HostArray>>();

/**
 * The state dict of a golden mini model ('sam21_mini', 'sam2_mini', 'sam21_mini_b').
 * TEMPORARY: read from ../shared/golden/<name>.safetensors until the .pt reader lands; then it must read
 * test/fixtures/golden/<name>.pt through src/io/torch-checkpoint.ts (fixtures carry no converted files).
 */
export function miniStateDict(name: string): Map<string, HostArray> {
  let sd = cache.get(name);
  if (!sd) {
    const reader = openSafetensors(path.resolve(FIXTURES, '../../../../shared/golden', `${name}.safetensors`));
    sd = new Map(reader.names.map((n) => [n, reader.read(n)]));
    reader.close();
    cache.set(name, sd);
  }
  return sd;
}
