/**
 * The settings of a dataset run: what decides a video's output. Two runs with equal settings write the same
 * masks, so a video finished under equal settings is skipped, and queue job ids are made from them.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../errors.js';

/**
 * The three ways of the official scripts (../shared/golden/vos/README.md):
 * - 'sam2': sam2's `vos_inference`, every object of the first annotated frame in one state;
 * - 'sam2-later': sam2's `vos_separate_inference_per_object` (`--track_object_appearing_later_in_video`),
 *   each object from the first frame it appears on;
 * - 'sam2long': SAM2Long's script, which always tracks each object from its first frame, with a memory tree.
 */
export type VosMode = 'sam2' | 'sam2-later' | 'sam2long';

export interface VosTreeSettings {
  pathways: number;
  iouThreshold: number;
  uncertainty: number;
}

export interface VosSettings {
  /** The model file, as an absolute path (workers on other machines must see it under the same path). */
  model: string;
  /** A config file for the model, when not the one beside / detected for it. */
  config?: string;
  mode: VosMode;
  /** SAM2Long's tree options (mode 'sam2long' only). */
  tree?: VosTreeSettings;
  /** Every annotation PNG is a prompt (`--use_all_masks`), not only the first. */
  useAllMasks: boolean;
  /** SA-V layout in and out: one folder of PNGs per object, and no non-overlap (as the official script). */
  perObjectPng: boolean;
}

/** SAM2Long's README values (its argparse default for --iou_thre is 0.3; the paper's commands pass 0.1). */
export const VOS_TREE_DEFAULTS: VosTreeSettings = { pathways: 3, iouThreshold: 0.1, uncertainty: 2 };

export interface VosSettingsInput {
  model: string;
  config?: string;
  /** SAM2Long: the tree's options (pathways required); implies separate per-object tracking. */
  tree?: Partial<VosTreeSettings> & { pathways: number };
  trackLater?: boolean;
  useAllMasks?: boolean;
  perObjectPng?: boolean;
}

/** Checked, canonical settings (absolute paths, the mode spelled out). */
export function resolveSettings(o: VosSettingsInput): VosSettings {
  if (!fs.existsSync(o.model)) throw new InputError(`model file '${o.model}' does not exist`);
  if (o.config !== undefined && !fs.existsSync(o.config)) throw new InputError(`config file '${o.config}' does not exist`);
  const tree = o.tree && { ...VOS_TREE_DEFAULTS, ...o.tree };
  if (tree && (!Number.isInteger(tree.pathways) || tree.pathways < 1)) throw new InputError(`tree pathways must be a positive integer, found ${tree.pathways}`);
  return {
    model: path.resolve(o.model),
    ...(o.config !== undefined ? { config: path.resolve(o.config) } : {}),
    mode: tree ? 'sam2long' : o.trackLater ? 'sam2-later' : 'sam2',
    ...(tree ? { tree } : {}),
    useAllMasks: o.useAllMasks ?? false,
    perObjectPng: o.perObjectPng ?? false,
  };
}

/** Settings as canonical JSON (sorted keys), for comparison and hashing. */
export function settingsKey(s: VosSettings): string {
  return JSON.stringify(s, (_, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));
}

export function sameSettings(a: VosSettings, b: VosSettings): boolean {
  return settingsKey(a) === settingsKey(b);
}

/** A short hash of the settings (with the output folder: a queue job writes into one). */
export function settingsHash(s: VosSettings, out: string): string {
  return createHash('sha256').update(`${settingsKey(s)}\n${path.resolve(out)}`).digest('hex').slice(0, 16);
}
