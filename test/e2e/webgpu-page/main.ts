/**
 * The page of test/e2e/webgpu.e2e.ts: the browser entry (what `sam2long/browser` exports) used as an application
 * would, exposed to the test as `window.track`. The test serves the converted model and raw RGB frames beside it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VideoPredictor, initBrowserBackend, loadSam2FromUrl, pixelFrames, type BrowserBackendName } from '../../../src/browser.js';

export interface TrackRequest {
  backend: BrowserBackendName;
  /** SAM2Long paths; 0 = SAM 2 greedy. */
  pathways: number;
  frames: number;
  width: number;
  height: number;
  prompt: { frame: number; points: [number, number][]; labels: number[] };
}

export interface TrackedFrame {
  frame: number;
  final: boolean;
  lowResLogits: number[][];
  objectScores: number[];
  masks: number[][];
}

export interface TrackReport {
  backend: string;
  adapter: string;
  /** What dataSync reads back of a small sum on this backend (WebGPU in headless Chromium: zeros). */
  syncSum: number;
  results: TrackedFrame[];
  /** SAM2Long's choices per tree step: the (parent path, mask index) of each kept candidate. */
  decisions: { frame: number; kept: [number, number][] }[];
  /** Tensors alive before the model was loaded, and after the state and the model were disposed. */
  tensorsBefore: number;
  tensorsAfter: number;
}

async function adapterName(): Promise<string> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string } } | null> } }).gpu;
  const adapter = await gpu?.requestAdapter();
  return adapter?.info ? `${adapter.info.vendor} ${adapter.info.architecture}` : 'none';
}

async function track(req: TrackRequest): Promise<TrackReport> {
  const backend = await initBrowserBackend({ backend: req.backend });
  const adapter = await adapterName();
  const tensorsBefore = tf.memory().numTensors;
  const model = await loadSam2FromUrl('model.safetensors');
  const bytes = new Uint8Array(await (await fetch('frames.rgb')).arrayBuffer());
  const n = req.width * req.height * 3;
  const source = pixelFrames(req.frames, (i) => ({ width: req.width, height: req.height, data: bytes.subarray(i * n, (i + 1) * n) }));
  const decisions: TrackReport['decisions'] = [];
  const predictor = new VideoPredictor(model, {
    tree: req.pathways ? { pathways: req.pathways, onStep: (s) => decisions.push({ frame: s.frame, kept: s.prune.kept.map((c) => [c.parent, c.j]) }) } : false,
  });
  const state = await predictor.initState(source);
  await predictor.addPoints(state, { objId: 1, ...req.prompt });
  const results: TrackedFrame[] = [];
  for await (const r of predictor.propagate(state)) {
    results.push({
      frame: r.frame, final: r.final, objectScores: r.objectScores,
      lowResLogits: r.lowResLogits.map((l) => Array.from(l)), masks: r.masks.map((m) => Array.from(m)),
    });
  }
  state.dispose();
  model.dispose();
  const tensorsAfter = tf.memory().numTensors;
  // Last: a synchronous read may leave tfjs-webgpu's device unusable here.
  const syncSum = tf.tidy(() => tf.sum(tf.add(tf.ones([32, 32]), tf.ones([32, 32]))).dataSync()[0]);
  return { backend, adapter, syncSum, results, decisions, tensorsBefore, tensorsAfter };
}

(window as unknown as { track: typeof track }).track = track;
document.body.dataset.ready = 'true';
