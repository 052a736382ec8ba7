/** Argument checks shared by the tree functions: bad numbers fail loudly instead of becoming NaN decisions. */
import { InputError } from '../errors.js';

export function requireFinite(what: string, x: number): void {
  if (!Number.isFinite(x)) throw new InputError(`${what} must be a finite number, found ${x}`);
}

export function requireIndex(what: string, i: number, size: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= size) throw new InputError(`${what} must be an integer in [0, ${size}), found ${i}`);
}
