/**
 * The per-video state of the predictor: frames, objects, prompts and the outputs a later frame may
 * still read. Outputs outside the memory window are disposed as tracking moves on, so a long video
 * keeps a bounded number of tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InputError } from '../errors.js';
import { disposeFeatures, type FrameFeatures } from '../model/sam2.js';

/** Frames as the predictor needs them: sizes, and the model input of frame i on demand. */
export interface FrameProvider {
  /** Infinity for an async stream not read to its end. */
  readonly numFrames: number;
  readonly width: number;
  readonly height: number;
  /** The normalised model input of frame `i`. [1, S, S, 3] */
  input(i: number): Promise<tf.Tensor4D>;
  /** Whether frame `i` exists (a stream learns its length only at its end). */
  has(i: number): Promise<boolean>;
  /** Name of frame i for output files (e.g. "00000" for frames/00000.jpg). */
  name(i: number): string;
  close?(): void;
}

/** One frame's output for one object, as stored for later frames. */
export interface StoredOutput {
  /** bf16-rounded memory features, null until the memory encoder ran. [HW, memDim] */
  maskmem: tf.Tensor2D | null;
  /** Low-resolution mask logits. [h4, w4] */
  predMasks: tf.Tensor2D;
  /** [C] */
  objPtr: tf.Tensor1D;
  /** The object-score logit; a tracked frame's is NaN until the frame's result has been read (on the device till then). */
  objectScore: number;
}

/** A mask as results carry it: host logits and the object score. */
export interface MaskOutput {
  /** Low-resolution logits. [h4 × w4] */
  logits: Float32Array;
  objectScore: number;
}

export function disposeOutput(o: StoredOutput | undefined): void {
  if (o) tf.dispose([o.predMasks, o.objPtr, ...(o.maskmem ? [o.maskmem] : [])]);
}

export interface PointsInput {
  /** In image_size pixels (already scaled from video pixels). */
  coords: [number, number][];
  labels: number[];
}

export interface ObjectState {
  id: number;
  points: Map<number, PointsInput>;
  /** Outputs of prompted frames before propagation (no memory yet). */
  temp: Map<number, StoredOutput>;
  cond: Map<number, StoredOutput>;
  nonCond: Map<number, StoredOutput>;
  /** frame → tracked in reverse? */
  tracked: Map<number, boolean>;
}

/** The frames propagation visits: from wherever it is, `step` at a time up to `last` (Infinity: a stream's end). */
export interface PipelinePlan {
  step: 1 | -1;
  last: number;
  /**
   * A stream of unknown length is read ahead only from this frame on. Reading frame n ahead tells early
   * whether the video has exactly n frames, and below max_obj_ptrs_in_encoder that length changes the
   * results (pointers are encoded relative to min(numFrames, max_obj_ptrs_in_encoder)).
   */
  streamReadAheadFrom: number;
}

/** Encodes frames ahead of tracking on another thread while propagation runs (the predictor's `pipeline`). */
export interface FramePipeline {
  /** The features of `frame`, from the pipeline, or from `encodeHere` when it has none ready to come. */
  features(frame: number, encodeHere: () => Promise<FrameFeatures>): Promise<FrameFeatures>;
  close(): void;
}

export class VideoState {
  readonly objects: ObjectState[] = [];
  /** Frames encoded on this thread and by the pipeline (tests and benchmarks read it). */
  readonly encodedFrames = { here: 0, pipeline: 0 };
  private cached: { frame: number; features: FrameFeatures } | null = null;
  private pipeline: FramePipeline | null = null;

  constructor(readonly frames: FrameProvider) {}

  get numFrames(): number {
    return this.frames.numFrames;
  }

  get objIds(): number[] {
    return this.objects.map((o) => o.id);
  }

  object(id: number, create: boolean): ObjectState {
    let o = this.objects.find((x) => x.id === id);
    if (!o) {
      if (!create) throw new InputError(`unknown object id ${id}; known ids: [${this.objIds.join(', ')}]`);
      o = { id, points: new Map(), temp: new Map(), cond: new Map(), nonCond: new Map(), tracked: new Map() };
      this.objects.push(o);
    }
    return o;
  }

  checkFrame(frame: number, what = 'frame'): void {
    if (!Number.isInteger(frame) || frame < 0 || frame >= this.numFrames) {
      throw new InputError(`${what} ${frame} is out of range: the video has ${this.numFrames} frames (0..${this.numFrames - 1})`);
    }
  }

  /** Features of one frame (from the pipeline when one runs); only the most recent frame's are kept, as officially. */
  async features(frame: number, encode: (image: tf.Tensor4D) => FrameFeatures): Promise<FrameFeatures> {
    if (this.cached?.frame === frame) return this.cached.features;
    let here = false;
    const encodeHere = async () => {
      here = true;
      const input = await this.frames.input(frame);
      try {
        return encode(input);
      } finally {
        input.dispose();
      }
    };
    const features = this.pipeline ? await this.pipeline.features(frame, encodeHere) : await encodeHere();
    this.encodedFrames[here ? 'here' : 'pipeline']++;
    this.dropFeatures();
    this.cached = { frame, features };
    return features;
  }

  /** Hands frame encoding to `pipeline` (null: back to this thread); a previous pipeline is closed. */
  usePipeline(pipeline: FramePipeline | null): void {
    this.pipeline?.close();
    this.pipeline = pipeline;
  }

  dropFeatures(): void {
    if (this.cached) disposeFeatures(this.cached.features);
    this.cached = null;
  }

  /** Frees every stored output and prompt; the frames stay. */
  reset(): void {
    for (const o of this.objects) {
      for (const m of [o.temp, o.cond, o.nonCond]) m.forEach(disposeOutput);
    }
    this.objects.length = 0;
    this.dropFeatures();
  }

  dispose(): void {
    this.usePipeline(null);
    this.reset();
    this.frames.close?.();
  }
}
