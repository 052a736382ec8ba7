/**
 * What the main thread and the encoder worker say to each other, and FrameFeatures as host arrays that
 * travel between them as transferred buffers (moved, not copied, by postMessage).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Sam2ModelConfig } from '../../config.js';
import type { FrameFeatures } from '../../model/sam2.js';
import type { HostArray } from '../../model/weights.js';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** FrameFeatures on the host, same fields. */
export interface HostFeatures {
  visionFeats: HostTensor;
  visionPos: HostTensor;
  highRes: [HostTensor, HostTensor];
}

export type ToWorker =
  /** Sent once, first: the backend to use and the weights to build the encoder from. */
  | { type: 'init'; backend: string; config: Sam2ModelConfig; weights: [string, HostArray][] }
  /** image: the model input of one frame, [1, S, S, 3]. */
  | { type: 'encode'; id: number; image: HostTensor };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'features'; id: number; features: HostFeatures }
  /** id: the failed encode request, or null when the worker could not start. */
  | { type: 'error'; id: number | null; name: string; message: string };

/** A copy of the tensor's values in a buffer of its own (a backend may share or keep the array it returns). */
export function toHost(t: tf.Tensor): HostTensor {
  return { shape: t.shape, data: (t.dataSync() as Float32Array).slice() };
}

export function featuresToHost(f: FrameFeatures): HostFeatures {
  return { visionFeats: toHost(f.visionFeats), visionPos: toHost(f.visionPos), highRes: [toHost(f.highRes[0]), toHost(f.highRes[1])] };
}

function tensor4d(h: HostTensor): tf.Tensor4D {
  return tf.tensor4d(h.data, h.shape as [number, number, number, number]);
}

export function featuresFromHost(h: HostFeatures): FrameFeatures {
  return { visionFeats: tensor4d(h.visionFeats), visionPos: tensor4d(h.visionPos), highRes: [tensor4d(h.highRes[0]), tensor4d(h.highRes[1])] };
}

/** The buffers a message can hand over instead of copying. */
export function buffersOf(arrays: Iterable<{ data: ArrayBufferView }>): ArrayBuffer[] {
  return [...arrays].map((a) => a.data.buffer as ArrayBuffer);
}
