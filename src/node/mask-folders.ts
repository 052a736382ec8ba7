/**
 * Mask folders on disk: `maskFolderTree` gives the evaluator a root's folders and label PNGs (the evaluator
 * needs nothing else from the file system), `evaluateFolders` scores two of them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { decodeLabelPng } from '../io/png.js';
import type { FolderEntry, LabelMap, MaskTree } from '../eval/mask-tree.js';
import { evaluateTrees, type EvaluateOptions, type EvaluationResult } from '../eval/benchmark.js';

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

/** Reads a label PNG file (see `decodeLabelPng`); errors name the file. */
export function readLabelPng(path: string): LabelMap {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(path);
  } catch (err) {
    throw new InputError(`cannot read '${path}': ${(err as Error).message}`);
  }
  return decodeLabelPng(bytes, path);
}

/** J&F of the mask folders under `pred` against those under `gt` (see the module comment for the layouts). */
export function evaluateFolders(args: { gt: string; pred: string } & EvaluateOptions): EvaluationResult {
  const { gt, pred, ...options } = args;
  return evaluateTrees(maskFolderTree(gt), maskFolderTree(pred), options);
}
