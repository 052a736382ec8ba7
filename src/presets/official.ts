/**
 * The eight official model configs: the `model:` sections of facebookresearch/sam2's
 * configs/sam2/sam2_hiera_{t,s,b+,l}.yaml and configs/sam2.1/sam2.1_hiera_{t,s,b+,l}.yaml (commit 2b90b9f5),
 * as data. The sizes differ only in the Hiera trunk and the neck's channel list; SAM 2.1 differs from
 * SAM 2 only in the object-pointer / no-object flags.
 */
import type { HieraConfig, RoPEAttentionConfig, Sam2ModelSection } from '../config.js';

export const SAM2_VERSIONS = ['2.0', '2.1'] as const;
export type Sam2Version = (typeof SAM2_VERSIONS)[number];

export const SAM2_SIZES = ['tiny', 'small', 'base_plus', 'large'] as const;
export type Sam2Size = (typeof SAM2_SIZES)[number];

export interface OfficialVariant {
  version: Sam2Version;
  size: Sam2Size;
  /** The official checkpoint's name, e.g. 'sam2.1_hiera_base_plus'. */
  name: string;
  /** The official yaml, relative to the sam2 package. */
  yaml: string;
}

const SIZE_SUFFIX: Record<Sam2Size, string> = { tiny: 't', small: 's', base_plus: 'b+', large: 'l' };

/** What each size sets in the trunk (the rest are Hiera's defaults), and the matching neck channels. */
const TRUNKS: Record<Sam2Size, { trunk: Partial<HieraConfig>; channels: number[] }> = {
  tiny: {
    trunk: { embed_dim: 96, num_heads: 1, stages: [1, 2, 7, 2], global_att_blocks: [5, 7, 9], window_pos_embed_bkg_spatial_size: [7, 7] },
    channels: [768, 384, 192, 96],
  },
  small: {
    trunk: { embed_dim: 96, num_heads: 1, stages: [1, 2, 11, 2], global_att_blocks: [7, 10, 13], window_pos_embed_bkg_spatial_size: [7, 7] },
    channels: [768, 384, 192, 96],
  },
  base_plus: {
    trunk: { embed_dim: 112, num_heads: 2 },
    channels: [896, 448, 224, 112],
  },
  large: {
    trunk: {
      embed_dim: 144, num_heads: 2, stages: [2, 6, 36, 4], global_att_blocks: [23, 33, 43], window_pos_embed_bkg_spatial_size: [7, 7],
      window_spec: [8, 4, 16, 8],
    },
    channels: [1152, 576, 288, 144],
  },
};

const T = {
  base: 'sam2.modeling.sam2_base.SAM2Base',
  imageEncoder: 'sam2.modeling.backbones.image_encoder.ImageEncoder',
  hiera: 'sam2.modeling.backbones.hieradet.Hiera',
  fpn: 'sam2.modeling.backbones.image_encoder.FpnNeck',
  sine: 'sam2.modeling.position_encoding.PositionEmbeddingSine',
  memoryAttention: 'sam2.modeling.memory_attention.MemoryAttention',
  memoryAttentionLayer: 'sam2.modeling.memory_attention.MemoryAttentionLayer',
  rope: 'sam2.modeling.sam.transformer.RoPEAttention',
  memoryEncoder: 'sam2.modeling.memory_encoder.MemoryEncoder',
  maskDownSampler: 'sam2.modeling.memory_encoder.MaskDownSampler',
  fuser: 'sam2.modeling.memory_encoder.Fuser',
  cxBlock: 'sam2.modeling.memory_encoder.CXBlock',
};

function ropeAttention(crossAttention: boolean): Partial<RoPEAttentionConfig> {
  return {
    _target_: T.rope,
    rope_theta: 10000,
    feat_sizes: [64, 64],
    ...(crossAttention ? { rope_k_repeat: true } : {}),
    embedding_dim: 256,
    num_heads: 1,
    downsample_rate: 1,
    dropout: 0.1,
    ...(crossAttention ? { kv_in_dim: 64 } : {}),
  };
}

/** The yaml `model:` section of one official variant. */
export function officialModelSection(version: Sam2Version, size: Sam2Size): Sam2ModelSection {
  const { trunk, channels } = TRUNKS[size];
  const objectPointerFlags = version === '2.1'
    ? { add_tpos_enc_to_obj_ptrs: true, proj_tpos_enc_in_obj_ptrs: true, use_signed_tpos_enc_to_obj_ptrs: true }
    : { add_tpos_enc_to_obj_ptrs: false };
  return {
    _target_: T.base,
    image_encoder: {
      _target_: T.imageEncoder,
      scalp: 1,
      trunk: { _target_: T.hiera, ...trunk },
      neck: {
        _target_: T.fpn,
        position_encoding: { _target_: T.sine, num_pos_feats: 256, normalize: true, scale: null, temperature: 10000 },
        d_model: 256,
        backbone_channel_list: [...channels],
        fpn_top_down_levels: [2, 3],
        fpn_interp_model: 'nearest',
      },
    },
    memory_attention: {
      _target_: T.memoryAttention,
      d_model: 256,
      pos_enc_at_input: true,
      layer: {
        _target_: T.memoryAttentionLayer,
        activation: 'relu',
        dim_feedforward: 2048,
        dropout: 0.1,
        pos_enc_at_attn: false,
        self_attention: ropeAttention(false),
        d_model: 256,
        pos_enc_at_cross_attn_keys: true,
        pos_enc_at_cross_attn_queries: false,
        cross_attention: ropeAttention(true),
      },
      num_layers: 4,
    },
    memory_encoder: {
      _target_: T.memoryEncoder,
      out_dim: 64,
      position_encoding: { _target_: T.sine, num_pos_feats: 64, normalize: true, scale: null, temperature: 10000 },
      mask_downsampler: { _target_: T.maskDownSampler, kernel_size: 3, stride: 2, padding: 1 },
      fuser: {
        _target_: T.fuser,
        layer: { _target_: T.cxBlock, dim: 256, kernel_size: 7, padding: 3, layer_scale_init_value: 1e-6, use_dwconv: true },
        num_layers: 2,
      },
    },
    num_maskmem: 7,
    image_size: 1024,
    sigmoid_scale_for_mem_enc: 20,
    sigmoid_bias_for_mem_enc: -10,
    use_mask_input_as_output_without_sam: true,
    directly_add_no_mem_embed: true,
    ...(version === '2.1' ? { no_obj_embed_spatial: true } : {}),
    use_high_res_features_in_sam: true,
    multimask_output_in_sam: true,
    iou_prediction_use_sigmoid: true,
    use_obj_ptrs_in_encoder: true,
    ...objectPointerFlags,
    only_obj_ptrs_in_the_past_for_eval: true,
    pred_obj_scores: true,
    pred_obj_scores_mlp: true,
    fixed_no_obj_ptr: true,
    multimask_output_for_tracking: true,
    use_multimask_token_for_obj_ptr: true,
    multimask_min_pt_num: 0,
    multimask_max_pt_num: 1,
    use_mlp_for_obj_ptr_proj: true,
    compile_image_encoder: false,
  };
}

export function officialVariant(version: Sam2Version, size: Sam2Size): OfficialVariant {
  const stem = version === '2.1' ? 'sam2.1' : 'sam2';
  return { version, size, name: `${stem}_hiera_${size}`, yaml: `configs/${stem}/${stem}_hiera_${SIZE_SUFFIX[size]}.yaml` };
}

export const OFFICIAL_VARIANTS: readonly OfficialVariant[] = SAM2_VERSIONS.flatMap((v) => SAM2_SIZES.map((s) => officialVariant(v, s)));
