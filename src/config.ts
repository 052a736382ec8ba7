/**
 * The model config: the official SAM 2 yaml schema (`model:` with `_target_` entries), typed, with the
 * defaults of the official constructors filled in. Field names are the yaml's, so an official yaml or a
 * golden `*.config.json` is read as it is.
 */
import YAML from 'yaml';
import { ConfigError } from './errors.js';

export interface PositionEncodingConfig {
  _target_?: string;
  num_pos_feats: number;
  normalize: boolean;
  scale: number | null;
  temperature: number;
}

export interface HieraConfig {
  _target_?: string;
  embed_dim: number;
  num_heads: number;
  drop_path_rate: number;
  q_pool: number;
  q_stride: [number, number];
  stages: number[];
  dim_mul: number;
  head_mul: number;
  window_pos_embed_bkg_spatial_size: [number, number];
  window_spec: number[];
  global_att_blocks: number[];
  return_interm_layers: boolean;
}

export interface FpnNeckConfig {
  _target_?: string;
  position_encoding: PositionEncodingConfig;
  d_model: number;
  backbone_channel_list: number[];
  kernel_size: number;
  stride: number;
  padding: number;
  fpn_interp_model: 'nearest' | 'bilinear';
  fuse_type: 'sum' | 'avg';
  fpn_top_down_levels: number[] | null;
}

export interface ImageEncoderConfig {
  _target_?: string;
  scalp: number;
  trunk: HieraConfig;
  neck: FpnNeckConfig;
}

export interface RoPEAttentionConfig {
  _target_?: string;
  rope_theta: number;
  feat_sizes: [number, number];
  rope_k_repeat: boolean;
  embedding_dim: number;
  num_heads: number;
  downsample_rate: number;
  dropout: number;
  kv_in_dim: number | null;
}

export interface MemoryAttentionLayerConfig {
  _target_?: string;
  activation: 'relu' | 'gelu';
  dim_feedforward: number;
  dropout: number;
  pos_enc_at_attn: boolean;
  d_model: number;
  pos_enc_at_cross_attn_keys: boolean;
  pos_enc_at_cross_attn_queries: boolean;
  self_attention: RoPEAttentionConfig;
  cross_attention: RoPEAttentionConfig;
}

export interface MemoryAttentionConfig {
  _target_?: string;
  d_model: number;
  pos_enc_at_input: boolean;
  num_layers: number;
  layer: MemoryAttentionLayerConfig;
}

export interface MaskDownSamplerConfig {
  _target_?: string;
  kernel_size: number;
  stride: number;
  padding: number;
  embed_dim: number;
  total_stride: number;
}

export interface CXBlockConfig {
  _target_?: string;
  dim: number;
  kernel_size: number;
  padding: number;
  drop_path: number;
  layer_scale_init_value: number;
  use_dwconv: boolean;
}

export interface MemoryEncoderConfig {
  _target_?: string;
  out_dim: number;
  in_dim: number;
  position_encoding: PositionEncodingConfig;
  mask_downsampler: MaskDownSamplerConfig;
  fuser: { _target_?: string; layer: CXBlockConfig; num_layers: number; input_projection: boolean };
}

export interface MaskDecoderExtraArgs {
  dynamic_multimask_via_stability: boolean;
  dynamic_multimask_stability_delta: number;
  dynamic_multimask_stability_thresh: number;
}

/** SAM2Base's constructor arguments, with its defaults. */
export interface Sam2ModelConfig {
  _target_?: string;
  image_encoder: ImageEncoderConfig;
  memory_attention: MemoryAttentionConfig;
  memory_encoder: MemoryEncoderConfig;
  num_maskmem: number;
  image_size: number;
  backbone_stride: number;
  sigmoid_scale_for_mem_enc: number;
  sigmoid_bias_for_mem_enc: number;
  binarize_mask_from_pts_for_mem_enc: boolean;
  use_mask_input_as_output_without_sam: boolean;
  max_cond_frames_in_attn: number;
  directly_add_no_mem_embed: boolean;
  use_high_res_features_in_sam: boolean;
  multimask_output_in_sam: boolean;
  multimask_min_pt_num: number;
  multimask_max_pt_num: number;
  multimask_output_for_tracking: boolean;
  use_multimask_token_for_obj_ptr: boolean;
  iou_prediction_use_sigmoid: boolean;
  memory_temporal_stride_for_eval: number;
  non_overlap_masks_for_mem_enc: boolean;
  use_obj_ptrs_in_encoder: boolean;
  max_obj_ptrs_in_encoder: number;
  add_tpos_enc_to_obj_ptrs: boolean;
  proj_tpos_enc_in_obj_ptrs: boolean;
  use_signed_tpos_enc_to_obj_ptrs: boolean;
  only_obj_ptrs_in_the_past_for_eval: boolean;
  pred_obj_scores: boolean;
  pred_obj_scores_mlp: boolean;
  fixed_no_obj_ptr: boolean;
  soft_no_obj_ptr: boolean;
  use_mlp_for_obj_ptr_proj: boolean;
  no_obj_embed_spatial: boolean;
  sam_mask_decoder_extra_args: MaskDecoderExtraArgs | null;
  /** Predictor setting (build_sam2_video_predictor); 0 = no hole filling. */
  fill_hole_area: number;
  /** torch.compile of the image encoder in the official code; no effect here. */
  compile_image_encoder?: boolean;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object | null ? DeepPartial<T[K]> : T[K] };

/** A yaml `model:` section as written: only what the file sets, defaults left to `resolveModelConfig`. */
export type Sam2ModelSection = DeepPartial<Sam2ModelConfig>;

/** The settings `build_sam2_video_predictor` adds on top of the yaml. */
export interface PredictorSettings {
  sam_mask_decoder_extra_args?: MaskDecoderExtraArgs | null;
  binarize_mask_from_pts_for_mem_enc?: boolean;
  fill_hole_area?: number;
}

/** The JSON form written by `convert` and read by the loader: the yaml's `model:` plus a name. */
export interface Sam2ConfigFile {
  name?: string;
  sam2_version?: '2.0' | '2.1';
  model: Sam2ModelSection;
  /** Present in the golden configs; merged over the model section by `resolveModelConfig`. */
  predictor_settings?: PredictorSettings;
}

const POSITION_ENCODING_DEFAULTS = { normalize: true, scale: null, temperature: 10000 };

/** Golden predictor settings (README point 3): the official video predictor's, without hole filling. */
export const PREDICTOR_DEFAULTS = {
  sam_mask_decoder_extra_args: {
    dynamic_multimask_via_stability: true,
    dynamic_multimask_stability_delta: 0.05,
    dynamic_multimask_stability_thresh: 0.98,
  },
  binarize_mask_from_pts_for_mem_enc: true,
  fill_hole_area: 0,
};

/**
 * SAM2Base.__init__ defaults (sam2_base.py at 2b90b9f5); PREDICTOR_DEFAULTS override the extra args and binarize flag.
 * image_size (512 in the constructor) is left out: every official yaml sets it, and a config without it would
 * silently run at a resolution its weights were not trained for, so a missing one is an error.
 */
const SAM2BASE_DEFAULTS = {
  num_maskmem: 7,
  backbone_stride: 16,
  sigmoid_scale_for_mem_enc: 1.0,
  sigmoid_bias_for_mem_enc: 0.0,
  binarize_mask_from_pts_for_mem_enc: false,
  use_mask_input_as_output_without_sam: false,
  max_cond_frames_in_attn: -1,
  directly_add_no_mem_embed: false,
  use_high_res_features_in_sam: false,
  multimask_output_in_sam: false,
  multimask_min_pt_num: 1,
  multimask_max_pt_num: 1,
  multimask_output_for_tracking: false,
  use_multimask_token_for_obj_ptr: false,
  iou_prediction_use_sigmoid: false,
  memory_temporal_stride_for_eval: 1,
  non_overlap_masks_for_mem_enc: false,
  use_obj_ptrs_in_encoder: false,
  max_obj_ptrs_in_encoder: 16,
  add_tpos_enc_to_obj_ptrs: true,
  proj_tpos_enc_in_obj_ptrs: false,
  use_signed_tpos_enc_to_obj_ptrs: false,
  only_obj_ptrs_in_the_past_for_eval: false,
  pred_obj_scores: false,
  pred_obj_scores_mlp: false,
  fixed_no_obj_ptr: false,
  soft_no_obj_ptr: false,
  use_mlp_for_obj_ptr_proj: false,
  no_obj_embed_spatial: false,
  sam_mask_decoder_extra_args: null,
  compile_image_encoder: false,
};

type Json = Record<string, unknown>;

function obj(raw: unknown, where: string): Json {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: expected an object, found ${JSON.stringify(raw)}`);
  return raw as Json;
}

function withDefaults<T>(raw: unknown, where: string, defaults: Partial<T>, required: (keyof T)[]): T {
  const o = { ...defaults, ...obj(raw, where) } as Json;
  for (const k of required) {
    if (o[k as string] === undefined) throw new ConfigError(`${where}.${String(k)} is required`);
  }
  return o as T;
}

function positionEncoding(raw: unknown, where: string): PositionEncodingConfig {
  return withDefaults<PositionEncodingConfig>(raw, where, POSITION_ENCODING_DEFAULTS, ['num_pos_feats']);
}

function ropeAttention(raw: unknown, where: string): RoPEAttentionConfig {
  return withDefaults<RoPEAttentionConfig>(raw, where, {
    rope_theta: 10000, feat_sizes: [64, 64], rope_k_repeat: false, downsample_rate: 1, dropout: 0, kv_in_dim: null,
  }, ['embedding_dim', 'num_heads']);
}

/**
 * Fills the official constructors' defaults into a yaml/JSON model section. Accepts the section itself,
 * `{model: ...}`, or a golden config (whose `predictor_settings` are merged in, as the predictor builder does).
 */
export function resolveModelConfig(raw: unknown): Sam2ModelConfig {
  const top = obj(raw, 'config');
  const modelRaw = obj(top.model ?? top, 'config.model');
  const settings = top.predictor_settings ? obj(top.predictor_settings, 'config.predictor_settings') : {};
  const m = { ...SAM2BASE_DEFAULTS, ...PREDICTOR_DEFAULTS, ...settings, ...modelRaw } as Json;

  const ie = obj(m.image_encoder, 'model.image_encoder');
  const trunk = withDefaults<HieraConfig>(ie.trunk, 'model.image_encoder.trunk', {
    embed_dim: 96, num_heads: 1, drop_path_rate: 0, q_pool: 3, q_stride: [2, 2], stages: [2, 3, 16, 3], dim_mul: 2, head_mul: 2,
    window_pos_embed_bkg_spatial_size: [14, 14], window_spec: [8, 4, 14, 7], global_att_blocks: [12, 16, 20], return_interm_layers: true,
  }, []);
  const neckRaw = obj(ie.neck, 'model.image_encoder.neck');
  const neck = withDefaults<FpnNeckConfig>(neckRaw, 'model.image_encoder.neck', {
    kernel_size: 1, stride: 1, padding: 0, fpn_interp_model: 'bilinear', fuse_type: 'sum', fpn_top_down_levels: null,
  }, ['d_model', 'backbone_channel_list']);
  neck.position_encoding = positionEncoding(neckRaw.position_encoding, 'model.image_encoder.neck.position_encoding');
  const image_encoder: ImageEncoderConfig = { ...(ie as object), scalp: (ie.scalp as number) ?? 0, trunk, neck };

  const maRaw = obj(m.memory_attention, 'model.memory_attention');
  const layerRaw = obj(maRaw.layer, 'model.memory_attention.layer');
  const layer = withDefaults<MemoryAttentionLayerConfig>(layerRaw, 'model.memory_attention.layer', {
    activation: 'relu', dropout: 0.1, pos_enc_at_attn: false, pos_enc_at_cross_attn_keys: true, pos_enc_at_cross_attn_queries: false,
  }, ['d_model', 'dim_feedforward']);
  layer.self_attention = ropeAttention(layerRaw.self_attention, 'model.memory_attention.layer.self_attention');
  layer.cross_attention = ropeAttention(layerRaw.cross_attention, 'model.memory_attention.layer.cross_attention');
  const memory_attention = withDefaults<MemoryAttentionConfig>(maRaw, 'model.memory_attention', { pos_enc_at_input: true }, ['d_model', 'num_layers']);
  memory_attention.layer = layer;

  const meRaw = obj(m.memory_encoder, 'model.memory_encoder');
  const fuserRaw = obj(meRaw.fuser, 'model.memory_encoder.fuser');
  const memory_encoder = withDefaults<MemoryEncoderConfig>(meRaw, 'model.memory_encoder', { in_dim: 256 }, ['out_dim']);
  memory_encoder.position_encoding = positionEncoding(meRaw.position_encoding, 'model.memory_encoder.position_encoding');
  memory_encoder.mask_downsampler = withDefaults<MaskDownSamplerConfig>(meRaw.mask_downsampler, 'model.memory_encoder.mask_downsampler',
    { kernel_size: 4, stride: 4, padding: 0, embed_dim: 256, total_stride: 16 }, []);
  memory_encoder.fuser = {
    ...(fuserRaw as object),
    layer: withDefaults<CXBlockConfig>(fuserRaw.layer, 'model.memory_encoder.fuser.layer',
      { kernel_size: 7, padding: 3, drop_path: 0, layer_scale_init_value: 1e-6, use_dwconv: true }, ['dim']),
    num_layers: (fuserRaw.num_layers as number) ?? 2,
    input_projection: (fuserRaw.input_projection as boolean) ?? false,
  };

  const extra = m.sam_mask_decoder_extra_args == null ? null : obj(m.sam_mask_decoder_extra_args, 'model.sam_mask_decoder_extra_args');
  if (m.image_size === undefined) throw new ConfigError('model.image_size is required (1024 for the official checkpoints)');
  const config = {
    ...(m as object),
    image_encoder,
    memory_attention,
    memory_encoder,
    sam_mask_decoder_extra_args: extra as MaskDecoderExtraArgs | null,
  } as Sam2ModelConfig;
  validateConfig(config);
  checkImageSize(m.image_size, trunk, m.backbone_stride);
  return config;
}

// ---------------------------------------------------------------------------------------------------------
// Types and ranges of every field

/** Larger than any layer width, kernel or count a SAM 2 model has: a bigger value is a typo, not a model. */
const MAX_SIZE = 1 << 16;
/** The largest image side accepted (the official models use 1024): one frame's features grow with its square. */
export const MAX_IMAGE_SIZE = 8192;

type FieldRule =
  | { kind: 'bool' }
  | { kind: 'int'; min: number; max?: number; also?: number[] }
  | { kind: 'num'; min?: number; max?: number; above?: number }
  | { kind: 'ints'; min: number; length?: number; nonEmpty?: boolean }
  | { kind: 'enum'; values: readonly string[] };

const BOOL: FieldRule = { kind: 'bool' };
const SIZE: FieldRule = { kind: 'int', min: 1, max: MAX_SIZE };
const COUNT: FieldRule = { kind: 'int', min: 0, max: MAX_SIZE };
const FINITE: FieldRule = { kind: 'num' };
const PROBABILITY: FieldRule = { kind: 'num', min: 0, max: 1 };
const POSITIVE: FieldRule = { kind: 'num', above: 0 };
const PAIR: FieldRule = { kind: 'ints', min: 1, length: 2 };
const nullable = (r: FieldRule): FieldRule & { nullable: true } => ({ ...r, nullable: true });

type Rules = Record<string, FieldRule & { nullable?: boolean }>;

const POSITION_ENCODING_RULES: Rules = { num_pos_feats: SIZE, normalize: BOOL, scale: nullable(FINITE), temperature: POSITIVE };
const ROPE_RULES: Rules = {
  rope_theta: POSITIVE, feat_sizes: PAIR, rope_k_repeat: BOOL, embedding_dim: SIZE, num_heads: SIZE, downsample_rate: SIZE,
  dropout: PROBABILITY, kv_in_dim: nullable(SIZE),
};

const MODEL_RULES: Rules = {
  num_maskmem: SIZE,
  backbone_stride: SIZE,
  sigmoid_scale_for_mem_enc: FINITE,
  sigmoid_bias_for_mem_enc: FINITE,
  max_cond_frames_in_attn: { kind: 'int', min: 1, max: Number.MAX_SAFE_INTEGER, also: [-1] },
  multimask_min_pt_num: COUNT,
  multimask_max_pt_num: COUNT,
  memory_temporal_stride_for_eval: SIZE,
  max_obj_ptrs_in_encoder: SIZE,
  fill_hole_area: { kind: 'num', min: 0 },
  ...Object.fromEntries([
    'binarize_mask_from_pts_for_mem_enc', 'use_mask_input_as_output_without_sam', 'directly_add_no_mem_embed', 'use_high_res_features_in_sam',
    'multimask_output_in_sam', 'multimask_output_for_tracking', 'use_multimask_token_for_obj_ptr', 'iou_prediction_use_sigmoid',
    'non_overlap_masks_for_mem_enc', 'use_obj_ptrs_in_encoder', 'add_tpos_enc_to_obj_ptrs', 'proj_tpos_enc_in_obj_ptrs',
    'use_signed_tpos_enc_to_obj_ptrs', 'only_obj_ptrs_in_the_past_for_eval', 'pred_obj_scores', 'pred_obj_scores_mlp', 'fixed_no_obj_ptr',
    'soft_no_obj_ptr', 'use_mlp_for_obj_ptr_proj', 'no_obj_embed_spatial', 'compile_image_encoder',
  ].map((k) => [k, BOOL])),
};

/** Each section of the resolved config and its rules (`path` from the config's root). */
function sections(c: Sam2ModelConfig): [string, unknown, Rules][] {
  const ie = c.image_encoder;
  const ma = c.memory_attention;
  const me = c.memory_encoder;
  return [
    ['model', c, MODEL_RULES],
    ['model.image_encoder', ie, { scalp: COUNT }],
    ['model.image_encoder.trunk', ie.trunk, {
      embed_dim: SIZE, num_heads: SIZE, drop_path_rate: PROBABILITY, q_pool: COUNT, q_stride: PAIR, stages: { kind: 'ints', min: 1, nonEmpty: true },
      dim_mul: POSITIVE, head_mul: POSITIVE, window_pos_embed_bkg_spatial_size: PAIR, window_spec: { kind: 'ints', min: 0, length: ie.trunk.stages?.length },
      global_att_blocks: { kind: 'ints', min: 0 }, return_interm_layers: BOOL,
    }],
    ['model.image_encoder.neck', ie.neck, {
      d_model: SIZE, backbone_channel_list: { kind: 'ints', min: 1, nonEmpty: true }, kernel_size: SIZE, stride: SIZE, padding: COUNT,
      fpn_interp_model: { kind: 'enum', values: ['nearest', 'bilinear'] }, fuse_type: { kind: 'enum', values: ['sum', 'avg'] },
      fpn_top_down_levels: nullable({ kind: 'ints', min: 0 }),
    }],
    ['model.image_encoder.neck.position_encoding', ie.neck.position_encoding, POSITION_ENCODING_RULES],
    ['model.memory_attention', ma, { d_model: SIZE, pos_enc_at_input: BOOL, num_layers: SIZE }],
    ['model.memory_attention.layer', ma.layer, {
      activation: { kind: 'enum', values: ['relu', 'gelu'] }, dim_feedforward: SIZE, dropout: PROBABILITY, pos_enc_at_attn: BOOL, d_model: SIZE,
      pos_enc_at_cross_attn_keys: BOOL, pos_enc_at_cross_attn_queries: BOOL,
    }],
    ['model.memory_attention.layer.self_attention', ma.layer.self_attention, ROPE_RULES],
    ['model.memory_attention.layer.cross_attention', ma.layer.cross_attention, ROPE_RULES],
    ['model.memory_encoder', me, { out_dim: SIZE, in_dim: SIZE }],
    ['model.memory_encoder.position_encoding', me.position_encoding, POSITION_ENCODING_RULES],
    ['model.memory_encoder.mask_downsampler', me.mask_downsampler, { kernel_size: SIZE, stride: SIZE, padding: COUNT, embed_dim: SIZE, total_stride: SIZE }],
    ['model.memory_encoder.fuser', me.fuser, { num_layers: COUNT, input_projection: BOOL }],
    ['model.memory_encoder.fuser.layer', me.fuser.layer, {
      dim: SIZE, kernel_size: SIZE, padding: COUNT, drop_path: PROBABILITY, layer_scale_init_value: FINITE, use_dwconv: BOOL,
    }],
    ['model.sam_mask_decoder_extra_args', c.sam_mask_decoder_extra_args, {
      dynamic_multimask_via_stability: BOOL, dynamic_multimask_stability_delta: { kind: 'num', min: 0 }, dynamic_multimask_stability_thresh: FINITE,
    }],
  ];
}

function describeRule(r: FieldRule): string {
  switch (r.kind) {
    case 'bool': return 'true or false';
    case 'int': return `an integer ${r.also?.length ? `(${r.also.join(', ')} or ` : ''}${r.max === undefined || r.max >= Number.MAX_SAFE_INTEGER ? `≥ ${r.min}` : `in ${r.min}..${r.max}`}${r.also?.length ? ')' : ''}`;
    case 'num': return `a finite number${r.above !== undefined ? ` > ${r.above}` : ''}${r.min !== undefined ? ` ≥ ${r.min}` : ''}${r.max !== undefined ? ` ≤ ${r.max}` : ''}`;
    case 'ints': return `a list of ${r.length !== undefined ? `${r.length} ` : ''}integers ≥ ${r.min}`;
    case 'enum': return r.values.map((v) => JSON.stringify(v)).join(' or ');
  }
}

function fits(v: unknown, r: FieldRule): boolean {
  const int = (x: unknown, min: number, max = MAX_SIZE) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
  switch (r.kind) {
    case 'bool': return typeof v === 'boolean';
    case 'int': return (typeof v === 'number' && (r.also ?? []).includes(v)) || int(v, r.min, r.max ?? MAX_SIZE);
    case 'num':
      return typeof v === 'number' && Number.isFinite(v) && (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max)
        && (r.above === undefined || v > r.above);
    case 'ints':
      return Array.isArray(v) && v.every((x) => int(x, r.min)) && (r.length === undefined || v.length === r.length) && (!r.nonEmpty || v.length > 0);
    case 'enum': return typeof v === 'string' && r.values.includes(v);
  }
}

/** Throws a ConfigError naming the first field of the wrong type or out of its range, and what it must be. */
function validateConfig(c: Sam2ModelConfig): void {
  for (const [where, section, rules] of sections(c)) {
    if (section === null) continue;
    const o = section as Json;
    for (const [key, rule] of Object.entries(rules)) {
      const v = o[key];
      if (v === undefined && key === 'compile_image_encoder') continue;
      if (v === null && rule.nullable) continue;
      if (v === undefined) throw new ConfigError(`${where}.${key} is required (${describeRule(rule)})`);
      if (!fits(v, rule)) {
        throw new ConfigError(`${where}.${key} must be ${describeRule(rule)}${rule.nullable ? ' or null' : ''}, found ${JSON.stringify(v)}`);
      }
    }
  }
}

/** Hiera's patch embedding stride (a constant of the official Hiera, not in the yaml). */
const HIERA_PATCH_STRIDE = 4;

/**
 * The image side must be a whole number of the trunk's coarsest stride (patch stride × q_stride^q_pool: 32 for
 * every official variant): the neck adds each level to the 2× upsampled coarser one, and the SAM heads read
 * the stride-`backbone_stride` level, so other sizes give maps that do not line up.
 */
function checkImageSize(size: unknown, trunk: HieraConfig, backboneStride: unknown): void {
  const coarsest = HIERA_PATCH_STRIDE * Math.max(...trunk.q_stride) ** trunk.q_pool;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const stride = Number.isInteger(backboneStride) && (backboneStride as number) > 0 ? (coarsest * (backboneStride as number)) / gcd(coarsest, backboneStride as number) : coarsest;
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0 || size % stride !== 0 || size > MAX_IMAGE_SIZE) {
    throw new ConfigError(`model.image_size must be a positive multiple of ${stride} (the image encoder's coarsest stride) ` +
      `up to ${MAX_IMAGE_SIZE}, found ${JSON.stringify(size)}`);
  }
}

/** Sizes every module derives from the config (hard-coded in SAM2Base._build_sam_heads where noted). */
export interface DerivedSizes {
  hiddenDim: number;
  memDim: number;
  /** Feature-map side at stride 16: image_size / backbone_stride. */
  embedSize: number;
  lowResSize: number;
  memoryTokensPerFrame: number;
  tokensPerPointer: number;
}

export function derivedSizes(c: Sam2ModelConfig): DerivedSizes {
  const hiddenDim = c.image_encoder.neck.d_model;
  const memDim = c.memory_encoder.out_dim;
  const embedSize = c.image_size / c.backbone_stride;
  return {
    hiddenDim,
    memDim,
    embedSize,
    lowResSize: embedSize * 4,
    memoryTokensPerFrame: embedSize * embedSize,
    // SAM2Base splits a pointer of hidden_dim into hidden_dim/mem_dim tokens when mem_dim is smaller.
    tokensPerPointer: memDim < hiddenDim ? hiddenDim / memDim : 1,
  };
}

/**
 * How many object pointers a frame attends to, the conditioning frame's included: max_obj_ptrs_in_encoder,
 * capped by the video length (num_frames; Infinity for a stream not read to its end).
 */
export function objectPointerLimit(c: Pick<Sam2ModelConfig, 'max_obj_ptrs_in_encoder'>, numFrames: number): number {
  return Math.min(numFrames, c.max_obj_ptrs_in_encoder);
}

/** SAM2Base._build_sam_heads constants (not in the yaml). */
export const MASK_DECODER_CONSTANTS = {
  transformerDepth: 2,
  transformerMlpDim: 2048,
  transformerNumHeads: 8,
  attentionDownsampleRate: 2,
  iouHeadDepth: 3,
  iouHeadHiddenDim: 256,
  numMultimaskOutputs: 3,
} as const;

/** Finds hydra `${...}` interpolations, which this loader does not resolve. */
function findInterpolation(v: unknown, where: string): string | null {
  if (typeof v === 'string') return v.includes('${') ? where : null;
  if (v === null || typeof v !== 'object') return null;
  for (const [k, x] of Object.entries(v)) {
    const found = findInterpolation(x, `${where}.${k}`);
    if (found) return found;
  }
  return null;
}

/**
 * Reads a config document: an official yaml (`model:` at the top, `_target_` entries), our JSON
 * (`{name, sam2_version, model, predictor_settings?}`, as written by `convert` and the golden configs), or a
 * bare model section. `format` picks the parser; YAML also reads JSON. The model is validated by resolving it.
 */
export function parseConfigText(text: string, format: 'json' | 'yaml', source = 'config'): Sam2ConfigFile {
  let doc: unknown;
  try {
    doc = format === 'json' ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid ${format.toUpperCase()} (${(err as Error).message.split('\n')[0]})`);
  }
  const top = obj(doc, source);
  const bare = top.model === undefined && top.image_encoder !== undefined;
  if (!bare && top.model === undefined) throw new ConfigError(`${source}: no 'model' section`);
  const model = obj(bare ? top : top.model, `${source}: model`);
  const interpolated = findInterpolation(model, 'model');
  if (interpolated) throw new ConfigError(`${source}: ${interpolated} uses a hydra interpolation, which is not supported: write the value`);
  const version = bare ? undefined : top.sam2_version;
  if (version !== undefined && version !== '2.0' && version !== '2.1') throw new ConfigError(`${source}: sam2_version is ${JSON.stringify(version)}, expected "2.0" or "2.1"`);
  const file: Sam2ConfigFile = { model: model as Sam2ModelSection };
  if (!bare && typeof top.name === 'string') file.name = top.name;
  if (version) file.sam2_version = version;
  if (!bare && top.predictor_settings !== undefined) file.predictor_settings = obj(top.predictor_settings, `${source}: predictor_settings`) as PredictorSettings;
  resolveModelConfig(file);
  return file;
}
