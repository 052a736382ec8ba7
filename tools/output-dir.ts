/**
 * An output directory of PNGs that a run fills frame by frame (label masks, overlays), marked unfinished
 * until the run completes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, Sam2LongError } from '../src/errors.js';
import { writeFileAtomic } from './cli-args.js';

/** Marks a directory as being written; removed when the run completes. */
export const INCOMPLETE_MARKER = '.incomplete';

/**
 * The output directory of one run. It is touched only when the first mask is written; from then until
 * `complete()`, INCOMPLETE_MARKER says the set of PNGs is not finished, and each PNG appears under its
 * final name only once it is whole.
 */
export class MaskDirectory {
  private opened = false;
  written = 0;

  /**
   * Refuses a directory that holds PNGs (or the marker of an unfinished run) unless `overwrite`; `what`
   * names its PNGs in messages.
   */
  constructor(readonly dir: string, private readonly overwrite: boolean, private readonly what = 'mask') {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new InputError(`output '${dir}' exists and is not a directory`);
    const stale = this.staleFiles();
    if (stale.length && !overwrite) {
      throw new InputError(`output directory '${dir}' already holds ${stale.length} ${this.what} file(s) (e.g. '${stale[0]}'); ` +
        'pass --overwrite to replace them, or choose another directory');
    }
  }

  /** PNGs, the marker and partial files: what a run writes, so what would mix with its output. */
  private staleFiles(): string[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs.readdirSync(this.dir).filter((f) => /\.png$/i.test(f) || /\.partial$/.test(f) || f === INCOMPLETE_MARKER).sort();
  }

  private open(): void {
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      if (this.overwrite) for (const f of this.staleFiles()) fs.rmSync(path.join(this.dir, f));
      fs.writeFileSync(this.marker, `sam2long segment started writing this directory at ${new Date().toISOString()}.\n` +
        `While this file exists the ${this.what}s here are not a finished result.\n`);
    } catch (err) {
      throw new Sam2LongError(`cannot write to '${this.dir}': ${(err as Error).message}`);
    }
    this.opened = true;
  }

  get marker(): string {
    return path.join(this.dir, INCOMPLETE_MARKER);
  }

  write(name: string, png: Uint8Array): void {
    if (!this.opened) this.open();
    writeFileAtomic(path.join(this.dir, `${name}.png`), png);
    this.written++;
  }

  complete(): void {
    if (this.opened) fs.rmSync(this.marker);
  }

  /** Leaves the marker, with the reason, when the run stops early. */
  fail(reason: string): void {
    if (this.opened) fs.appendFileSync(this.marker, `The run failed after ${this.written} ${this.what}(s): ${reason}\n`);
  }
}
