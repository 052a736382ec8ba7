/**
 * The inference worker: backend, model and the predictor's state live here, so the page never freezes while
 * a frame is encoded or tracked. Frames are pulled from the page (which owns the video) one at a time.
 * Requests run one after another; "stop" arrives between frames (each propagated frame yields to the event
 * loop), so a run ends within a frame.
 */
import {
  VideoPredictor, loadSam2FromBytes, pixelFrames, type CheckpointBytes, type FrameResult, type RgbImage, type Sam2Model,
  type VideoState,
} from '../../../src/browser.js';
import { labelMap } from '../masks.js';
import { startBackend } from './backend-choice.js';
import { PathsRecorder } from './paths-recorder.js';
import type { FrameLabels, FromWorker, ObjectFramePrompts, Replies, Request, ToWorker, TrackRequest } from './protocol.js';

const post = (msg: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(msg, transfer);

let checkpoint: CheckpointBytes | null = null;
let model: Sam2Model | null = null;
let video: { count: number; names: string[] } | null = null;
let state: VideoState | null = null;
let stopRequested = false;

/** Frames asked of the page, by request id. */
const pendingFrames = new Map<number, { resolve: (img: RgbImage) => void; reject: (err: Error) => void }>();
let nextFrameId = 0;

function requestFrame(index: number): Promise<RgbImage> {
  const id = nextFrameId++;
  return new Promise((resolve, reject) => {
    pendingFrames.set(id, { resolve, reject });
    post({ kind: 'need-frame', id, index });
  });
}

function disposeState(): void {
  state?.dispose();
  state = null;
}

function buildModel(): Sam2Model {
  model?.dispose();
  model = null;
  disposeState();
  if (!checkpoint) throw new Error('no model loaded');
  model = loadSam2FromBytes(checkpoint);
  return model;
}

async function videoState(): Promise<VideoState> {
  if (!model) throw new Error('no model loaded');
  if (!video) throw new Error('no video loaded');
  const v = video;
  state ??= await new VideoPredictor(model).initState(pixelFrames(v.count, requestFrame, (i) => v.names[i]));
  return state;
}

function labelsOf(r: FrameResult): FrameLabels {
  const size = r.masks[0]?.length ?? 0;
  const labels = labelMap(r.objIds, r.masks, size);
  const present = r.objIds.filter((_, i) => r.masks[i].some((v) => v !== 0));
  return { frame: r.frame, name: r.name, labels, present, final: r.final };
}

async function sendPrompt(predictor: VideoPredictor, s: VideoState, p: ObjectFramePrompts): Promise<FrameResult> {
  const points = p.prompts.points.map((q) => [q.x, q.y] as [number, number]);
  const labels = p.prompts.points.map((q) => q.label);
  if (p.prompts.box) return predictor.addBox(s, { frame: p.frame, objId: p.objId, box: p.prompts.box, points, labels });
  return predictor.addPoints(s, { frame: p.frame, objId: p.objId, points, labels });
}

/** Every prompt again on a fresh state; the last result of each prompted frame. */
async function replay(prompts: ObjectFramePrompts[]): Promise<FrameLabels[]> {
  const s = await videoState();
  s.reset();
  const predictor = new VideoPredictor(model as Sam2Model);
  const byFrame = new Map<number, FrameLabels>();
  for (const p of prompts) {
    const r = await sendPrompt(predictor, s, p);
    byFrame.set(r.frame, labelsOf(r));
  }
  return [...byFrame.values()];
}

async function track(id: number, req: TrackRequest): Promise<Replies['track']> {
  stopRequested = false;
  if (req.replay) await replay(req.replay);
  const s = await videoState();
  const recorder = req.tree && req.paths ? new PathsRecorder(req.paths.first, req.paths.last, req.tree.pathways) : null;
  const predictor = new VideoPredictor(model as Sam2Model, { tree: req.tree && { ...req.tree, ...recorder?.hooks() } });
  let stopped = false;
  for await (const r of predictor.propagate(s, { startFrame: req.startFrame })) {
    const frame = labelsOf(r);
    post({ kind: 'progress', id, frame }, [frame.labels.buffer]);
    // Lets a "stop" message in before the next frame is computed.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if ((stopped = stopRequested)) break;
  }
  return { stopped, paths: recorder?.render(predictor, s) ?? [] };
}

async function handle<T extends Request>(id: number, request: T): Promise<Replies[T['type']]> {
  switch (request.type) {
    case 'backend': {
      const info = await startBackend(request.choice, request.wasmPaths);
      if (checkpoint) buildModel();
      return info as Replies[T['type']];
    }
    case 'model': {
      checkpoint = request.checkpoint;
      const t0 = performance.now();
      const m = buildModel();
      const info = { imageSize: m.config.image_size, parameters: m.numParameters, megabytes: checkpoint.weights.byteLength / 2 ** 20, ms: performance.now() - t0 };
      return info as Replies[T['type']];
    }
    case 'video':
      disposeState();
      video = { count: request.count, names: request.names };
      return undefined as Replies[T['type']];
    case 'prompt': {
      const s = await videoState();
      return labelsOf(await sendPrompt(new VideoPredictor(model as Sam2Model), s, request.prompt)) as Replies[T['type']];
    }
    case 'replay':
      return (await replay(request.prompts)) as Replies[T['type']];
    case 'track':
      return (await track(id, request.request)) as Replies[T['type']];
  }
  throw new Error(`unknown request ${(request as Request).type}`);
}

/** Requests run in order: each waits for the one before. */
let queue: Promise<unknown> = Promise.resolve();

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.kind === 'stop') {
    stopRequested = true;
  } else if (msg.kind === 'frame' || msg.kind === 'frame-error') {
    const pending = pendingFrames.get(msg.id);
    pendingFrames.delete(msg.id);
    if (msg.kind === 'frame') pending?.resolve({ width: msg.width, height: msg.height, data: msg.data });
    else pending?.reject(new Error(msg.message));
  } else {
    const { id, request } = msg;
    queue = queue.then(() => handle(id, request)).then(
      (value) => post({ kind: 'reply', id, value }),
      (err: Error) => post({ kind: 'error', id, name: err?.name ?? 'Error', message: String(err?.message ?? err) }),
    );
  }
};
