/**
 * `sam2long <command> [args]`. Each command lives in its own module (tools/cli-<command>.ts, exporting
 * `run(argv)`), registered in COMMANDS and loaded only when invoked.
 */
import { pathToFileURL } from 'node:url';
import { InputError, Sam2LongError } from '../src/errors.js';

export interface CliModule {
  /** Runs the command with the arguments after its name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

export interface CliCommand {
  summary: string;
  load(): Promise<CliModule>;
}

export const COMMANDS: Record<string, CliCommand> = {
  convert: { summary: 'convert a PyTorch SAM 2 / 2.1 checkpoint to safetensors + a JSON config', load: () => import('./cli-convert.js') },
  predict: { summary: 'segment one image from clicks and/or a box (mask PNG, optional overlay)', load: () => import('./cli-predict.js') },
  segment: { summary: 'track objects through a video (SAM 2, or SAM2Long with --tree): one label PNG per frame', load: () => import('./cli-segment.js') },
  vos: { summary: 'segment every video of a VOS dataset from its annotation masks, as the official vos_inference.py', load: () => import('./cli-vos.js') },
  worker: { summary: 'process the video jobs that `vos --queue` submits to a BullMQ queue in Redis', load: () => import('./cli-worker.js') },
  eval: { summary: 'J&F of predicted masks against ground truth, as the official SA-V evaluator computes it', load: () => import('./cli-eval.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'usage: sam2long <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `sam2long <command> --help` for its options.',
  ].join('\n');
}

/** Exit codes: 0 done, 1 a sam2long error (message on stderr), 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? console.error : console.log)(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`sam2long: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    if (!(err instanceof Sam2LongError)) throw err;
    console.error(`sam2long ${name}: ${err.message}`);
    return err instanceof InputError ? 2 : 1;
  }
}

// Executed directly (`node --import tsx tools/cli.ts …`, as the tests do) rather than imported by bin/sam2long.js.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
