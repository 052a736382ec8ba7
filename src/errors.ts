/**
 * Every error sam2long throws on purpose. Callers can `instanceof`-test the class, or read `code`.
 * Messages say what was expected and what was found.
 */
export class Sam2LongError extends Error {
  readonly code: string = 'SAM2LONG_ERROR';
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A checkpoint file whose bytes are not a valid safetensors / PyTorch zip / pickle. */
export class CheckpointFormatError extends Sam2LongError {
  override readonly code = 'CHECKPOINT_FORMAT';
}

/** A pickle that asks for anything outside the state-dict allowlist (the weights_only promise). */
export class UnsafeCheckpointError extends Sam2LongError {
  override readonly code = 'UNSAFE_CHECKPOINT';
}

export interface KeyProblem {
  key: string;
  problem: 'missing' | 'unexpected' | 'shape';
  expected?: number[];
  found?: number[];
}

/** A state dict that does not fit the model config: lists every missing, unexpected and mis-shaped key. */
export class CheckpointKeyError extends Sam2LongError {
  override readonly code = 'CHECKPOINT_KEYS';
  constructor(readonly problems: KeyProblem[], context = 'checkpoint') {
    super(`${context} does not match the model config (${problems.length} problem(s)):\n` +
      problems.slice(0, 50).map(describeKeyProblem).join('\n') +
      (problems.length > 50 ? `\n  ... and ${problems.length - 50} more` : ''));
  }
}

function describeKeyProblem(p: KeyProblem): string {
  if (p.problem === 'shape') {
    return `  ${p.key}: shape [${p.found?.join(', ')}], expected [${p.expected?.join(', ')}]`;
  }
  if (p.problem === 'missing') return `  ${p.key}: missing${p.expected ? ` (expected shape [${p.expected.join(', ')}])` : ''}`;
  return `  ${p.key}: unexpected key`;
}

/** A model config that is malformed or cannot be detected. */
export class ConfigError extends Sam2LongError {
  override readonly code = 'CONFIG';
}

/** A tensor handed to a module with the wrong rank, shape or dtype. */
export class ShapeError extends Sam2LongError {
  override readonly code = 'SHAPE';
}

/** Bad user input: prompts, images, frame indices, options. */
export class InputError extends Sam2LongError {
  override readonly code = 'BAD_INPUT';
}

/** A malformed command line (an unknown or missing option, a value that does not parse): the CLI adds where help is. */
export class UsageError extends InputError {}

/** A tfjs backend that was asked for but cannot be used here. */
export class BackendError extends Sam2LongError {
  override readonly code = 'BACKEND';
}

/** A system program sam2long runs (ffmpeg) that is missing or failed. */
export class ExternalToolError extends Sam2LongError {
  override readonly code = 'EXTERNAL_TOOL';
}

/**
 * An error the GPU reported (validation, out of memory, internal) or a lost device. On WebGPU such errors
 * arrive as events while the kernel's output silently stays zeros, so the backend throws this instead.
 */
export class GpuError extends Sam2LongError {
  override readonly code = 'GPU';
}

/** A worker thread (the frame-encoding pipeline) that could not start, failed, or was closed mid-request. */
export class WorkerError extends Sam2LongError {
  override readonly code = 'WORKER';
}

/**
 * A file sam2long could not write (a read-only or full disk, a missing permission). The message is one line
 * naming the file and the system's reason (EROFS, ENOSPC, EACCES...).
 */
export class OutputError extends Sam2LongError {
  override readonly code = 'OUTPUT';
}

/** A run stopped by SIGINT or SIGTERM; `signal` names which. */
export class InterruptedError extends Sam2LongError {
  override readonly code = 'INTERRUPTED';
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}`);
  }
}

/** Exit codes of every command (README "Limits and safety"); `exitCodeOf` is the one place that maps errors to them. */
export const EXIT = {
  ok: 0,
  /** A failure while running: a file that cannot be written, ffmpeg failing, a backend or GPU error, or a bug. */
  failure: 1,
  /** Bad input or usage: a missing, unreadable or malformed file (image, video, checkpoint, config), a bad option. */
  badInput: 2,
  /** Stopped by SIGINT (Ctrl-C): 128 + 2, as shells report it. */
  sigint: 130,
  /** Stopped by SIGTERM: 128 + 15. */
  sigterm: 143,
} as const;

/** Error classes whose exit code is EXIT.badInput: what the user handed in is wrong. */
const BAD_INPUT_ERRORS = [InputError, ConfigError, CheckpointFormatError, UnsafeCheckpointError, CheckpointKeyError];

/** The exit code for an error that ended a command (see EXIT). Errors that are not Sam2LongErrors are bugs: 1. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof InterruptedError) return err.signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
  if (BAD_INPUT_ERRORS.some((c) => err instanceof c)) return EXIT.badInput;
  return EXIT.failure;
}

/**
 * An error from the file system while writing `file`, as one line: OutputError with the system's reason in
 * words for the cases a user can fix (read-only file system, full disk, no permission).
 */
export function outputError(file: string, err: unknown): OutputError {
  if (err instanceof OutputError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const reason = code === 'EROFS' ? 'the file system is read-only (EROFS)'
    : code === 'ENOSPC' ? 'no space left on the device (ENOSPC)'
      : code === 'EDQUOT' ? 'the disk quota is exceeded (EDQUOT)'
        : code === 'EACCES' || code === 'EPERM' ? `permission denied (${code})`
          : String((err as Error)?.message ?? err).split('\n')[0];
  return new OutputError(`cannot write '${file}': ${reason}`);
}

/** Throws ShapeError unless `shape` equals `expected`; -1 in `expected` matches any size. */
export function assertShape(what: string, shape: readonly number[], expected: readonly number[]): void {
  const ok = shape.length === expected.length && expected.every((e, i) => e === -1 || e === shape[i]);
  if (!ok) {
    throw new ShapeError(`${what}: shape [${shape.join(', ')}], expected [${expected.map((e) => (e === -1 ? '*' : e)).join(', ')}]`);
  }
}
