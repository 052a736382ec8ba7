/**
 * Loading a SAM 2 model from disk (Node): a converted `.safetensors` with its `.json` config beside it, or an
 * official PyTorch `.pt` directly. The config is checked against the checkpoint's keys and shapes before any
 * weight is built, and every key is accounted for when it is (CheckpointKeyError lists all problems).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureBackend } from './backend.js';
import { ConfigError } from '../errors.js';
import { parseConfigText, type Sam2ConfigFile, type Sam2ModelConfig } from '../config.js';
import { openSafetensors, openTorchCheckpoint } from './files.js';
import { checkpointConfig } from '../presets/detect.js';
import { Sam2Model } from '../model/sam2.js';
import type { HostArray } from '../model/weights.js';

export interface LoadOptions {
  /** A YAML/JSON config that overrides the one beside the checkpoint (or the detected official variant). */
  config?: string;
}

/** The config file next to a converted checkpoint: `<stem>.json`. */
function siblingConfig(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file).replace(/\.safetensors$/i, '')}.json`);
}

async function stateDictOf(file: string): Promise<{ shapes: Map<string, number[]>; stateDict: Map<string, HostArray>; fromTorch: boolean }> {
  if (/\.safetensors$/i.test(file)) {
    const reader = openSafetensors(file);
    try {
      const stateDict = new Map(reader.names.map((n) => [n, reader.read(n) as HostArray]));
      return { shapes: new Map([...stateDict].map(([k, t]) => [k, t.shape])), stateDict, fromTorch: false };
    } finally {
      reader.close();
    }
  }
  const ckpt = await openTorchCheckpoint(file);
  try {
    const stateDict = new Map(ckpt.names.map((n) => [n, ckpt.read(n) as HostArray]));
    return { shapes: ckpt.shapes(), stateDict, fromTorch: true };
  } finally {
    ckpt.close();
  }
}

async function configOf(file: string, shapes: Map<string, number[]>, fromTorch: boolean, override?: string): Promise<Sam2ModelConfig> {
  if (override) return checkpointConfig(shapes, { doc: await loadConfigFile(override), source: override });
  if (fromTorch) return checkpointConfig(shapes);
  const source = siblingConfig(file);
  if (!fs.existsSync(source)) throw new ConfigError(`no config for '${file}': expected '${source}' beside it (written by convert), or pass a config`);
  return checkpointConfig(shapes, { doc: await loadConfigFile(source), source });
}

/** Loads a model from a `.safetensors` (+ `.json`) or an official `.pt` checkpoint. */
export async function loadSam2(file: string, options: LoadOptions = {}): Promise<Sam2Model> {
  if (!fs.existsSync(file)) throw new ConfigError(`checkpoint '${file}' does not exist`);
  const { shapes, stateDict, fromTorch } = await stateDictOf(file);
  const config = await configOf(file, shapes, fromTorch, options.config);
  await ensureBackend();
  return Sam2Model.fromStateDict(config, stateDict, file);
}

/** Reads a YAML or JSON config file (see `parseConfigText`). */
export async function loadConfigFile(path: string): Promise<Sam2ConfigFile> {
  let text: string;
  try {
    text = await fs.promises.readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config '${path}': ${(err as Error).message}`);
  }
  return parseConfigText(text, /\.json$/i.test(path) ? 'json' : 'yaml', path);
}
