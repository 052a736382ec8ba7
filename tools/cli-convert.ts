/** `sam2long convert <checkpoint.pt> <outdir> [--config file] [--name name]` */
import { convertCheckpoint } from './convert.js';
import { UsageError } from '../src/index.js';
import { parseCommandArgs } from './cli-args.js';

export const USAGE = `usage: sam2long convert <checkpoint.pt> <outdir> [--config <file.yaml|file.json>] [--name <name>]

Reads a PyTorch SAM 2 / SAM 2.1 checkpoint (torch.save zip; nothing in it is executed) and writes
<outdir>/<name>.safetensors (float tensors as F32) and <outdir>/<name>.json (the model config).
The variant (version and size) is detected from the tensor shapes; --config gives the config of a
checkpoint that is not one of the eight official ones (an official yaml or a JSON config).

  --config <file>  model config (YAML or JSON); checked against the checkpoint's shapes
  --name <name>    output file stem (default: the config's name, else the checkpoint's file name)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: argv,
    options: { config: { type: 'string' }, name: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 2) throw new UsageError(`expected <checkpoint.pt> <outdir>, got ${positionals.length} argument(s)`);
  const [input, outDir] = positionals;
  await convertCheckpoint({ input, outDir, config: values.config, name: values.name, log: (line) => console.log(line) });
  return 0;
}
