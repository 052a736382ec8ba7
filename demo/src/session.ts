/**
 * What the page tracks: the model, the video's predictor state, the prompts per object and frame, and the
 * masks of every frame as label maps. Propagation always starts from a fresh state with every prompt
 * replayed, so switching between SAM 2 greedy and the SAM2Long tree (or changing P) is just another run.
 */
import {
  VideoPredictor, type FrameResult, type Sam2Model, type VideoState,
} from '../../src/browser.js';
import { labelMap } from './masks.js';
import type { LoadedVideo } from './video.js';

export type Point = { x: number; y: number; label: 0 | 1 };
export type Box = [number, number, number, number];

/** The prompts of one object on one frame. */
export interface FramePrompts {
  points: Point[];
  box?: Box;
}

export interface TrackingMode {
  /** SAM2Long memory tree with `pathways` paths; false = SAM 2 greedy. */
  tree: false | { pathways: number };
}

export interface PropagationProgress {
  result: FrameResult;
  /** Frames with a final mask so far, and how many the run will visit. */
  done: number;
  total: number;
  msPerFrame: number;
}

export class TrackingSession {
  /** objId → frame → prompts, in the order they were given. */
  readonly prompts = new Map<number, Map<number, FramePrompts>>();
  /** frame → label map (object ids, 0 = background). */
  readonly labels = new Map<number, Uint8Array>();
  readonly names = new Map<number, string>();
  private state: VideoState | null = null;
  private predictor: VideoPredictor;

  constructor(readonly model: Sam2Model, readonly video: LoadedVideo) {
    this.predictor = new VideoPredictor(model);
  }

  private async videoState(): Promise<VideoState> {
    this.state ??= await this.predictor.initState(this.video.source());
    return this.state;
  }

  get promptedFrames(): number[] {
    return [...new Set([...this.prompts.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  }

  promptsOn(frame: number): { objId: number; prompts: FramePrompts }[] {
    return [...this.prompts].flatMap(([objId, m]) => (m.has(frame) ? [{ objId, prompts: m.get(frame) as FramePrompts }] : []));
  }

  private framePrompts(objId: number, frame: number): FramePrompts {
    let byFrame = this.prompts.get(objId);
    if (!byFrame) this.prompts.set(objId, (byFrame = new Map()));
    let p = byFrame.get(frame);
    if (!p) byFrame.set(frame, (p = { points: [] }));
    return p;
  }

  /** Adds a click and shows the object's mask on that frame at once. */
  addPoint(objId: number, frame: number, point: Point): Promise<void> {
    this.framePrompts(objId, frame).points.push(point);
    return this.apply(objId, frame);
  }

  /** Sets the object's box on that frame (its clicks stay). */
  setBox(objId: number, frame: number, box: Box): Promise<void> {
    this.framePrompts(objId, frame).box = box;
    return this.apply(objId, frame);
  }

  private async apply(objId: number, frame: number): Promise<void> {
    const result = await this.send(this.predictor, await this.videoState(), objId, frame);
    this.store(result);
  }

  private send(predictor: VideoPredictor, state: VideoState, objId: number, frame: number): Promise<FrameResult> {
    const p = this.prompts.get(objId)?.get(frame) as FramePrompts;
    const points = p.points.map((q) => [q.x, q.y] as [number, number]);
    const labels = p.points.map((q) => q.label);
    if (p.box) return predictor.addBox(state, { frame, objId, box: p.box, points, labels });
    return predictor.addPoints(state, { frame, objId, points, labels });
  }

  private store(r: FrameResult): void {
    this.labels.set(r.frame, labelMap(r.objIds, r.masks, this.video.width * this.video.height));
    this.names.set(r.frame, r.name);
  }

  /** Forgets every prompt and mask. */
  async clear(): Promise<void> {
    this.prompts.clear();
    this.labels.clear();
    this.state?.dispose();
    this.state = null;
  }

  /**
   * Tracks every object forward from its first prompted frame to the end of the video, one update per
   * result (SAM2Long also revises frames it had shown provisionally). `stop()` returning true ends the run.
   */
  async *propagate(mode: TrackingMode, stop: () => boolean): AsyncGenerator<PropagationProgress> {
    const frames = this.promptedFrames;
    if (!frames.length) throw new Error('add a point or a box on some frame first');
    this.predictor = new VideoPredictor(this.model, { tree: mode.tree });
    const state = await this.videoState();
    this.predictor.resetState(state);
    for (const [objId, byFrame] of this.prompts) {
      for (const frame of byFrame.keys()) await this.send(this.predictor, state, objId, frame);
    }
    const total = this.video.numFrames - frames[0];
    const finalFrames = new Set<number>();
    let front = frames[0];
    const t0 = performance.now();
    for await (const result of this.predictor.propagate(state)) {
      this.store(result);
      if (result.final) finalFrames.add(result.frame);
      front = Math.max(front, result.frame);
      yield { result, done: finalFrames.size, total, msPerFrame: (performance.now() - t0) / (front - frames[0] + 1) };
      if (stop()) return;
    }
  }

  dispose(): void {
    this.state?.dispose();
    this.state = null;
  }
}
