/**
 * Pictures of segmentation results, as pure functions on 8-bit RGB pixels (rows top to bottom, RGB
 * interleaved): label maps tinted and outlined in their object colours (the DAVIS palette, as the label PNGs
 * use), prompt markers, panels side by side and downscaling for previews. Nothing here touches files.
 */
import { InputError } from '../errors.js';
import { DAVIS_PALETTE } from '../io/png.js';
import type { RgbImage } from '../io/pixels.js';

export type Rgb = readonly [number, number, number];

/** Opacity of an object's tint over the frame. */
export const FILL_ALPHA = 0.5;
/** Clicks: green on the object, red on the background (as SAM's demos draw them). */
export const POSITIVE_COLOUR: Rgb = [0, 220, 0];
export const NEGATIVE_COLOUR: Rgb = [230, 0, 0];
const MARKER_RING: Rgb = [255, 255, 255];

/** The colour of object `id` in label PNGs (DAVIS palette entry `id`). */
export function objectColour(id: number): Rgb {
  if (!Number.isInteger(id) || id < 0 || id > 255) throw new InputError(`object id ${id} is not 0..255`);
  return [DAVIS_PALETTE[3 * id], DAVIS_PALETTE[3 * id + 1], DAVIS_PALETTE[3 * id + 2]];
}

/**
 * Per-object binary masks (H·W each) as one DAVIS label map: value = object id, 0 = background. Painted from
 * the highest id down, so the lowest id wins where masks overlap, as the official vos_inference.py does.
 */
export function labelMap(objIds: readonly number[], masks: readonly Uint8Array[], numPixels: number): Uint8Array {
  const labels = new Uint8Array(numPixels);
  const byId = objIds.map((id, i) => ({ id, mask: masks[i] })).sort((a, b) => b.id - a.id);
  for (const { id, mask } of byId) {
    for (let p = 0; p < numPixels; p++) if (mask[p]) labels[p] = id;
  }
  return labels;
}

/** Line width for a picture of this size: 1 px up to 600 px, growing with the image. */
export function lineWidth(width: number, height: number): number {
  return Math.max(1, Math.round(Math.min(width, height) / 600));
}

function checkImage(image: RgbImage, what: string): void {
  if (image.data.length !== image.width * image.height * 3) {
    throw new InputError(`${what}: ${image.data.length} bytes for ${image.width}x${image.height} RGB`);
  }
}

/**
 * Labelled pixels (non-zero) that have a pixel of another label, or the image border, within `radius`
 * (Chebyshev distance): the inner outline of every object, also where two objects touch.
 */
export function labelContour(labels: ArrayLike<number>, width: number, height: number, radius: number): Uint8Array {
  const edge = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (!l) continue;
      search: for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= height || xx < 0 || xx >= width || labels[yy * width + xx] !== l) {
            edge[y * width + x] = 1;
            break search;
          }
        }
      }
    }
  }
  return edge;
}

/**
 * The frame with every object of a label map (H·W object ids, 0 = background) tinted in its colour at
 * FILL_ALPHA and outlined in its full colour. A new array; `image` is not changed.
 */
export function drawLabels(image: RgbImage, labels: ArrayLike<number>): Uint8Array {
  checkImage(image, 'frame');
  const { width, height, data } = image;
  if (labels.length !== width * height) throw new InputError(`label map of ${labels.length} pixels for a ${width}x${height} frame`);
  const edge = labelContour(labels, width, height, lineWidth(width, height));
  const out = Uint8Array.from(data);
  const colours = new Map<number, Rgb>();
  for (let i = 0; i < width * height; i++) {
    const l = labels[i];
    if (!l) continue;
    let colour = colours.get(l);
    if (!colour) colours.set(l, (colour = objectColour(l)));
    for (let c = 0; c < 3; c++) {
      out[3 * i + c] = edge[i] ? colour[c] : Math.round((1 - FILL_ALPHA) * data[3 * i + c] + FILL_ALPHA * colour[c]);
    }
  }
  return out;
}

function setPixel(rgb: Uint8Array, width: number, height: number, x: number, y: number, colour: Rgb): void {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  const i = 3 * (y * width + x);
  rgb[i] = colour[0];
  rgb[i + 1] = colour[1];
  rgb[i + 2] = colour[2];
}

/** A click marker in place: a disc (green: positive, red: negative) in a white ring, centred on (x, y) in pixels. */
export function drawClick(rgb: Uint8Array, width: number, height: number, x: number, y: number, positive: boolean): void {
  const radius = 3 * lineWidth(width, height) + 1;
  const ring = lineWidth(width, height);
  const colour = positive ? POSITIVE_COLOUR : NEGATIVE_COLOUR;
  const [cx, cy] = [Math.round(x), Math.round(y)];
  for (let dy = -radius - ring; dy <= radius + ring; dy++) {
    for (let dx = -radius - ring; dx <= radius + ring; dx++) {
      const d = Math.hypot(dx, dy);
      if (d <= radius) setPixel(rgb, width, height, cx + dx, cy + dy, colour);
      else if (d <= radius + ring) setPixel(rgb, width, height, cx + dx, cy + dy, MARKER_RING);
    }
  }
}

/** A rectangle outline in place: the box [x0, y0, x1, y1] in pixels, line width from the image size. */
export function drawBox(rgb: Uint8Array, width: number, height: number, box: readonly [number, number, number, number], colour: Rgb): void {
  const t = 2 * lineWidth(width, height);
  const [x0, y0, x1, y1] = box.map(Math.round);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const inside = x >= x0 + t && x <= x1 - t && y >= y0 + t && y <= y1 - t;
      if (!inside) setPixel(rgb, width, height, x, y, colour);
    }
  }
}

/** Clicks and a box of one object on one frame, in video pixels. */
export interface PromptMarks {
  objId: number;
  points: readonly (readonly [number, number])[];
  /** 1 = positive, 0 = negative. */
  labels: readonly number[];
  box?: readonly [number, number, number, number];
}

/** A result picture: the label map drawn on the frame, then the prompts given on that frame on top. */
export function renderOverlay(image: RgbImage, labels: ArrayLike<number>, prompts: readonly PromptMarks[] = []): RgbImage {
  const { width, height } = image;
  const data = drawLabels(image, labels);
  for (const p of prompts) {
    if (p.box) drawBox(data, width, height, p.box, objectColour(p.objId));
    p.points.forEach(([x, y], i) => drawClick(data, width, height, x, y, p.labels[i] === 1));
  }
  return { width, height, data };
}

/** Images of one height side by side, left to right, `gap` pixels of `gapColour` between them. */
export function sideBySide(images: readonly RgbImage[], gap = 4, gapColour: Rgb = [255, 255, 255]): RgbImage {
  if (!images.length) throw new InputError('no images to put side by side');
  const height = images[0].height;
  images.forEach((im, k) => {
    checkImage(im, `panel ${k}`);
    if (im.height !== height) throw new InputError(`panel ${k} is ${im.height} px high, panel 0 is ${height}`);
  });
  const width = images.reduce((w, im) => w + im.width, 0) + gap * (images.length - 1);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(gapColour, 3 * i);
  let x0 = 0;
  for (const im of images) {
    for (let y = 0; y < height; y++) data.set(im.data.subarray(3 * y * im.width, 3 * (y + 1) * im.width), 3 * (y * width + x0));
    x0 += im.width + gap;
  }
  return { width, height, data };
}

/**
 * The image shrunk so that its longer side is at most `maxSide` (area average over each output pixel's
 * footprint); the image itself when it already fits.
 */
export function downscale(image: RgbImage, maxSide: number): RgbImage {
  checkImage(image, 'image');
  const { width, height, data } = image;
  const scale = Math.max(width, height) / maxSide;
  if (scale <= 1) return image;
  const w = Math.max(1, Math.round(width / scale));
  const h = Math.max(1, Math.round(height / scale));
  const out = new Uint8Array(w * h * 3);
  for (let oy = 0; oy < h; oy++) {
    const [y0, y1] = [Math.floor((oy * height) / h), Math.max(Math.floor((oy * height) / h) + 1, Math.floor(((oy + 1) * height) / h))];
    for (let ox = 0; ox < w; ox++) {
      const [x0, x1] = [Math.floor((ox * width) / w), Math.max(Math.floor((ox * width) / w) + 1, Math.floor(((ox + 1) * width) / w))];
      const sum = [0, 0, 0];
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) sum[c] += data[3 * (y * width + x) + c];
      }
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 3; c++) out[3 * (oy * w + ox) + c] = Math.round(sum[c] / n);
    }
  }
  return { width: w, height: h, data: out };
}
