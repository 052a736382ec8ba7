/**
 * How often a model's heavy parts ran, counted by wrapping the methods of one Sam2Model instance (the production
 * class keeps no counters). Tests check batching with it: one decoder call per frame for all rows.
 */
import type { Sam2Model } from '../../src/model/sam2.js';

export interface ModelCalls {
  imageEncoder: number;
  /** Mask decoder calls (prompt, tracking, mask-as-output and single-image steps); a call run in row groups counts once. */
  decoder: number;
  memoryAttention: number;
  memoryEncoder: number;
  /** Rows of all tracking steps. */
  trackedRows: number;
}

/** Starts counting `model`'s calls; the returned object stays live. */
export function countCalls(model: Sam2Model): ModelCalls {
  const calls: ModelCalls = { imageEncoder: 0, decoder: 0, memoryAttention: 0, memoryEncoder: 0, trackedRows: 0 };
  const wrap = <K extends 'encodeImage' | 'promptStep' | 'trackStep' | 'maskAsOutput' | 'encodeMemory' | 'decodeImage'>(
    name: K, count: (...args: Parameters<Sam2Model[K]>) => void,
  ): void => {
    const original = model[name] as (...args: unknown[]) => unknown;
    Object.defineProperty(model, name, {
      configurable: true,
      value: (...args: Parameters<Sam2Model[K]>) => {
        count(...args);
        return original.apply(model, args);
      },
    });
  };
  wrap('encodeImage', () => { calls.imageEncoder++; });
  wrap('promptStep', () => { calls.decoder++; });
  wrap('maskAsOutput', () => { calls.decoder++; });
  wrap('decodeImage', () => { calls.decoder++; });
  wrap('trackStep', (_features, memories) => {
    calls.memoryAttention++;
    calls.decoder++;
    calls.trackedRows += memories.length;
  });
  wrap('encodeMemory', () => { calls.memoryEncoder++; });
  return calls;
}
