/**
 * SAM's prompt encoder. Points and box corners become sparse tokens (a random-Fourier encoding of the
 * position plus a learned embedding per label); a low-res mask becomes a dense map through a small
 * conv stack, or the learned `no_mask_embed` everywhere when there is no mask.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Sam2ModelConfig } from '../config.js';
import { assertShape, InputError, ShapeError } from '../errors.js';
import { Conv2d, LayerNorm, gelu } from './common.js';
import type { WeightScope } from './weights.js';
import { broadcastByAdd } from '../ops/layout.js';

/** Point labels as SAM reads them. */
export const POINT_LABEL = { padding: -1, negative: 0, positive: 1, boxTopLeft: 2, boxBottomRight: 3 } as const;

/** Hidden channels of the mask downscaling stack (fixed in SAM2Base._build_sam_heads). */
const MASK_IN_CHANS = 16;
/** LayerNorm2d's eps. */
const LAYER_NORM_2D_EPS = 1e-6;

export interface PromptEncoderSizes {
  /** C: the decoder's transformer width (the neck's d_model). */
  embedDim: number;
  /** h = w: side of the image embedding (image_size / backbone_stride). */
  embeddingSize: number;
  /** The model's input side (image_size): point coordinates are in these pixels. */
  inputSize: number;
}

export function promptEncoderSizes(cfg: Sam2ModelConfig): PromptEncoderSizes {
  return {
    embedDim: cfg.image_encoder.neck.d_model,
    embeddingSize: cfg.image_size / cfg.backbone_stride,
    inputSize: cfg.image_size,
  };
}

export type PointPrompt = {
  /** [B, N, 2] (x, y) in input pixels. */
  coords: tf.Tensor3D;
  /** [B, N] int32, each in -1..3 (see POINT_LABEL). */
  labels: tf.Tensor2D;
}

/** Label tensors made by `pointPrompt` from host values it checked: the encoder need not read them back. */
const checkedLabels = new WeakSet<tf.Tensor>();

/**
 * A point prompt from host values, its labels checked here, so that encoding it reads nothing back from the
 * device (a prompt given as tensors is checked by reading its labels).
 */
// coords B·N·2 values, labels B·N values → coords [B, N, 2], labels [B, N]
export function pointPrompt(coords: readonly number[], labels: readonly number[], batch = 1): PointPrompt {
  checkLabels(labels);
  const n = labels.length / batch;
  const prompt = { coords: tf.tensor3d(coords as number[], [batch, n, 2]), labels: tf.tensor2d(labels as number[], [batch, n], 'int32') };
  checkedLabels.add(prompt.labels);
  return prompt;
}

function checkLabels(labels: ArrayLike<number>): void {
  const bad = Array.from(labels).find((l) => l < POINT_LABEL.padding || l > POINT_LABEL.boxBottomRight);
  if (bad !== undefined) throw new InputError(`point label ${bad} is not one of -1 (padding), 0, 1, 2, 3`);
}

export type Prompts = {
  points?: PointPrompt;
  /** [B, 4] (x0, y0, x1, y1) in input pixels. */
  boxes?: tf.Tensor2D;
  /** [B, 4h, 4w, 1] mask logits. */
  masks?: tf.Tensor4D;
}

export type PromptEmbeddings = {
  /** [B, N', C]: the points (plus a padding point when there is no box), then the two box corners. */
  sparse: tf.Tensor3D;
  /** [B, h, w, C] (emptyPrompt: [1, h, w, C]) */
  dense: tf.Tensor4D;
}

/** Random spatial frequencies: sin/cos of 2π·(2p − 1)·G for p in the unit square. */
class RandomFourierEncoding {
  constructor(private readonly gaussian: tf.Tensor2D) {}

  get dim(): number {
    return 2 * this.gaussian.shape[1];
  }

  // [..., 2] (x, y) in [0, 1] → [..., C]
  encode(unit: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = unit.shape.slice(0, -1);
      const centred = tf.sub(tf.mul(tf.reshape(unit, [-1, 2]), 2), 1);
      const angles = tf.mul(tf.matMul(centred as tf.Tensor2D, this.gaussian), 2 * Math.PI);
      return tf.reshape(tf.concat([tf.sin(angles), tf.cos(angles)], -1), [...lead, this.dim]);
    });
  }
}

/** Pixel centres of an h×w grid in the unit square, (x, y) per cell. */
// → [1, h, w, 2]
function unitGrid(h: number, w: number): tf.Tensor4D {
  const xy = new Float32Array(h * w * 2);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      xy[2 * (i * w + j)] = (j + 0.5) / w;
      xy[2 * (i * w + j) + 1] = (i + 0.5) / h;
    }
  }
  return tf.tensor4d(xy, [1, h, w, 2]);
}

export class PromptEncoder {
  readonly sizes: PromptEncoderSizes;
  private readonly pe: RandomFourierEncoding;
  /** Rows: not_a_point_embed, then point_embeddings 0..3, so a label l picks row l + 1. [5, C] */
  private readonly labelEmbeddings: tf.Tensor2D;
  /** [1, 1, 1, C] */
  private readonly noMaskEmbed: tf.Tensor4D;
  private readonly denseGridPe: tf.Tensor4D;
  /** `call`'s embeddings of no prompt at all for one row: sparse [1, 2, C], dense [1, h, w, C]. */
  private readonly noPrompt: PromptEmbeddings;
  private readonly maskConv1: Conv2d;
  private readonly maskNorm1: LayerNorm;
  private readonly maskConv2: Conv2d;
  private readonly maskNorm2: LayerNorm;
  private readonly maskConv3: Conv2d;

  /** `weights`: the 'sam_prompt_encoder' scope. */
  constructor(weights: WeightScope, sizes: PromptEncoderSizes) {
    this.sizes = sizes;
    const c = sizes.embedDim;
    this.pe = new RandomFourierEncoding(weights.tensor('pe_layer.positional_encoding_gaussian_matrix', [2, c / 2]) as tf.Tensor2D);
    const rows = [weights.tensor('not_a_point_embed.weight', [1, c])];
    for (let i = 0; i < 4; i++) rows.push(weights.tensor(`point_embeddings.${i}.weight`, [1, c]));
    this.labelEmbeddings = weights.store.own(tf.concat(rows, 0) as tf.Tensor2D);
    this.noMaskEmbed = weights.store.own(tf.reshape(weights.tensor('no_mask_embed.weight', [1, c]), [1, 1, 1, c]) as tf.Tensor4D);
    this.maskConv1 = new Conv2d(weights, { name: 'mask_downscaling.0', inDim: 1, outDim: MASK_IN_CHANS / 4, kernel: 2, stride: 2 });
    this.maskNorm1 = new LayerNorm(weights, { name: 'mask_downscaling.1', dim: MASK_IN_CHANS / 4, eps: LAYER_NORM_2D_EPS });
    this.maskConv2 = new Conv2d(weights, { name: 'mask_downscaling.3', inDim: MASK_IN_CHANS / 4, outDim: MASK_IN_CHANS, kernel: 2, stride: 2 });
    this.maskNorm2 = new LayerNorm(weights, { name: 'mask_downscaling.4', dim: MASK_IN_CHANS, eps: LAYER_NORM_2D_EPS });
    this.maskConv3 = new Conv2d(weights, { name: 'mask_downscaling.6', inDim: MASK_IN_CHANS, outDim: c, kernel: 1 });
    const s = sizes.embeddingSize;
    this.denseGridPe = weights.store.own(tf.tidy(() => this.pe.encode(unitGrid(s, s)) as tf.Tensor4D));
    // SAM 2's prompt for a frame it tracks without prompts: one padding point (the encoder adds another), no mask.
    const { sparse, dense } = tf.tidy(() => this.call({ points: pointPrompt([0, 0], [POINT_LABEL.padding]) }));
    this.noPrompt = { sparse: weights.store.own(sparse), dense: weights.store.own(dense) };
  }

  /**
   * `call` without any prompt, for `batch` rows: the same values, made once when the encoder was built, so a
   * tracked frame runs no prompt-encoder kernel. The dense embedding keeps a batch of 1 (the mask decoder
   * broadcasts it); it and, for one row, the sparse one are the encoder's own tensors: never dispose them.
   */
  // → sparse [B, 2, C], dense [1, h, w, C]
  emptyPrompt(batch: number): PromptEmbeddings {
    const { sparse, dense } = this.noPrompt;
    return { sparse: batch === 1 ? sparse : tf.tile(sparse, [batch, 1, 1]) as tf.Tensor3D, dense };
  }

  /** Side of the mask prompt the encoder takes (4 × the embedding side). */
  get maskInputSize(): number {
    return 4 * this.sizes.embeddingSize;
  }

  /** The position encoding of every image-embedding cell (a fresh handle: dispose it freely). */
  // → [1, h, w, C]
  densePe(): tf.Tensor4D {
    return tf.clone(this.denseGridPe);
  }

  call(prompts: Prompts): PromptEmbeddings {
    const batch = this.batchSize(prompts);
    const { embedDim: c, embeddingSize: s } = this.sizes;
    return tf.tidy(() => {
      const sparseParts: tf.Tensor3D[] = [];
      if (prompts.points) sparseParts.push(this.embedPoints(prompts.points, !prompts.boxes));
      if (prompts.boxes) sparseParts.push(this.embedBoxes(prompts.boxes));
      const sparse = sparseParts.length === 0
        ? tf.zeros([batch, 0, c]) as tf.Tensor3D
        : sparseParts.length === 1 ? sparseParts[0] : tf.concat(sparseParts, 1);
      const dense = prompts.masks
        ? this.embedMasks(prompts.masks)
        : broadcastByAdd(this.noMaskEmbed, [batch, s, s, c]);
      return { sparse, dense };
    });
  }

  private batchSize(prompts: Prompts): number {
    const batches: [string, number][] = [];
    if (prompts.points) batches.push(['points.coords', prompts.points.coords.shape[0]]);
    if (prompts.boxes) batches.push(['boxes', prompts.boxes.shape[0]]);
    if (prompts.masks) batches.push(['masks', prompts.masks.shape[0]]);
    if (batches.some(([, b]) => b !== batches[0][1])) {
      throw new ShapeError(`prompt batch sizes differ: ${batches.map(([n, b]) => `${n} ${b}`).join(', ')}`);
    }
    return batches.length ? batches[0][1] : 1;
  }

  // coords [B, N, 2] in input pixels → [B, N, 2] pixel centres in the unit square
  private normalise(coords: tf.Tensor): tf.Tensor {
    return tf.div(tf.add(coords, 0.5), this.sizes.inputSize);
  }

  // → [B, N (+1 padding point when `pad`), C]
  private embedPoints(points: PointPrompt, pad: boolean): tf.Tensor3D {
    const { coords, labels } = points;
    assertShape('points.coords', coords.shape, [-1, -1, 2]);
    assertShape('points.labels', labels.shape, [coords.shape[0], coords.shape[1]]);
    if (labels.dtype !== 'int32') throw new ShapeError(`points.labels: dtype ${labels.dtype}, expected int32`);
    if (!checkedLabels.has(labels)) checkLabels(labels.dataSync());
    return tf.tidy(() => {
      const [b] = coords.shape;
      let xy: tf.Tensor = coords;
      let ls: tf.Tensor = labels;
      if (pad) {
        xy = tf.concat([coords, tf.zeros([b, 1, 2])], 1);
        ls = tf.concat([labels, tf.fill([b, 1], POINT_LABEL.padding, 'int32')], 1);
      }
      // A padding point carries no position: its encoding is replaced, not added to.
      const isPoint = tf.expandDims(tf.cast(tf.notEqual(ls, POINT_LABEL.padding), 'float32'), -1);
      const labelEmbedding = tf.gather(this.labelEmbeddings, tf.add(ls, tf.scalar(1, 'int32')));
      return tf.add(tf.mul(this.pe.encode(this.normalise(xy)), isPoint), labelEmbedding) as tf.Tensor3D;
    });
  }

  // boxes [B, 4] → [B, 2, C]
  private embedBoxes(boxes: tf.Tensor2D): tf.Tensor3D {
    assertShape('boxes', boxes.shape, [-1, 4]);
    return tf.tidy(() => {
      const corners = this.normalise(tf.reshape(boxes, [-1, 2, 2]));
      const cornerEmbeddings = tf.slice(this.labelEmbeddings, [POINT_LABEL.boxTopLeft + 1, 0], [2, -1]);
      return tf.add(this.pe.encode(corners), cornerEmbeddings) as tf.Tensor3D;
    });
  }

  // masks [B, 4h, 4w, 1] → [B, h, w, C]
  private embedMasks(masks: tf.Tensor4D): tf.Tensor4D {
    const m = this.maskInputSize;
    assertShape('masks', masks.shape, [-1, m, m, 1]);
    return tf.tidy(() => {
      let x = gelu(this.maskNorm1.call(this.maskConv1.call(tf.cast(masks, 'float32'))));
      x = gelu(this.maskNorm2.call(this.maskConv2.call(x as tf.Tensor4D)));
      return this.maskConv3.call(x as tf.Tensor4D);
    });
  }
}
