/**
 * The on-disk layouts of a VOS dataset, as the official `tools/vos_inference.py` reads and writes them:
 * - frames: `<videos>/<video>/<n>.jpg`, only JPEG files, sorted by the number in their names;
 * - DAVIS layout: one 8-bit palette PNG per annotated frame, `<masks>/<video>/<frame>.png`, pixel value = object id;
 * - SA-V layout (`perObjectPng`): one folder per object, `<masks>/<video>/<id as %03d>/<frame>.png`, non-zero = object.
 * Outputs keep the input's palette (DAVIS's when none) and are named after the frames.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, Sam2LongError } from '../../errors.js';
import { DAVIS_PALETTE, decodePng, encodeLabelPng } from '../../io/png.js';
import { labelMap } from '../../render/overlay.js';

const JPEG = /\.(jpe?g)$/i;

/** The frames of one video: JPEG paths and their names (file stems), in frame order. */
export interface VideoFrames {
  files: string[];
  names: string[];
}

function listDir(dir: string, what: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`cannot list ${what} '${dir}': ${(err as Error).message}`);
  }
}

/**
 * The videos to run: the lines of `videoList` (blank lines and surrounding spaces ignored), else every
 * folder of `videosRoot`, sorted by name.
 */
export function listVideos(videosRoot: string, videoList?: string): string[] {
  if (videoList !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(videoList, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read the video list '${videoList}': ${(err as Error).message}`);
    }
    const names = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    if (!names.length) throw new InputError(`the video list '${videoList}' names no video`);
    const bad = names.find((n) => n.includes('/') || n.includes('\\') || n.startsWith('.'));
    if (bad !== undefined) throw new InputError(`video list '${videoList}': '${bad}' is not a video folder name`);
    return [...new Set(names)];
  }
  const videos = listDir(videosRoot, 'the videos folder').filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  if (!videos.length) throw new InputError(`no video folders in '${videosRoot}'`);
  return videos;
}

/** The JPEG frames of `<videosRoot>/<video>`, sorted by their number as the official script does. */
export function videoFrames(videosRoot: string, video: string): VideoFrames {
  const dir = path.join(videosRoot, video);
  const byNumber = new Map<number, string>();
  for (const e of listDir(dir, 'the frames of video')) {
    if (e.isDirectory() || !JPEG.test(e.name)) continue;
    const stem = path.parse(e.name).name;
    if (!/^\d+$/.test(stem)) throw new InputError(`frame '${path.join(dir, e.name)}' is not named by its frame number (like 00000.jpg)`);
    const other = byNumber.get(Number(stem));
    if (other !== undefined) throw new InputError(`frames '${other}' and '${e.name}' in '${dir}' have the same number`);
    byNumber.set(Number(stem), e.name);
  }
  if (!byNumber.size) throw new InputError(`no JPEG frames in '${dir}'`);
  const files = [...byNumber].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
  return { files: files.map((f) => path.join(dir, f)), names: files.map((f) => path.parse(f).name) };
}

/** The objects annotated on one frame: id → binary mask (H·W bytes, 1 = object). */
export interface FrameAnnotation {
  width: number;
  height: number;
  objects: Map<number, Uint8Array>;
  /** The PNG's palette (RGB triples), when it has one. */
  palette?: Uint8Array;
}

function readPng(file: string): { width: number; height: number; data: Uint8Array; palette?: Uint8Array } {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new InputError(`cannot read annotation '${file}': ${(err as Error).message}`);
  }
  const img = decodePng(bytes, file);
  if (img.colorType !== 'palette' && img.colorType !== 'grey') {
    throw new InputError(`${file}: an annotation PNG must be palette or greyscale, this one is ${img.colorType}`);
  }
  if (img.bitDepth === 16) throw new InputError(`${file}: 16-bit annotation PNGs are not supported (object ids are 8-bit)`);
  return { width: img.width, height: img.height, data: img.samples as Uint8Array, palette: img.palette };
}

/** The per-object folders of `<masksRoot>/<video>` (SA-V layout): id → folder name. */
function objectFolders(masksRoot: string, video: string): Map<number, string> {
  const dir = path.join(masksRoot, video);
  const folders = new Map<number, string>();
  for (const e of listDir(dir, 'the annotations of video')) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    if (!/^\d+$/.test(e.name)) throw new InputError(`annotation folder '${path.join(dir, e.name)}' is not named by an object id (like 001)`);
    folders.set(Number(e.name), e.name);
  }
  return folders;
}

/**
 * The annotation of frame `frameName`, or undefined when the frame has none. DAVIS layout: the objects are
 * the PNG's non-zero values; SA-V layout: each object folder's PNG of that frame, non-zero = object.
 */
export function readAnnotation(masksRoot: string, video: string, frameName: string, perObjectPng: boolean): FrameAnnotation | undefined {
  if (!perObjectPng) {
    const file = path.join(masksRoot, video, `${frameName}.png`);
    if (!fs.existsSync(file)) return undefined;
    const png = readPng(file);
    const objects = new Map<number, Uint8Array>();
    for (const v of new Set(png.data)) if (v > 0) objects.set(v, png.data.map((x) => (x === v ? 1 : 0)));
    return { width: png.width, height: png.height, objects: new Map([...objects].sort((a, b) => a[0] - b[0])), palette: png.palette };
  }
  let found: FrameAnnotation | undefined;
  for (const [id, folder] of [...objectFolders(masksRoot, video)].sort((a, b) => a[0] - b[0])) {
    const file = path.join(masksRoot, video, folder, `${frameName}.png`);
    if (!fs.existsSync(file)) continue;
    const png = readPng(file);
    found ??= { width: png.width, height: png.height, objects: new Map() };
    if (png.width !== found.width || png.height !== found.height) {
      throw new InputError(`${file} is ${png.width}x${png.height}, but other objects of frame ${frameName} are ${found.width}x${found.height}`);
    }
    found.objects.set(id, png.data.map((x) => (x > 0 ? 1 : 0)));
    found.palette = png.palette ?? found.palette;
  }
  return found;
}

/** Where a video's outputs go, and how (see the file comment). */
export interface OutputLayout {
  perObjectPng: boolean;
  /** RGB triples; DAVIS's when the input has none. */
  palette: Uint8Array;
}

/** Writes one frame's masks (objects in `objIds` order) into the video's output folder `dir`. */
export function writeFrameMasks(dir: string, frameName: string, objIds: readonly number[], masks: readonly Uint8Array[], width: number, height: number, layout: OutputLayout): void {
  try {
    if (!layout.perObjectPng) {
      // Lower ids win where masks still overlap, as the official put_per_obj_mask writes them (never after non-overlap).
      fs.writeFileSync(path.join(dir, `${frameName}.png`), encodeLabelPng(labelMap(objIds, masks, width * height), width, height, layout.palette));
      return;
    }
    objIds.forEach((id, i) => {
      const objDir = path.join(dir, String(id).padStart(3, '0'));
      fs.mkdirSync(objDir, { recursive: true });
      fs.writeFileSync(path.join(objDir, `${frameName}.png`), encodeLabelPng(masks[i], width, height, layout.palette));
    });
  } catch (err) {
    throw new Sam2LongError(`cannot write the masks of frame ${frameName} into '${dir}': ${(err as Error).message}`);
  }
}

export { DAVIS_PALETTE };
