/**
 * Per-frame J (region IoU) and F (boundary F-measure) of one object, as the SA-V / DAVIS evaluators define
 * them. Masks are row-major Uint8Arrays, non-zero = object. Every count is an exact integer and every
 * ratio is one float64 division in the order numpy does it, so the values match the official ones bit for bit.
 */
import { InputError } from '../errors.js';

/** The evaluators' boundary tolerance: a fraction of the image diagonal. */
export const BOUNDARY_THRESHOLD = 0.008;

export interface RegionScore {
  /** |P ∩ G| / |P ∪ G|; exactly 1 when both masks are empty. */
  readonly J: number;
  readonly gtArea: number;
  readonly predArea: number;
  readonly intersection: number;
  readonly union: number;
}

export interface BoundaryScore {
  /** 2PR / (P + R), or 0 when P + R = 0. */
  readonly F: number;
  readonly precision: number;
  readonly recall: number;
  readonly gtBoundaryPx: number;
  readonly predBoundaryPx: number;
  /** GT boundary pixels with a predicted boundary pixel within the tolerance disk. */
  readonly gtBoundaryMatched: number;
  /** Predicted boundary pixels with a GT boundary pixel within the tolerance disk. */
  readonly predBoundaryMatched: number;
}

function checkSize(what: string, mask: Uint8Array, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new InputError(`${what}: size ${width}x${height} is not a positive integer size`);
  }
  if (mask.length !== width * height) throw new InputError(`${what}: ${mask.length} pixels, expected ${width}x${height} = ${width * height}`);
}

/** Region similarity J of two same-size masks. */
export function regionIoU(gt: Uint8Array, pred: Uint8Array): RegionScore {
  if (gt.length !== pred.length) throw new InputError(`regionIoU: GT has ${gt.length} pixels, prediction ${pred.length}`);
  let gtArea = 0;
  let predArea = 0;
  let intersection = 0;
  for (let i = 0; i < gt.length; i++) {
    const g = gt[i] !== 0;
    const p = pred[i] !== 0;
    if (g) gtArea++;
    if (p) predArea++;
    if (g && p) intersection++;
  }
  const union = gtArea + predArea - intersection;
  // No epsilon: an empty union is a perfect match.
  return { J: union === 0 ? 1 : intersection / union, gtArea, predArea, intersection, union };
}

/**
 * One-pixel boundary map (seg2bmap), offset half a pixel towards the origin: a pixel is on the boundary when
 * it differs from its right, lower or lower-right neighbour. The last row compares only with the right
 * neighbour, the last column only with the lower one, and the bottom-right pixel is never a boundary, so the
 * image border itself is never a boundary.
 */
export function boundaryMap(mask: Uint8Array, width: number, height: number): Uint8Array { // [H*W] of 0/1
  checkSize('boundaryMap', mask, width, height);
  const on = (i: number) => mask[i] !== 0;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const s = on(i);
      const lastRow = y === height - 1;
      const lastColumn = x === width - 1;
      let edge: boolean;
      if (lastRow && lastColumn) edge = false;
      else if (lastRow) edge = s !== on(i + 1);
      else if (lastColumn) edge = s !== on(i + width);
      else edge = s !== on(i + 1) || s !== on(i + width) || s !== on(i + width + 1);
      out[i] = edge ? 1 : 0;
    }
  }
  return out;
}

/** The tolerance radius in pixels: ceil(threshold · ‖(H, W)‖₂), the image diagonal as numpy computes it. */
export function boundaryRadius(width: number, height: number, threshold = BOUNDARY_THRESHOLD): number {
  return Math.ceil(threshold * Math.sqrt(height * height + width * width));
}

/** The disk structuring element as (dy, dx) offsets: dx² + dy² ≤ r² (skimage.morphology.disk). */
export function diskOffsets(radius: number): [number, number][] {
  const offsets: [number, number][] = [];
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) if (dx * dx + dy * dy <= radius * radius) offsets.push([dy, dx]);
  }
  return offsets;
}

/** Binary dilation by the disk of `radius`; nothing enters from outside the image (cv2.dilate's constant border). */
export function dilate(map: Uint8Array, width: number, height: number, radius: number): Uint8Array { // [H*W] of 0/1
  checkSize('dilate', map, width, height);
  const offsets = diskOffsets(radius);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (map[y * width + x] === 0) continue;
      for (const [dy, dx] of offsets) {
        const yy = y + dy;
        const xx = x + dx;
        if (yy >= 0 && yy < height && xx >= 0 && xx < width) out[yy * width + xx] = 1;
      }
    }
  }
  return out;
}

function countOn(map: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < map.length; i++) if (map[i] !== 0) n++;
  return n;
}

function countBoth(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== 0 && b[i] !== 0) n++;
  return n;
}

/**
 * Boundary F-measure of two same-size masks. The empty cases are decided on the boundary-pixel counts (a
 * mask covering the whole image has no boundary): no predicted boundary → P = 1, R = 0; no GT boundary →
 * P = 0, R = 1; neither → P = R = 1.
 */
export function boundaryF(gt: Uint8Array, pred: Uint8Array, width: number, height: number, threshold = BOUNDARY_THRESHOLD): BoundaryScore {
  checkSize('boundaryF (GT)', gt, width, height);
  checkSize('boundaryF (prediction)', pred, width, height);
  const radius = boundaryRadius(width, height, threshold);
  const gtBoundary = boundaryMap(gt, width, height);
  const predBoundary = boundaryMap(pred, width, height);
  const gtBoundaryPx = countOn(gtBoundary);
  const predBoundaryPx = countOn(predBoundary);
  const gtBoundaryMatched = countBoth(gtBoundary, dilate(predBoundary, width, height, radius));
  const predBoundaryMatched = countBoth(predBoundary, dilate(gtBoundary, width, height, radius));
  let precision: number;
  let recall: number;
  if (predBoundaryPx === 0 && gtBoundaryPx > 0) [precision, recall] = [1, 0];
  else if (predBoundaryPx > 0 && gtBoundaryPx === 0) [precision, recall] = [0, 1];
  else if (predBoundaryPx === 0 && gtBoundaryPx === 0) [precision, recall] = [1, 1];
  else [precision, recall] = [predBoundaryMatched / predBoundaryPx, gtBoundaryMatched / gtBoundaryPx];
  const F = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { F, precision, recall, gtBoundaryPx, predBoundaryPx, gtBoundaryMatched, predBoundaryMatched };
}
