/**
 * PyTorch checkpoint → `<name>.safetensors` + `<name>.json` (the model config). Tensors are streamed one at a
 * time from the .pt to the output, so memory stays near the size of the largest tensor. Floats are written
 * as F32 and int64 as I32, as the golden files are (DECODED_DTYPE).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  checkConfigFits, ConfigError, DECODED_DTYPE, detectVariant, hostTensorBytes, loadConfigFile, officialModelSection,
  openTorchCheckpoint, outputError, resolveModelConfig, type Sam2ConfigFile, Sam2LongError, type Sam2Size,
  makeDirectory, type TorchCheckpoint, writeFileAtomically, writeSafetensorsStreamed,
} from '../src/index.js';

export interface ConvertOptions {
  input: string;
  outDir: string;
  /** A YAML or JSON config; without it the variant is detected from the checkpoint. */
  config?: string;
  /** Output file stem; default: the config's name, else the input's file name. */
  name?: string;
  log?: (line: string) => void;
}

export interface ConvertResult {
  name: string;
  version: '2.0' | '2.1';
  /** The official size, or 'custom' for a config given with --config that is not one. */
  size: Sam2Size | 'custom';
  safetensorsPath: string;
  configPath: string;
  tensors: number;
  parameters: number;
  parametersByModule: Record<string, number>;
}

/** The modules the parameter count is reported for; anything else is 'other'. */
export const REPORTED_MODULES = ['image_encoder', 'memory_attention', 'memory_encoder', 'sam_prompt_encoder', 'sam_mask_decoder'] as const;

interface ResolvedConfig {
  file: Sam2ConfigFile;
  version: '2.0' | '2.1';
  size: Sam2Size | 'custom';
}

async function configFor(checkpoint: TorchCheckpoint, configPath: string | undefined): Promise<ResolvedConfig> {
  const shapes = checkpoint.shapes();
  if (!configPath) {
    const variant = detectVariant(shapes);
    return {
      file: { name: variant.name, sam2_version: variant.version, model: officialModelSection(variant.version, variant.size) },
      version: variant.version,
      size: variant.size,
    };
  }
  const file = await loadConfigFile(configPath);
  const model = resolveModelConfig(file);
  checkConfigFits(model, shapes, configPath);
  let size: Sam2Size | 'custom' = 'custom';
  try {
    size = detectVariant(shapes).size;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  // 2.1 is the release that added the spatial no-object embedding.
  const version = file.sam2_version ?? (model.no_obj_embed_spatial ? '2.1' : '2.0');
  return { file: { ...file, sam2_version: version }, version, size };
}

export function countParameters(shapes: ReadonlyMap<string, readonly number[]>): { total: number; byModule: Record<string, number> } {
  const byModule: Record<string, number> = Object.fromEntries([...REPORTED_MODULES, 'other'].map((m) => [m, 0]));
  let total = 0;
  for (const [key, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const module = REPORTED_MODULES.find((m) => key.startsWith(`${m}.`)) ?? 'other';
    byModule[module] += n;
    total += n;
  }
  return { total, byModule };
}

/**
 * Writes the weights (by `writeWeights`, to the temporary name it is given) and the config under temporary names,
 * and gives both their final names only once both are complete: an interrupted or failed convert never leaves a
 * truncated .json or .safetensors, nor a new one beside an old other half. File-system failures (read-only, full
 * disk) are one OutputError line.
 */
function writeBoth(safetensorsPath: string, configPath: string, writeWeights: (tmp: string) => void, configText: string): void {
  const tmpWeights = `${safetensorsPath}.partial`;
  let current = path.dirname(safetensorsPath);
  try {
    makeDirectory(current);
    current = safetensorsPath;
    writeWeights(tmpWeights);
    current = configPath;
    writeFileAtomically(configPath, (write) => write(new TextEncoder().encode(configText)));
    current = safetensorsPath;
    fs.renameSync(tmpWeights, safetensorsPath);
  } catch (err) {
    fs.rmSync(tmpWeights, { force: true }); // the config's own partial file is removed by writeFileAtomically
    if (err instanceof Sam2LongError) throw err;
    throw outputError(current, err);
  }
}

export async function convertCheckpoint(options: ConvertOptions): Promise<ConvertResult> {
  const log = options.log ?? (() => {});
  const checkpoint = await openTorchCheckpoint(options.input);
  try {
    const { file, version, size } = await configFor(checkpoint, options.config);
    const name = options.name ?? file.name ?? path.basename(options.input).replace(/\.[^.]*$/, '');
    const safetensorsPath = path.join(options.outDir, `${name}.safetensors`);
    const configPath = path.join(options.outDir, `${name}.json`);
    const specs = [...checkpoint.tensors.values()].map((t) => ({ name: t.name, dtype: DECODED_DTYPE[t.dtype], shape: t.shape }));
    const out: Sam2ConfigFile = { ...file, name, sam2_version: version };
    writeBoth(safetensorsPath, configPath, (tmp) => {
      writeSafetensorsStreamed(tmp, specs, (spec) => hostTensorBytes(checkpoint.read(spec.name)), undefined, { rename: false });
    }, `${JSON.stringify(out, null, 2)}\n`);

    const { total, byModule } = countParameters(checkpoint.shapes());
    log(`SAM ${version} ${size === 'custom' ? '(custom config)' : size}: ${specs.length} tensors, ${total.toLocaleString('en-US')} parameters`);
    for (const [module, n] of Object.entries(byModule)) log(`  ${module.padEnd(20)} ${n.toLocaleString('en-US').padStart(13)}`);
    log(`wrote ${safetensorsPath}`);
    log(`wrote ${configPath}`);
    return { name, version, size, safetensorsPath, configPath, tensors: specs.length, parameters: total, parametersByModule: byModule };
  } finally {
    checkpoint.close();
  }
}
