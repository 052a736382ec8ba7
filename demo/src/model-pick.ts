/**
 * A checkpoint from what the person gave: picked files (the .safetensors, with or without its .json) or a
 * URL (downloaded with progress and cached, with the .json beside it when there is one). Wrong or partial picks
 * are refused here with a message in the page's words (a PageError); without a config the worker's
 * loadSam2FromBytes detects the model from the checkpoint's shapes, as the CLI does (messages.ts words its refusal).
 */
import { siblingConfigUrl, type CheckpointBytes } from '../../src/browser.js';
import { fetchCached, formatBytes, type DownloadProgress } from './model-cache.js';
import { PageError } from './session.js';

const SAFETENSORS = /\.safetensors$/i;
const CONFIG = /\.(json|ya?ml)$/i;
const TORCH = /\.(pt|pth|ckpt|bin)$/i;

/** The file size a safetensors header describes (8 + header + data), or null when `bytes` do not start like one. */
export function declaredSafetensorsSize(bytes: Uint8Array): number | null {
  if (bytes.length < 8) return null;
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen < 2 || headerLen > bytes.length - 8) return null;
  let header: Record<string, { data_offsets?: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    return null;
  }
  if (!header || typeof header !== 'object') return null;
  const ends = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, e]) => e?.data_offsets?.[1] ?? 0);
  return 8 + headerLen + Math.max(0, ...ends);
}

/** Throws a PageError unless `bytes` are a whole safetensors file. */
export function checkSafetensors(bytes: Uint8Array, label: string): void {
  const size = declaredSafetensorsSize(bytes);
  if (size === null) {
    throw new PageError(`${label} is not a safetensors checkpoint (it does not start with a safetensors header). Pick the .safetensors file that \`sam2long convert\` wrote.`);
  }
  if (bytes.length < size) {
    throw new PageError(`${label} is incomplete: ${formatBytes(bytes.length)} of the ${formatBytes(size)} its header describes (${bytes.length} of ${size} bytes). A download or copy was cut short: get the whole file again.`);
  }
}

/** The checkpoint in picked files: exactly one .safetensors, optionally its .json/.yaml config. */
export async function checkpointFromFiles(files: readonly File[]): Promise<CheckpointBytes> {
  const weights = files.filter((f) => SAFETENSORS.test(f.name));
  const configs = files.filter((f) => CONFIG.test(f.name));
  const torch = files.find((f) => TORCH.test(f.name));
  if (!weights.length && torch) {
    throw new PageError(`'${torch.name}' is a PyTorch checkpoint, which a page cannot read: convert it once with \`npx sam2long convert ${torch.name} <folder>\` and pick the .safetensors (and .json) it writes.`);
  }
  if (!weights.length) throw new PageError(`No .safetensors among the picked files (${files.map((f) => f.name).join(', ') || 'none'}): pick the converted checkpoint and its .json together.`);
  if (weights.length > 1) throw new PageError(`Pick one checkpoint at a time (got ${weights.map((f) => f.name).join(', ')}).`);
  if (configs.length > 1) throw new PageError(`Pick one config with the checkpoint (got ${configs.map((f) => f.name).join(', ')}).`);
  const [file] = weights;
  const bytes = new Uint8Array(await file.arrayBuffer());
  checkSafetensors(bytes, `'${file.name}'`);
  return { weights: bytes, config: await configs[0]?.text(), label: file.name };
}

/** The checkpoint at `url` (cached after the first download) and the .json beside it, if the server has one. */
export async function checkpointFromUrl(url: string, onProgress?: (p: DownloadProgress) => void): Promise<CheckpointBytes & { fromCache: boolean }> {
  const label = url.split(/[?#]/)[0].split('/').pop() || url;
  const configUrl = siblingConfigUrl(url);
  // Small, and absent for an official checkpoint (its config is then detected from its shapes).
  const config = configUrl === url ? Promise.resolve(undefined) : fetchCached(configUrl).then((d) => new TextDecoder().decode(d.bytes), () => undefined);
  const weights = await fetchCached(url, { onProgress, check: (b) => checkSafetensors(b, `'${label}'`) });
  return { weights: weights.bytes, config: await config, label, fromCache: weights.fromCache };
}
