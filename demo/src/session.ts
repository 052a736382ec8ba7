/**
 * What the page tracks: the prompts per object and frame, every frame's masks and whether they are still
 * valid. The model and the predictor's state live in the inference worker; this keeps the page's side of it.
 *
 * Corrections follow SAM 2's workflow: a click on a frame after tracking is sent to the tracked state, which
 * updates that frame at once; every later frame was tracked through it, so it becomes stale until Propagate
 * re-tracks from the corrected frame (SAM 2 greedy memory). A run that cannot continue the state (the first,
 * one after a change of mode, backend or objects, and every SAM2Long run, whose memory tree grows from the
 * prompt frame) replays every prompt on a fresh state and tracks from the first prompted frame.
 */
import { packLabels, unpackLabels } from './masks.js';
import type { InferenceClient } from './worker/client.js';
import type { FrameLabels, FramePrompts, ObjectFramePrompts, Point, Box } from './worker/protocol.js';

export type { Point, Box, FramePrompts };

/** prompted: the mask of the frame's own prompts; tracked: final; provisional: SAM2Long may still revise it. */
export type FrameState = 'prompted' | 'tracked' | 'provisional' | 'stale';

export interface TrackingMode {
  /** SAM2Long memory tree with `pathways` paths; false = SAM 2 greedy. */
  tree: false | { pathways: number };
}

export interface RunProgress {
  frame: FrameLabels;
  /** Final frames of this run so far, and how many it will visit. */
  done: number;
  total: number;
  msPerFrame: number;
}

/** An error worded for the page (shown as it is). */
export class PageError extends Error {}

const modeKey = (m: TrackingMode) => (m.tree ? `tree:${m.tree.pathways}` : 'greedy');

export class TrackingSession {
  /** objId → the name the object panel shows (objects exist before their first prompt). */
  readonly objects = new Map<number, string>([[1, 'object 1']]);
  /** objId → frame → prompts. */
  readonly prompts = new Map<number, Map<number, FramePrompts>>();
  /** frame → its label map, packed (masks.ts: packLabels); read with labelsOn. */
  private readonly labels = new Map<number, Uint8Array>();
  readonly names = new Map<number, string>();
  readonly status = new Map<number, FrameState>();
  /** Objects with a mask on each frame, for the timeline. */
  readonly present = new Map<number, number[]>();
  /** The mode the worker's state was last tracked with; null = its state holds no tracking to continue. */
  private trackedWith: string | null = null;
  /** The mode of the last run, in words (for the export). */
  lastMode = '';
  /** Whether any run has produced masks (Download waits for one). */
  hasRun = false;
  /** Whether the last run was stopped before the end. */
  stopped = false;
  /** SAM2Long's paths recorded by the last run: frame → one label map per path. */
  readonly paths = new Map<number, Uint8Array[]>();

  constructor(private readonly client: InferenceClient, readonly numFrames: number, private readonly numPixels: number) {}

  /** Frame `frame`'s label map (object ids, 0 = background), if it has masks. */
  labelsOn(frame: number): Uint8Array | undefined {
    const packed = this.labels.get(frame);
    return packed && unpackLabels(packed, this.numPixels);
  }

  objectName(objId: number): string {
    return this.objects.get(objId) ?? `object ${objId}`;
  }

  /** A new object (ids 1…255: the label PNGs hold one byte per pixel); returns its id. */
  addObject(): number {
    const id = Math.max(0, ...this.objects.keys()) + 1;
    if (id > 255) throw new PageError('A video holds at most 255 objects.');
    this.objects.set(id, `object ${id}`);
    return id;
  }

  get promptedFrames(): number[] {
    return [...new Set([...this.prompts.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  }

  get hasPrompts(): boolean {
    return this.promptedFrames.length > 0;
  }

  promptsOn(frame: number): { objId: number; prompts: FramePrompts }[] {
    return [...this.prompts].flatMap(([objId, m]) => (m.has(frame) ? [{ objId, prompts: m.get(frame) as FramePrompts }] : []));
  }

  private allPrompts(): ObjectFramePrompts[] {
    return [...this.prompts].flatMap(([objId, m]) => [...m].map(([frame, prompts]) => ({ objId, frame, prompts })));
  }

  private framePrompts(objId: number, frame: number): FramePrompts {
    let byFrame = this.prompts.get(objId);
    if (!byFrame) this.prompts.set(objId, (byFrame = new Map()));
    let p = byFrame.get(frame);
    if (!p) byFrame.set(frame, (p = { points: [] }));
    return p;
  }

  /** Adds a click and shows the frame's new mask at once; frames tracked through it become stale. */
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
    const prompts = this.prompts.get(objId)?.get(frame) as FramePrompts;
    const result = await this.client.request({ type: 'prompt', prompt: { objId, frame, prompts } });
    this.store(result, 'prompted');
    this.paths.clear();
    // A SAM2Long state is re-tracked whole, from the first prompt; greedy continues from the correction.
    const from = this.trackedWith?.startsWith('tree') ? Math.min(frame, this.promptedFrames[0]) : frame;
    this.markStale((f) => f > from);
  }

  private store(r: FrameLabels, state: FrameState): void {
    this.labels.set(r.frame, packLabels(r.labels));
    this.names.set(r.frame, r.name);
    this.present.set(r.frame, r.present);
    this.status.set(r.frame, state);
  }

  private markStale(which: (frame: number) => boolean): void {
    for (const [f, s] of this.status) if (s !== 'stale' && which(f) && !this.promptsOn(f).length) this.status.set(f, 'stale');
  }

  /** Frames with valid masks (prompted or tracked and final). */
  isFresh(frame: number): boolean {
    const s = this.status.get(frame);
    return s === 'prompted' || s === 'tracked';
  }

  /** How the frames stand: fresh (exportable), stale, provisional, and never tracked. */
  counts(): { fresh: number; stale: number; provisional: number; missing: number } {
    const c = { fresh: 0, stale: 0, provisional: 0, missing: 0 };
    for (let f = 0; f < this.numFrames; f++) {
      const s = this.status.get(f);
      if (s === 'prompted' || s === 'tracked') c.fresh++;
      else if (s) c[s]++;
      else c.missing++;
    }
    return c;
  }

  /** Whether every frame from the first prompt on has a valid mask. */
  get complete(): boolean {
    const first = this.promptedFrames[0];
    if (first === undefined || !this.hasRun) return false;
    for (let f = first; f < this.numFrames; f++) if (!this.isFresh(f)) return false;
    return true;
  }

  /**
   * The frame a Propagate with `mode` starts from, and whether it replays every prompt on a fresh state.
   * Greedy continues the state from the first frame without a valid mask: after a correction on frame k that
   * is k + 1, so the corrected frame keeps its mask and is memory for the frames after it (a corrected frame
   * that had been tracked is not a conditioning frame, and re-tracking it would overwrite the correction).
   */
  plan(mode: TrackingMode): { start: number; full: boolean } {
    const first = this.promptedFrames[0];
    if (first === undefined) throw new PageError('Add a point or a box on some frame first.');
    if (mode.tree) {
      const multi = [...this.prompts].find(([, m]) => m.size > 1);
      if (multi) {
        throw new PageError(`SAM2Long tracks each object from the one frame it is prompted on, and ${this.objectName(multi[0])} has prompts on frames ` +
          `${[...multi[1].keys()].sort((a, b) => a - b).map((f) => f + 1).join(', ')}: switch to SAM 2 (greedy memory) to re-track from corrections, or clear and prompt one frame.`);
      }
    }
    if (this.trackedWith !== modeKey(mode) || mode.tree) return { start: first, full: true };
    for (let f = first; f < this.numFrames; f++) if (!this.isFresh(f)) return { start: f, full: false };
    return { start: first, full: true };
  }

  /** Tracks forward from the plan's start frame; `onProgress` sees every result. */
  async propagate(mode: TrackingMode, onProgress: (p: RunProgress) => void, paths?: { first: number; last: number }): Promise<{ stopped: boolean; start: number }> {
    const { start, full } = this.plan(mode);
    // Everything this run will redo is stale until it arrives: a stopped run leaves it so.
    this.markStale((f) => f > start);
    const total = this.numFrames - start;
    const finals = new Set<number>();
    let front = start;
    const t0 = performance.now();
    this.paths.clear();
    const { stopped, paths: recorded } = await this.client.request({
      type: 'track', request: { tree: mode.tree, startFrame: start, replay: full ? this.allPrompts() : undefined, paths },
    }, (frame) => {
      const prompted = this.promptsOn(frame.frame).length > 0;
      this.store(frame, !frame.final ? 'provisional' : prompted ? 'prompted' : 'tracked');
      if (frame.final) finals.add(frame.frame);
      front = Math.max(front, frame.frame);
      onProgress({ frame, done: finals.size, total, msPerFrame: (performance.now() - t0) / (front - start + 1) });
    });
    for (const p of recorded) this.paths.set(p.frame, p.paths);
    this.lastMode = mode.tree ? `SAM2Long memory tree, P = ${mode.tree.pathways}` : 'SAM 2 greedy memory';
    this.trackedWith = modeKey(mode);
    this.hasRun = true;
    this.stopped = stopped;
    return { stopped, start };
  }

  /**
   * After the worker lost its state (a new backend, a deleted object): every prompt again on a fresh state,
   * prompted frames updated at once, every tracked frame stale until the next Propagate.
   */
  async replay(): Promise<void> {
    this.trackedWith = null;
    this.paths.clear();
    this.markStale(() => true);
    const results = await this.client.request({ type: 'replay', prompts: this.allPrompts() });
    for (const r of results) this.store(r, 'prompted');
  }

  /** Removes an object and its prompts; the others are replayed. */
  async deleteObject(objId: number): Promise<void> {
    this.objects.delete(objId);
    this.prompts.delete(objId);
    for (const [f, packed] of this.labels) {
      const labels = unpackLabels(packed, this.numPixels);
      labels.forEach((v, i) => { if (v === objId) labels[i] = 0; });
      this.labels.set(f, packLabels(labels));
      this.present.set(f, (this.present.get(f) ?? []).filter((id) => id !== objId));
    }
    for (const f of [...this.status.keys()]) {
      if (this.status.get(f) === 'prompted' && !this.promptsOn(f).length) this.status.set(f, 'stale');
    }
    await this.replay();
  }

  /** Forgets every prompt and mask. */
  async clear(): Promise<void> {
    this.prompts.clear();
    this.paths.clear();
    this.objects.clear();
    this.objects.set(1, 'object 1');
    for (const m of [this.labels, this.names, this.status, this.present]) m.clear();
    this.trackedWith = null;
    this.hasRun = false;
    this.stopped = false;
    await this.client.request({ type: 'replay', prompts: [] });
  }
}
