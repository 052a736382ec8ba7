/**
 * `sam2long <command> [args]`. Each command lives in its own module (tools/cli-<command>.ts, exporting
 * `run(argv)`), registered in COMMANDS and loaded only when invoked.
 */
import { pathToFileURL } from 'node:url';
import { EXIT, exitCodeOf, Sam2LongError } from '../src/errors.js';

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

/**
 * What the user sees of an error that ended command `name`: a sam2long error's message; anything else is a bug,
 * reported in one line with a request to report it (the stack with SAM2LONG_DEBUG=1).
 */
export function describeFailure(name: string, err: unknown): string {
  const debug = process.env.SAM2LONG_DEBUG === '1';
  if (err instanceof Sam2LongError) return `sam2long ${name}: ${err.message}${debug && err.stack ? `\n${err.stack}` : ''}`;
  const e = err as Error;
  const what = e instanceof Error ? `${e.name}: ${String(e.message).split('\n')[0]}` : String(err);
  return `sam2long ${name}: unexpected error: ${what}\n` +
    (debug ? `${e?.stack ?? ''}\n` : 'This is a bug in sam2long: ') +
    'please report it with the command line and this message (SAM2LONG_DEBUG=1 prints the stack trace).';
}

/** Runs one command; resolves to its exit code (EXIT in src/errors.ts: 0 done, 1 failure, 2 bad input, 130/143 interrupted). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? console.error : console.log)(usage());
    return name === undefined ? EXIT.badInput : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`sam2long: unknown command '${name}'\n\n${usage()}`);
    return EXIT.badInput;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    console.error(describeFailure(name, err));
    return exitCodeOf(err);
  }
}

/**
 * The program: `main`, plus a last-resort handler for errors that escape it (a stray rejected promise, an error
 * in a callback), which prints the same one line as `describeFailure` and exits 1.
 */
export async function runCli(argv: string[]): Promise<void> {
  const crash = (err: unknown) => {
    console.error(describeFailure(argv[0] ?? '', err));
    process.exit(EXIT.failure);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  process.exitCode = await main(argv);
}

// Executed directly (`node --import tsx tools/cli.ts …`, as the tests do) rather than imported by bin/sam2long.js.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCli(process.argv.slice(2));
}
