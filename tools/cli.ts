/**
 * `sam2long <command> [args]`. Each command lives in its own module (tools/cli-<command>.ts, exporting
 * `run(argv)`), registered in COMMANDS and loaded only when invoked.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EXIT, exitCodeOf, Sam2LongError, UsageError } from '../src/errors.js';

export interface CliModule {
  /** The command's usage text (`sam2long <command> --help`). */
  USAGE: string;
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

/** The exit codes of every command, as README.md documents them. */
export const EXIT_CODES =
  'Exit codes: 0 done, 1 an error while running (message on stderr), 2 bad input or usage, 130 / 143 interrupted (SIGINT / SIGTERM).';

const ENVIRONMENT = `Environment:
  SAM2LONG_BACKEND=cpu|wasm|webgpu|tensorflow  the tfjs backend of predict and segment (default: tfjs-node when
                                               installed, else WebGPU on a GPU, else multi-threaded wasm)
  SAM2LONG_WASM_THREADS=N                      threads of the wasm backend (default: one per core)`;

/** A command's --help: its usage, then what every command shares. */
function helpText(usage: string): string {
  return `${usage}\n\n${ENVIRONMENT}\n\n${EXIT_CODES}`;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'usage: sam2long <command> [options]',
    '       sam2long help <command> | --help | --version',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `sam2long help <command>` (or `sam2long <command> --help`) for its options.',
    '',
    ENVIRONMENT,
    '',
    EXIT_CODES,
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

/** The version in the package.json above this file (tools/ from the sources, dist/tools/ once built). */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sam2long' && pkg.version) return pkg.version;
    } catch {
      // not at this level: try the next
    }
  }
  return 'unknown';
}

/** A malformed command line: one line, then where help is. */
function reportUsageError(name: string | null, message: string): void {
  console.error(`${name === null ? 'sam2long' : `sam2long ${name}`}: ${message}`);
  console.error(`see '${name === null ? 'sam2long --help' : `sam2long ${name} --help`}'`);
}

/** Runs `sam2long <argv>` and resolves to the exit code (EXIT in src/errors.ts: 0 done, 1 failure, 2 bad input, 130/143 interrupted). */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    console.error(usage());
    return EXIT.badInput;
  }
  if (first === '--help' || first === '-h') {
    console.log(usage());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-v') {
    console.log(version());
    return EXIT.ok;
  }
  const helpOnly = first === 'help';
  const name = helpOnly ? rest[0] : first;
  if (helpOnly && name === undefined) {
    console.log(usage());
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    reportUsageError(null, `unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
    return EXIT.badInput;
  }
  const args = helpOnly ? rest.slice(1) : rest;
  try {
    const module = await command.load();
    if (helpOnly || args.includes('--help') || args.includes('-h')) {
      console.log(helpText(module.USAGE));
      return EXIT.ok;
    }
    return await module.run(args);
  } catch (err) {
    if (err instanceof UsageError) reportUsageError(name, err.message);
    else console.error(describeFailure(name, err));
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
