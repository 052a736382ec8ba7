/**
 * Mask folders as the evaluator sees them: a tree of folders and label PNGs addressed by path segments
 * below a root. `maskFolderTree` reads one from disk; the evaluator needs nothing else from the file system.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { readLabelPng } from './png.js';

/** A label map as `np.array(Image.open(png))` gives it: palette indices or grey values, row-major. */
export interface LabelMap {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Uint16Array;
}

export interface FolderEntry {
  readonly name: string;
  /** True for a folder, or a link to one (links are followed, as Python's os.path.isdir does). */
  readonly isFolder: boolean;
}

export interface MaskTree {
  /** The entries of the folder at `segments` in no particular order, or undefined if there is no such folder. */
  list(segments: readonly string[]): FolderEntry[] | undefined;
  /** The label PNG at `segments`. */
  read(segments: readonly string[]): LabelMap;
  /** The path of `segments`, for messages. */
  describe(segments: readonly string[]): string;
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The mask folders below `root` on disk. */
export function maskFolderTree(root: string): MaskTree {
  const resolve = (segments: readonly string[]) => path.join(root, ...segments);
  return {
    list(segments) {
      const dir = resolve(segments);
      if (!isFolder(dir)) return undefined;
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch (err) {
        throw new InputError(`cannot list '${dir}': ${(err as Error).message}`);
      }
      return names.map((name) => ({ name, isFolder: isFolder(path.join(dir, name)) }));
    },
    read: (segments) => readLabelPng(resolve(segments)),
    describe: resolve,
  };
}
