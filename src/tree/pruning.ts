/**
 * Path pruning policy: which P candidates survive frame t and become its slots 0..P−1, in that order.
 *
 * Signature (`PathPruning`): `(candidates, objScores, P, uncertainty) → PruneResult`. `candidates` come
 * best first from the scoring; objScores[p] is old path p's object-score logit on this frame.
 *
 * SAM2Long's rule (`prunePaths`):
 * - Certain case, when any path is confident (max_p |objScores[p]| > uncertainty): keep the top P.
 *   Several may share a parent.
 * - Uncertain case (every |objScores[p]| ≤ uncertainty): walk the list and keep a candidate only if
 *   Python's round(signedIou, 2) has not been kept yet, until P are kept. If fewer than P are found
 *   (the corner case), then for each old path, in order, that is not yet the parent of a kept candidate,
 *   add its best candidate, until P are kept.
 */
import { InputError } from '../errors.js';
import type { Candidate } from './scoring.js';

export interface PruneResult {
  /** The surviving candidates; kept[k] becomes slot k. */
  readonly kept: Candidate[];
  /** True when no path was confident, so the de-duplication ran. */
  readonly uncertain: boolean;
  /** True when the de-duplication found fewer than P distinct candidates and paths were filled in. */
  readonly cornerFill: boolean;
}

export type PathPruning = (candidates: readonly Candidate[], objScores: readonly number[], numPaths: number, uncertainty: number) => PruneResult;

/** SAM2Long's default confidence margin on |object score| (`uncertainty`). */
export const SAM2LONG_UNCERTAINTY = 2;

const DEDUPE_DIGITS = 2;

/** x = mantissa · 2^exponent exactly, with an unsigned integer mantissa. */
function exactBinary(x: number): { negative: boolean; mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return {
    negative: bits >> 63n === 1n,
    mantissa: biased === 0 ? fraction : fraction | (1n << 52n),
    exponent: (biased === 0 ? 1 : biased) - 1075,
  };
}

/**
 * Python's round(x, digits): the exact binary value of x rounded to `digits` decimals, ties to even.
 * Scaling in floating point (Math.round(x·100)/100) is wrong near a boundary, e.g. 2.675 is stored
 * below 2.675 and rounds to 2.67; so the scaled value is rounded in exact integer arithmetic.
 */
export function pythonRound(x: number, digits: number): number {
  if (!Number.isFinite(x)) throw new InputError(`cannot round ${x}`);
  // 10^digits must be exact for the final division to give the double nearest the decimal result.
  if (!Number.isInteger(digits) || digits < 0 || digits > 22) throw new InputError(`digits must be an integer in [0, 22], found ${digits}`);
  const { negative, mantissa, exponent } = exactBinary(x);
  const scaled = mantissa * 10n ** BigInt(digits);
  let units: bigint;
  if (exponent >= 0) {
    units = scaled << BigInt(exponent);
  } else {
    const denominator = 1n << BigInt(-exponent);
    units = scaled / denominator;
    const twiceRemainder = 2n * (scaled % denominator);
    if (twiceRemainder > denominator || (twiceRemainder === denominator && units % 2n === 1n)) units += 1n;
  }
  const magnitude = Number(units) / Number(10n ** BigInt(digits));
  return negative ? -magnitude : magnitude;
}

/** SAM2Long's pruning. */
export function prunePaths(candidates: readonly Candidate[], objScores: readonly number[], numPaths: number, uncertainty: number): PruneResult {
  if (objScores.some((s) => !Number.isFinite(s))) throw new InputError(`object scores must be finite: [${objScores.join(', ')}]`);
  if (candidates.some((c, i) => i > 0 && c.score > candidates[i - 1].score)) throw new InputError('candidates must be sorted by score, best first');
  const uncertain = !(Math.max(...objScores.map(Math.abs)) > uncertainty);
  if (!uncertain) return { kept: candidates.slice(0, numPaths), uncertain, cornerFill: false };

  const kept: Candidate[] = [];
  const seen = new Set<number>();
  for (const c of candidates) {
    if (kept.length === numPaths) break;
    const rounded = pythonRound(c.signedIou, DEDUPE_DIGITS);
    if (!seen.has(rounded)) {
      seen.add(rounded);
      kept.push(c);
    }
  }
  const cornerFill = kept.length < numPaths;
  if (cornerFill) {
    const parents = new Set(kept.map((c) => c.parent));
    for (let path = 0; path < objScores.length && kept.length < numPaths; path++) {
      if (parents.has(path)) continue;
      const best = candidates.find((c) => c.parent === path);
      if (best) kept.push(best);
    }
  }
  return { kept, uncertain, cornerFill };
}
