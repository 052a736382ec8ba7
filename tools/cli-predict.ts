/** `sam2long predict`: one image, clicks and/or a box → a mask PNG (and optionally an overlay). */
import * as path from 'node:path';
import { initBackend } from '../src/backend.js';
import { decodeImage } from '../src/io/images.js';
import { encodeMaskPng, encodeRgbPng } from '../src/io/png.js';
import { ImagePredictor } from '../src/predictor/image-predictor.js';
import type { RgbImage } from '../src/predictor/transforms.js';
import { parseBox, parseCommandArgs, parsePoints, requireFile, required, usageError, writeFileAtomic } from './cli-args.js';

const USAGE = `usage: sam2long predict --model <m.safetensors|m.pt> --image <img> (--points <pts> | --box <box>) --out <mask.png>
                        [--config <file>] [--all-masks] [--overlay <out.png>]

Segments one image from clicks and/or a box and writes the mask as a PNG of the image's size
(8-bit grey: 255 = object, 0 = background). Prints the predicted IoU score of each mask written.

  --model <file>     a converted .safetensors (its .json beside it) or an official .pt checkpoint
  --config <file>    a model config (YAML or JSON) instead of the one beside / detected for the model
  --image <file>     JPEG, PNG or any image sharp reads
  --points <pts>     clicks "x,y,label;x,y,label..." in pixels; label 1 = object, 0 = background
  --box <box>        "x0,y0,x1,y1" in pixels (top-left, bottom-right)
  --out <file>       the mask PNG. A single click is ambiguous: SAM 2 predicts three masks and the
                     best-scoring one is written. With a box or several clicks one mask is predicted.
  --all-masks        predict three masks for any prompt and write all of them: <out>_0.png,
                     <out>_1.png, <out>_2.png (e.g. mask_0.png for --out mask.png)
  --overlay <file>   also write the image with the (best) mask drawn on it, as a PNG`;

/** SAM's demo blue, blended at half opacity, with a white contour. */
const OVERLAY_COLOUR = [30, 144, 255] as const;
const OVERLAY_ALPHA = 0.5;
const CONTOUR_COLOUR = [255, 255, 255] as const;

/** `dir/mask.png` → `dir/mask_<i>.png`. */
export function indexedName(file: string, i: number): string {
  const { dir, name, ext } = path.parse(file);
  return path.join(dir, `${name}_${i}${ext || '.png'}`);
}

/** Mask pixels with a background pixel (or nothing) within `radius` (Chebyshev) on either axis. */
export function maskContour(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const edge = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      search: for (let dy = -radius; dy <= radius; dy++) {
        for (let dx = -radius; dx <= radius; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < height && xx >= 0 && xx < width && !mask[yy * width + xx]) {
            edge[y * width + x] = 1;
            break search;
          }
        }
      }
    }
  }
  return edge;
}

/** The image with `mask` tinted and outlined; the contour grows with the image (1 px up to 600 px). */
export function drawOverlay(image: RgbImage, mask: Uint8Array): Uint8Array {
  const { width, height } = image;
  const radius = Math.max(1, Math.round(Math.min(width, height) / 600));
  const edge = maskContour(mask, width, height, radius);
  const out = Uint8Array.from(image.data);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      if (edge[i]) out[3 * i + c] = CONTOUR_COLOUR[c];
      else if (mask[i]) out[3 * i + c] = Math.round((1 - OVERLAY_ALPHA) * image.data[3 * i + c] + OVERLAY_ALPHA * OVERLAY_COLOUR[c]);
    }
  }
  return out;
}

function argmax(values: number[]): number {
  return values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      config: { type: 'string' },
      image: { type: 'string' },
      points: { type: 'string' },
      box: { type: 'string' },
      out: { type: 'string' },
      'all-masks': { type: 'boolean' },
      overlay: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const model = required(values.model, '--model', USAGE);
  const imageFile = required(values.image, '--image', USAGE);
  const out = required(values.out, '--out', USAGE);
  if (values.points === undefined && values.box === undefined) throw usageError('give --points and/or --box', USAGE);
  const clicks = values.points !== undefined ? parsePoints(values.points) : { points: [], labels: [] };
  const box = values.box !== undefined ? parseBox(values.box) : undefined;
  requireFile(model, 'model file');
  if (values.config !== undefined) requireFile(values.config, 'config file');
  const allMasks = values['all-masks'] ?? false;
  const singleClick = clicks.points.length === 1 && !box;

  const image = await decodeImage(imageFile);
  await initBackend();
  const predictor = await ImagePredictor.fromCheckpoint(model, { config: values.config });
  try {
    await predictor.setImage(image);
    const result = predictor.predict({ ...clicks, box, multimask: allMasks || singleClick });
    const { width, height, masks, scores } = result;
    const written = allMasks ? masks.map((_, i) => indexedName(out, i)) : [out];
    const chosen = allMasks ? masks.map((_, i) => i) : [argmax(scores)];
    console.log(`scores: ${scores.map((s) => s.toFixed(4)).join(' ')}`);
    chosen.forEach((m, k) => {
      writeFileAtomic(written[k], encodeMaskPng(masks[m], width, height));
      console.log(`mask ${m} (score ${scores[m].toFixed(4)}) → ${written[k]}`);
    });
    if (values.overlay !== undefined) {
      const best = argmax(scores);
      writeFileAtomic(values.overlay, encodeRgbPng(drawOverlay(image, masks[best]), width, height));
      console.log(`overlay (mask ${best}) → ${values.overlay}`);
    }
  } finally {
    predictor.dispose();
    predictor.model.dispose();
  }
  return 0;
}
