/**
 * Mask folders as the evaluator sees them: a tree of folders and label PNGs addressed by path segments
 * below a root. Browser-safe: the tree on disk is `maskFolderTree` (src/node/mask-folders.ts).
 */
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
