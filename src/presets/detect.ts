/**
 * Which model a state dict is, from its keys and shapes alone. A fingerprint collects what the weights
 * reveal about the config (trunk width, blocks per stage, position-embedding sizes, neck and memory widths,
 * memory-attention depth, the SAM 2.1-only parameters); detection matches it against the fingerprints of
 * the official configs, and a given config is checked against it the same way.
 */
import { ConfigError } from '../errors.js';
import { resolveModelConfig, type Sam2ConfigFile, type Sam2ModelConfig } from '../config.js';
import { OFFICIAL_VARIANTS, officialModelSection, type OfficialVariant } from './official.js';

export interface ModelFingerprint {
  trunkEmbedDim: number;
  /** Hiera blocks per stage. */
  stages: number[];
  /** Hiera window_pos_embed_bkg_spatial_size. */
  posEmbedSize: number[];
  /** Hiera window_spec[0] (the size of pos_embed_window). */
  firstWindowSize: number;
  neckDim: number;
  memDim: number;
  numMaskmem: number;
  memoryAttentionLayers: number;
  memoryAttentionFeedforward: number;
  noObjEmbedSpatial: boolean;
  objPtrTposProj: boolean;
}

export type KeyShapes = ReadonlyMap<string, readonly number[]>;

function shapeOf(shapes: KeyShapes, key: string): readonly number[] {
  const s = shapes.get(key);
  if (!s) throw new ConfigError(`not a SAM 2 state dict: no '${key}'`);
  return s;
}

/** Largest N + 1 over keys `<prefix>N.…`. */
function countIndexed(shapes: KeyShapes, prefix: string): number {
  let n = 0;
  for (const key of shapes.keys()) {
    if (!key.startsWith(prefix)) continue;
    const i = Number.parseInt(key.slice(prefix.length), 10);
    if (Number.isInteger(i)) n = Math.max(n, i + 1);
  }
  return n;
}

export function fingerprintOfStateDict(shapes: KeyShapes): ModelFingerprint {
  const trunk = 'image_encoder.trunk.';
  const depth = countIndexed(shapes, `${trunk}blocks.`);
  // The first block of every stage after the first changes width and so carries a `proj`.
  const starts = [0];
  for (let i = 1; i < depth; i++) if (shapes.has(`${trunk}blocks.${i}.proj.weight`)) starts.push(i);
  const stages = starts.map((s, i) => (starts[i + 1] ?? depth) - s);
  const maskmem = shapeOf(shapes, 'maskmem_tpos_enc');
  return {
    trunkEmbedDim: shapeOf(shapes, `${trunk}patch_embed.proj.weight`)[0],
    stages,
    posEmbedSize: shapeOf(shapes, `${trunk}pos_embed`).slice(2),
    firstWindowSize: shapeOf(shapes, `${trunk}pos_embed_window`)[2],
    neckDim: shapeOf(shapes, 'image_encoder.neck.convs.0.conv.weight')[0],
    memDim: maskmem[3],
    numMaskmem: maskmem[0],
    memoryAttentionLayers: countIndexed(shapes, 'memory_attention.layers.'),
    memoryAttentionFeedforward: shapeOf(shapes, 'memory_attention.layers.0.linear1.weight')[0],
    noObjEmbedSpatial: shapes.has('no_obj_embed_spatial'),
    objPtrTposProj: shapes.has('obj_ptr_tpos_proj.weight'),
  };
}

export function fingerprintOfConfig(c: Sam2ModelConfig): ModelFingerprint {
  const t = c.image_encoder.trunk;
  return {
    trunkEmbedDim: t.embed_dim,
    stages: [...t.stages],
    posEmbedSize: [...t.window_pos_embed_bkg_spatial_size],
    firstWindowSize: t.window_spec[0],
    neckDim: c.image_encoder.neck.d_model,
    memDim: c.memory_encoder.out_dim,
    numMaskmem: c.num_maskmem,
    memoryAttentionLayers: c.memory_attention.num_layers,
    memoryAttentionFeedforward: c.memory_attention.layer.dim_feedforward,
    noObjEmbedSpatial: c.no_obj_embed_spatial,
    objPtrTposProj: c.proj_tpos_enc_in_obj_ptrs,
  };
}

/** The fields where two fingerprints differ, as `field: a vs b`. */
export function fingerprintDifferences(a: ModelFingerprint, b: ModelFingerprint): string[] {
  return (Object.keys(a) as (keyof ModelFingerprint)[])
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => `${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`);
}

function describe(f: ModelFingerprint): string {
  return `trunk width ${f.trunkEmbedDim}, stages [${f.stages}], neck ${f.neckDim}, memory ${f.memDim}, ` +
    `${f.memoryAttentionLayers} memory-attention layers${f.objPtrTposProj ? ', SAM 2.1 pointer projection' : ''}`;
}

/** The official variant whose config fits these keys and shapes; ConfigError when none does. */
export function detectVariant(shapes: KeyShapes): OfficialVariant {
  const found = fingerprintOfStateDict(shapes);
  const match = OFFICIAL_VARIANTS.filter((v) => {
    const expected = fingerprintOfConfig(resolveModelConfig(officialModelSection(v.version, v.size)));
    return fingerprintDifferences(expected, found).length === 0;
  });
  if (match.length !== 1) {
    throw new ConfigError(`not an official SAM 2 variant: pass --config (the checkpoint has ${describe(found)})`);
  }
  return match[0];
}

/** Throws ConfigError listing what in `config` does not fit the checkpoint's keys and shapes. */
export function checkConfigFits(config: Sam2ModelConfig, shapes: KeyShapes, source = 'config'): void {
  const diffs = fingerprintDifferences(fingerprintOfConfig(config), fingerprintOfStateDict(shapes));
  if (diffs.length) throw new ConfigError(`${source} does not fit the checkpoint (config vs checkpoint):\n  ${diffs.join('\n  ')}`);
}

/**
 * The model config for a checkpoint: the given config document, else the official variant its keys and shapes
 * match; either way checked against those shapes (ConfigError naming the source when it does not fit).
 */
export function checkpointConfig(shapes: KeyShapes, given?: { doc: Sam2ConfigFile; source: string }): Sam2ModelConfig {
  let doc = given?.doc;
  let source = given?.source;
  if (!doc) {
    const v = detectVariant(shapes);
    doc = { name: v.name, sam2_version: v.version, model: officialModelSection(v.version, v.size) };
    source = `detected ${v.name}`;
  }
  const config = resolveModelConfig(doc);
  checkConfigFits(config, shapes, source);
  return config;
}
