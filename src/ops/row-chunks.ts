/**
 * Splitting a computation over its leading axis so that no tensor it makes exceeds the backend's binding
 * limit (maxTensorBytes): the chunk plan, and a runner that concatenates the chunks' outputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { maxTensorBytes } from '../backend-limits.js';
import { rowRange } from './take-rows.js';

/** Every tensor the model splits is float32 (or int32 / bool, which no backend stores wider). */
export const FLOAT_BYTES = 4;

/** Rows [start, start + count) of a computation split over its leading axis. */
export interface RowChunk {
  start: number;
  count: number;
  /** This chunk's rows of `t` (its leading axis); `t` itself when the rows are not split. */
  take<T extends tf.Tensor>(t: T): T;
}

/** What a row-split computation returns; each tensor is concatenated over the chunks along axis 0. */
export type RowOutputs = tf.Tensor | { [key: string]: tf.Tensor | undefined };

/**
 * Near-equal row ranges, each small enough that a tensor of `bytesPerRow` per row fits under
 * maxTensorBytes(); one range when all rows fit. A single row over the limit is still one chunk.
 */
export function rowChunks(rows: number, bytesPerRow: number): { start: number; count: number }[] {
  const fit = Math.max(1, Math.floor(maxTensorBytes() / Math.max(1, bytesPerRow)));
  if (fit >= rows) return [{ start: 0, count: rows }];
  const n = Math.ceil(rows / fit);
  return Array.from({ length: n }, (_, i) => {
    const start = Math.floor((i * rows) / n);
    return { start, count: Math.floor(((i + 1) * rows) / n) - start };
  });
}

/**
 * Runs `fn` on chunks of `rows` leading-axis rows, sized so that no tensor it makes (at most `bytesPerRow`
 * per row) exceeds the backend's binding limit, and concatenates the chunks' outputs along axis 0. When all
 * rows fit, `fn` runs once on the whole input with nothing copied.
 */
// fn's outputs [count, ...] per chunk → [rows, ...]
export function mapRowChunks<R extends RowOutputs>(rows: number, bytesPerRow: number, fn: (chunk: RowChunk) => R): R {
  const chunks = rowChunks(rows, bytesPerRow);
  if (chunks.length === 1) return fn({ start: 0, count: rows, take: (t) => t });
  return tf.tidy(() => {
    const parts = chunks.map(({ start, count }) => tf.tidy(() => fn({ start, count, take: (t) => rowRange(t, start, count) })));
    return concatRows(parts);
  });
}

// R[] (chunks) → R
function concatRows<R extends RowOutputs>(parts: R[]): R {
  if (parts[0] instanceof tf.Tensor) return tf.concat(parts as tf.Tensor[], 0) as R;
  const records = parts as { [key: string]: tf.Tensor | undefined }[];
  return Object.fromEntries(Object.keys(records[0]).map((key) => {
    const first = records[0][key];
    return [key, first === undefined ? undefined : tf.concat(records.map((r) => r[key] as tf.Tensor), 0)];
  })) as R;
}
