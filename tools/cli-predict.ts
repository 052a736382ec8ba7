/** `sam2long predict`: one image, clicks and/or a box → a mask PNG (and optionally an overlay). */
import * as path from 'node:path';
import {
  decodeImage, encodeMaskPng, ImagePredictor, initBackend, renderOverlay, UsageError,
} from '../src/index.js';
import { encodeRgbPng } from '../src/io/png.js';
import {
  applyPixelLimit, MAX_PIXELS_HELP, MAX_PIXELS_OPTION, parseBox, parseCommandArgs, parsePoints, requireFile, required, writeFileAtomic,
} from './cli-args.js';

export const USAGE = `usage: sam2long predict --model <m.safetensors|m.pt> --image <img> --out <mask.png>
                        [--points <pts>] [--box <box>] [--config <file>] [--all-masks] [--overlay <out.png>]
                        [--max-pixels <n>]

Segments one image from clicks, a box, or both (at least one of --points and --box) and writes the mask as a PNG of the image's size
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
  --overlay <file>   also write the image with the (best) mask drawn on it, as a PNG
${MAX_PIXELS_HELP}`;

/** `dir/mask.png` → `dir/mask_<i>.png`. */
export function indexedName(file: string, i: number): string {
  const { dir, name, ext } = path.parse(file);
  return path.join(dir, `${name}_${i}${ext || '.png'}`);
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
      ...MAX_PIXELS_OPTION,
    },
    strict: true,
  });
  const model = required(values.model, '--model');
  const imageFile = required(values.image, '--image');
  const out = required(values.out, '--out');
  if (values.points === undefined && values.box === undefined) throw new UsageError('give --points and/or --box');
  const clicks = values.points !== undefined ? parsePoints(values.points) : { points: [], labels: [] };
  const box = values.box !== undefined ? parseBox(values.box) : undefined;
  requireFile(model, 'model file');
  if (values.config !== undefined) requireFile(values.config, 'config file');
  applyPixelLimit(values['max-pixels']);
  const allMasks = values['all-masks'] ?? false;
  const singleClick = clicks.points.length === 1 && !box;

  const image = await decodeImage(imageFile);
  await initBackend();
  const predictor = await ImagePredictor.fromCheckpoint(model, { config: values.config });
  try {
    await predictor.setImage(image);
    const result = await predictor.predict({ ...clicks, box, multimask: allMasks || singleClick });
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
      const marks = [{ objId: 1, points: clicks.points, labels: clicks.labels, box }];
      writeFileAtomic(values.overlay, encodeRgbPng(renderOverlay(image, masks[best], marks).data, width, height));
      console.log(`overlay (mask ${best}) → ${values.overlay}`);
    }
  } finally {
    predictor.dispose();
    predictor.model.dispose();
  }
  return 0;
}
