/**
 * An output directory of PNGs that a run fills frame by frame (label masks, overlays), marked unfinished
 * until the run completes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, makeDirectory, outputError } from '../src/index.js';
import { writeFileAtomic } from './cli-args.js';

/** Marks a directory as being written; removed when the run completes. */
export const INCOMPLETE_MARKER = '.incomplete';

/**
 * The record of what runs wrote in a directory, one file name a line: `--overwrite` deletes exactly these files
 * and nothing else (never the user's files, even when they look like ours).
 */
export const WRITTEN_RECORD = '.sam2long-written';

/**
 * The real path of `p` (symbolic links resolved), also when `p` or some of its parents do not exist yet, and
 * through a symbolic link whose target does not exist yet (a write through it lands at the target).
 */
export function realPath(p: string, links = 0): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  for (let dir = abs; ; dir = path.dirname(dir)) {
    try {
      return path.join(fs.realpathSync(dir), ...rest.reverse());
    } catch {
      let target: string | undefined;
      try {
        target = fs.readlinkSync(dir);
      } catch {
        // not a symbolic link: `dir` does not exist yet
      }
      // 40: the kernel's own limit on links followed in one path (ELOOP).
      if (target !== undefined && links < 40) return path.join(realPath(path.resolve(path.dirname(dir), target), links + 1), ...rest.reverse());
      if (path.dirname(dir) === dir) return abs;
      rest.push(path.basename(dir));
    }
  }
}

/** One path a run reads or writes, named by its option for messages. */
export interface RunPath {
  option: string;
  path: string;
  /** A directory (compared for nesting) or a file (compared for equality, and for lying inside a directory). */
  kind: 'dir' | 'file';
  /** An input is only read; a pair of inputs is never a conflict. */
  input?: boolean;
}

/**
 * Refuses (InputError) any two of `paths` whose real paths are the same or where one lies inside the other, so
 * that no output can write into, or delete from, an input or another output: symbolic links and `..` are resolved first.
 * A path named inside a directory counts as inside it also when a symbolic link on the way leads elsewhere (the
 * video folders of an eval GT are often links into a dataset: `--json gt/video/00000.png` would replace that file).
 */
export function checkSeparatePaths(paths: readonly RunPath[]): void {
  const real = paths.map((p) => ({ ...p, real: realPath(p.path), abs: path.resolve(p.path) }));
  const under = (child: string, parent: string) => child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
  const inside = (x: typeof real[number], dir: typeof real[number]) => dir.kind === 'dir' && (under(x.real, dir.real) || under(x.abs, dir.abs));
  for (let i = 0; i < real.length; i++) {
    for (let j = i + 1; j < real.length; j++) {
      const [a, b] = [real[i], real[j]];
      if (a.input && b.input) continue;
      const named = (x: typeof a) => `${x.option} '${x.path}'`;
      const same = a.real === b.real;
      const aInB = !same && inside(a, b);
      const bInA = !same && !aInB && inside(b, a);
      // A file output inside an output directory (a preview beside the masks) cannot clash with its PNGs.
      const harmless = !same && !a.input && !b.input && (aInB ? a.kind === 'file' : b.kind === 'file');
      if (!same && !aInB && !bInA) continue;
      if (harmless) continue;
      const how = same ? ` are the same ${a.kind === 'dir' && b.kind === 'dir' ? 'directory' : 'path'}${a.path !== b.path ? ` (${a.real})` : ''}`
        : aInB ? ': the first is inside the second' : ': the second is inside the first';
      throw new InputError(`${named(a)} and ${named(b)}${how}; ${a.input || b.input ? 'an output must be apart from the input' : 'outputs must be apart'}: choose separate directories`);
    }
  }
}

/**
 * The output directory of one run. It is touched only when the first mask is written; from then until
 * `complete()`, INCOMPLETE_MARKER says the set of PNGs is not finished, and each PNG appears under its
 * final name only once it is whole.
 */
export class MaskDirectory {
  private opened = false;
  /** Files of earlier runs (from their record) that `--overwrite` deletes when this run starts writing. */
  private readonly earlier: string[];
  private readonly recorded = new Set<string>();
  written = 0;

  /**
   * Refuses a directory that holds PNGs (or the marker of an unfinished run): files of an earlier run unless
   * `overwrite`, files no run of sam2long recorded always; `what` names its PNGs in messages.
   */
  constructor(readonly dir: string, private readonly overwrite: boolean, private readonly what = 'mask') {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new InputError(`output '${dir}' exists and is not a directory`);
    const present = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    const record = new Set(this.readRecord());
    this.earlier = present.filter((f) => record.has(f) || (f.endsWith('.partial') && record.has(f.slice(0, -'.partial'.length)))).sort();
    const clashing = present.filter((f) => /\.png$/i.test(f) || /\.partial$/.test(f) || f === INCOMPLETE_MARKER);
    const foreign = clashing.filter((f) => !this.earlier.includes(f)).sort();
    if (foreign.length) {
      throw new InputError(`output directory '${dir}' already holds ${foreign.length} ${this.what} file(s) that sam2long did not write ` +
        `(e.g. '${foreign[0]}'); they are never deleted, not even with --overwrite: choose another directory`);
    }
    if (this.earlier.some((f) => clashing.includes(f)) && !overwrite) {
      throw new InputError(`output directory '${dir}' already holds ${this.earlier.filter((f) => clashing.includes(f)).length} ${this.what} file(s) ` +
        `of an earlier run (e.g. '${this.earlier[0]}'); pass --overwrite to replace them, or choose another directory`);
    }
  }

  private get recordFile(): string {
    return path.join(this.dir, WRITTEN_RECORD);
  }

  /** The file names an earlier run recorded (plain names only: a record never points outside its directory). */
  private readRecord(): string[] {
    let text: string;
    try {
      text = fs.readFileSync(this.recordFile, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((n) => n && !n.startsWith('#') && n === path.basename(n) && n !== '.' && n !== '..' && n !== WRITTEN_RECORD);
  }

  /** Adds `name` to the record before it is written, so a run that dies mid-write still owns its file. */
  private record(name: string): void {
    if (this.recorded.has(name)) return;
    fs.appendFileSync(this.recordFile, `${name}\n`);
    this.recorded.add(name);
  }

  private open(): void {
    try {
      makeDirectory(this.dir);
      if (this.overwrite) {
        for (const f of this.earlier) {
          const file = path.join(this.dir, f);
          // Regular files only: what a run wrote; a link or directory put there since is left alone.
          if (fs.lstatSync(file, { throwIfNoEntry: false })?.isFile()) fs.rmSync(file);
        }
      }
      const kept = this.overwrite ? [] : this.readRecord().filter((f) => fs.existsSync(path.join(this.dir, f)));
      fs.writeFileSync(this.recordFile, `# files sam2long wrote here; --overwrite deletes these and nothing else\n${kept.map((f) => `${f}\n`).join('')}`);
      kept.forEach((f) => this.recorded.add(f));
      this.record(INCOMPLETE_MARKER);
      fs.writeFileSync(this.marker, `sam2long segment started writing this directory at ${new Date().toISOString()}.\n` +
        `While this file exists the ${this.what}s here are not a finished result.\n`);
    } catch (err) {
      throw outputError(this.dir, err);
    }
    this.opened = true;
  }

  get marker(): string {
    return path.join(this.dir, INCOMPLETE_MARKER);
  }

  write(name: string, png: Uint8Array): void {
    this.writeFile(`${name}.png`, png);
    this.written++;
  }

  /** Writes (atomically) and records any other file of the run, e.g. the summary. */
  writeFile(name: string, bytes: Uint8Array): void {
    if (!this.opened) this.open();
    try {
      this.record(name);
    } catch (err) {
      throw outputError(this.recordFile, err);
    }
    writeFileAtomic(path.join(this.dir, name), bytes);
  }

  complete(): void {
    if (this.opened) fs.rmSync(this.marker);
  }

  /** Leaves the marker, with the reason, when the run stops early. */
  fail(reason: string, status: 'failed' | 'interrupted' = 'failed'): void {
    if (this.opened) fs.appendFileSync(this.marker, `The run ${status === 'interrupted' ? 'was interrupted' : 'failed'} after ${this.written} ${this.what}(s): ${reason}\n`);
  }
}
