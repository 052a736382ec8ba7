/** Golden videos as frame providers, and the per-frame comparisons the video tests share. */
import * as assert from 'node:assert/strict';
import type * as tf from '@tensorflow/tfjs-core';
import { resolveModelConfig } from '../../src/config.js';
import { Sam2Model } from '../../src/model/sam2.js';
import { normalizeFrame, unpackBits } from '../../src/predictor/transforms.js';
import type { FrameProvider } from '../../src/predictor/video-state.js';
import type { FrameResult } from '../../src/predictor/video-predictor.js';
import { golden, goldenJson } from './golden.js';
import { miniStateDict } from './weights.js';

/** The decoded golden frames (frames_rgb_u8), so JPEG decoding cannot matter. */
export class GoldenFrames implements FrameProvider {
  readonly numFrames: number;
  readonly width: number;
  readonly height: number;
  private readonly pixels: Uint8Array;
  constructor(video: 'video1' | 'video2', limit?: number) {
    const t = golden(`${video}/frames.safetensors`).read('frames_rgb_u8');
    [this.numFrames, this.height, this.width] = t.shape;
    if (limit !== undefined) this.numFrames = Math.min(limit, this.numFrames);
    this.pixels = t.data as Uint8Array;
  }
  async input(i: number): Promise<tf.Tensor4D> {
    const n = this.width * this.height * 3;
    return normalizeFrame({ width: this.width, height: this.height, data: this.pixels.subarray(i * n, (i + 1) * n) });
  }
  async has(i: number): Promise<boolean> {
    return i >= 0 && i < this.numFrames;
  }
  name(i: number): string {
    return String(i).padStart(5, '0');
  }
}

const models = new Map<string, Sam2Model>();

/** A golden mini model (built once per test run). */
export function miniModel(name: 'sam21_mini' | 'sam2_mini' | 'sam21_mini_b'): Sam2Model {
  let m = models.get(name);
  if (!m) {
    m = Sam2Model.fromStateDict(resolveModelConfig(goldenJson(`${name}.config.json`)), miniStateDict(name));
    models.set(name, m);
  }
  return m;
}

export function maskIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] > 0;
    const y = b[i] > 0;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union === 0 ? 1 : inter / union;
}

export interface RunComparison {
  minIou: number;
  meanIou: number;
  maxLogitDiff: number;
  maxScoreDiff: number;
}

/**
 * Compares results against a golden run: low-res logits (where the reference is not −1024) within
 * `logitTol`, object scores within `scoreTol`, binarized video masks IoU ≥ 0.99 on every frame.
 * `objectIndex` picks the object of a multi-object result; `goldenFrame` maps into object-major tensors.
 * `frames`: the run covered only the golden run's first `frames` frames.
 */
export function compareRun(rel: string, results: FrameResult[], opts: { logitTol: number; scoreTol: number; objectIndex?: number; objectMajor?: boolean; frames?: number }): RunComparison {
  const g = golden(rel);
  const lowRes = g.read('low_res_logits');
  const packed = g.read('video_res_mask_packbits');
  const scores = g.read('object_score_logits').data as Float32Array;
  const k = opts.objectIndex ?? 0;
  const numFrames = opts.objectMajor ? lowRes.shape[1] : lowRes.shape[0];
  const [h4, w4] = lowRes.shape.slice(-2);
  const [H, W8] = packed.shape.slice(-2);
  const expectedFrames = Math.min(opts.frames ?? numFrames, numFrames);
  assert.equal(results.length, expectedFrames, `${rel}: ${results.length} results for ${expectedFrames} frames`);
  const ious: number[] = [];
  let maxLogitDiff = 0;
  let maxScoreDiff = 0;
  for (const r of results) {
    const f = r.frame;
    const gi = opts.objectMajor ? k * numFrames + f : f;
    const ref = (lowRes.data as Float32Array).subarray(gi * h4 * w4, (gi + 1) * h4 * w4);
    const mine = r.lowResLogits[k];
    for (let i = 0; i < ref.length; i++) {
      if (ref[i] === -1024) {
        assert.equal(mine[i], -1024, `${rel} frame ${f}: reference is −1024 (object absent) at ${i}, found ${mine[i]}`);
      } else {
        maxLogitDiff = Math.max(maxLogitDiff, Math.abs(mine[i] - ref[i]));
      }
    }
    maxScoreDiff = Math.max(maxScoreDiff, Math.abs(r.objectScores[k] - scores[gi]));
    const refMask = unpackBits((packed.data as Uint8Array).subarray(gi * H * W8, (gi + 1) * H * W8), H, W8 * 8);
    ious.push(maskIou(r.masks[k], refMask));
  }
  const cmp = { minIou: Math.min(...ious), meanIou: ious.reduce((a, b) => a + b, 0) / ious.length, maxLogitDiff, maxScoreDiff };
  console.log(`      ${rel}${opts.objectMajor ? ` obj ${k}` : ''}: mask IoU min ${cmp.minIou.toFixed(4)} mean ${cmp.meanIou.toFixed(4)}, max|Δ| low-res logits ${cmp.maxLogitDiff.toExponential(2)}, object score ${cmp.maxScoreDiff.toExponential(2)}`);
  assert.ok(cmp.maxLogitDiff <= opts.logitTol, `${rel}: low-res logits differ by ${cmp.maxLogitDiff} > ${opts.logitTol}`);
  assert.ok(cmp.maxScoreDiff <= opts.scoreTol, `${rel}: object scores differ by ${cmp.maxScoreDiff} > ${opts.scoreTol}`);
  ious.forEach((iou, f) => assert.ok(iou >= 0.99, `${rel} frame ${f}: mask IoU ${iou} < 0.99`));
  return cmp;
}

/** Drains an async generator into an array. */
export async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}
