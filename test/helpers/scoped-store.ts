/** A WeightStore over part of a mini model's state dict, so one module's test can `finish()` on its own keys. */
import { WeightStore } from '../../src/model/weights.js';
import { miniStateDict } from './weights.js';

/** The keys of `model` equal to a prefix or under `prefix.`; `finish()` then reports only those. */
export function scopedStore(model: string, prefixes: string[]): WeightStore {
  const all = miniStateDict(model);
  const picked = [...all].filter(([k]) => prefixes.some((p) => k === p || k.startsWith(`${p}.`)));
  return new WeightStore(new Map(picked));
}
