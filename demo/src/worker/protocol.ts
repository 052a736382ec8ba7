/**
 * The messages between the page and its inference worker. The page owns the video (a FrameSource on the main
 * thread: files, decoded bitmaps or a streaming decoder) and the prompts; the worker owns the backend, the model
 * and the predictor's state, and pulls frame pixels from the page when the predictor needs them.
 */
import type { CheckpointBytes } from '../../../src/browser.js';

export type Point = { x: number; y: number; label: 0 | 1 };
export type Box = [number, number, number, number];

/** The prompts of one object on one frame. */
export interface FramePrompts {
  points: Point[];
  box?: Box;
}

export interface ObjectFramePrompts {
  objId: number;
  frame: number;
  prompts: FramePrompts;
}

export type BackendChoice = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** The backend the worker runs on, in the page's words. */
export interface BackendInfo {
  name: string;
  /** e.g. "wasm, 4 threads (cross-origin isolated)", "WebGL (software renderer: slow)". */
  description: string;
  software: boolean;
  /** Why auto passed over a backend, if it did (e.g. "WebGL skipped: software renderer (SwiftShader)"). */
  skipped: string[];
}

export interface ModelInfo {
  imageSize: number;
  parameters: number;
  megabytes: number;
  ms: number;
}

/** One frame's masks as a label map (object ids, 0 = background) at video resolution. */
export interface FrameLabels {
  frame: number;
  name: string;
  labels: Uint8Array;
  /** Objects with a non-empty mask on the frame. */
  present: number[];
  /** false: SAM2Long's provisional mask, revised once its paths agree. */
  final: boolean;
}

export interface TrackRequest {
  /** SAM2Long memory tree with this many paths; false = SAM 2 greedy memory. */
  tree: false | { pathways: number };
  /** Every prompt, replayed on a fresh state first; absent = continue the current state (a correction). */
  replay?: ObjectFramePrompts[];
  startFrame: number;
  /** SAM2Long: record every path's masks on these frames (inclusive). */
  paths?: { first: number; last: number };
}

/** Every SAM2Long path's label map on one frame, path 0 first. */
export interface PathsFrame {
  frame: number;
  paths: Uint8Array[];
}

/** Page → worker requests, each answered by a reply with the same id. */
export type Request =
  | { type: 'backend'; choice: BackendChoice; wasmPaths: Record<string, string> }
  | { type: 'model'; checkpoint: CheckpointBytes }
  | { type: 'video'; count: number; names: string[] }
  | { type: 'prompt'; prompt: ObjectFramePrompts }
  | { type: 'replay'; prompts: ObjectFramePrompts[] }
  | { type: 'track'; request: TrackRequest };

export type RequestType = Request['type'];

export interface Replies {
  backend: BackendInfo;
  model: ModelInfo;
  video: void;
  prompt: FrameLabels;
  replay: FrameLabels[];
  track: { stopped: boolean; paths: PathsFrame[] };
}

export type ToWorker =
  | { kind: 'request'; id: number; request: Request }
  | { kind: 'stop' }
  | { kind: 'frame'; id: number; width: number; height: number; data: Uint8Array }
  | { kind: 'frame-error'; id: number; message: string };

export type FromWorker =
  | { kind: 'reply'; id: number; value: unknown }
  | { kind: 'error'; id: number; name: string; message: string }
  | { kind: 'progress'; id: number; frame: FrameLabels }
  | { kind: 'need-frame'; id: number; index: number };
