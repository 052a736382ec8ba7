/**
 * Loading a converted checkpoint without a file system: the `.safetensors` bytes and the text of its `.json`
 * (or YAML) config, from file pickers or URLs. Same checks as the Node loader: the config must fit the
 * checkpoint's keys and shapes, and a checkpoint without a config must be an official variant.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { initBrowserBackend } from './backend.js';
import { parseConfigText, type Sam2ModelConfig } from '../config.js';
import { SafetensorsReader, memorySource } from '../io/safetensors.js';
import { checkpointConfig } from '../presets/detect.js';
import { Sam2Model } from '../model/sam2.js';
import type { HostArray } from '../model/weights.js';

export interface CheckpointBytes {
  /** The `.safetensors` file. */
  weights: ArrayBuffer | Uint8Array;
  /** The config text (`.json` written by convert, or an official `.yaml`); omitted = detect the official variant. */
  config?: string;
  /** Names the checkpoint in error messages (e.g. its file name). */
  label?: string;
}

function configFormat(text: string): 'json' | 'yaml' {
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

function configOf(bytes: CheckpointBytes, shapes: Map<string, number[]>, label: string): Sam2ModelConfig {
  if (bytes.config === undefined) return checkpointConfig(shapes);
  const source = `config of ${label}`;
  return checkpointConfig(shapes, { doc: parseConfigText(bytes.config, configFormat(bytes.config), source), source });
}

/** A model from a converted checkpoint held in memory. */
export function loadSam2FromBytes(bytes: CheckpointBytes): Sam2Model {
  const label = bytes.label ?? 'checkpoint';
  const view = bytes.weights instanceof Uint8Array ? bytes.weights : new Uint8Array(bytes.weights);
  const reader = new SafetensorsReader(memorySource(view), label);
  const stateDict = new Map(reader.names.map((n) => [n, reader.read(n) as HostArray]));
  const shapes = new Map([...stateDict].map(([k, t]) => [k, t.shape]));
  return Sam2Model.fromStateDict(configOf(bytes, shapes, label), stateDict, label);
}

async function fetchOk(url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new ConfigError(`cannot fetch '${url}': ${(err as Error).message}`);
  }
  if (!res.ok) throw new ConfigError(`cannot fetch '${url}': HTTP ${res.status} ${res.statusText}`);
  return res;
}

/** The config URL convert writes beside a checkpoint: `<stem>.json`. */
export function siblingConfigUrl(weightsUrl: string): string {
  const [path, query] = weightsUrl.split(/(?=[?#])/);
  return `${path.replace(/\.safetensors$/i, '')}.json${query ?? ''}`;
}

/** A model from URLs: the `.safetensors` and its config (default: the `.json` beside it). */
export async function loadSam2FromUrl(weightsUrl: string, configUrl = siblingConfigUrl(weightsUrl)): Promise<Sam2Model> {
  const [weights, config] = await Promise.all([
    fetchOk(weightsUrl).then((r) => r.arrayBuffer()),
    fetchOk(configUrl).then((r) => r.text()),
  ]);
  // A page that did not start a backend gets the default order (wasm then finds its binaries beside the page).
  if (!tf.engine().backendName) await initBrowserBackend();
  return loadSam2FromBytes({ weights, config, label: weightsUrl });
}
