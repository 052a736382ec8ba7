/** `sam2long eval --gt <dir> --pred <dir> [--no-skip-first-last] [--strict] [--gt-255-is-object] [--json <file>]` */
import { evaluation } from '../src/index.js';
import { applyPixelLimit, MAX_PIXELS_HELP, MAX_PIXELS_OPTION, parseCommandArgs, required, writeFileAtomic } from './cli-args.js';

export const USAGE = `usage: sam2long eval --gt <dir> --pred <dir> [--no-skip-first-last] [--strict] [--gt-255-is-object] [--json <file>]
                     [--max-pixels <n>]

J (region IoU), F (boundary F-measure) and J&F per object and overall, computed as the official SA-V
evaluator (SAM2Long's sav_dataset/sav_evaluator.py) computes them. Both folders hold one folder per video:
  <video>/<frame>.png           one label PNG per frame, values = object ids (DAVIS-like), or
  <video>/<object>/<frame>.png  one binary mask PNG per object and frame (SA-V).
The frames are the GT's; each needs a prediction PNG of the same name and size.

  --no-skip-first-last  also score the first and last GT frame of each object (skipped by default)
  --strict              fail unless both folders hold the same videos (default: score those in both)
  --gt-255-is-object    score GT value 255 as an object, as facebookresearch/sam2's evaluator does
                        (default: background, as SAM2Long's evaluator does for VOST's void label)
  --json <file>         also write every per-frame, per-object and global value to <file>
${MAX_PIXELS_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args: argv,
    options: {
      gt: { type: 'string' },
      pred: { type: 'string' },
      'no-skip-first-last': { type: 'boolean' },
      strict: { type: 'boolean' },
      'gt-255-is-object': { type: 'boolean' },
      json: { type: 'string' },
      ...MAX_PIXELS_OPTION,
    },
    allowPositionals: false,
    strict: true,
  });
  const gt = required(values.gt, '--gt');
  const pred = required(values.pred, '--pred');
  applyPixelLimit(values['max-pixels']);
  const skipFirstLast = !values['no-skip-first-last'];
  const result = evaluation.evaluateFolders({
    gt, pred, skipFirstLast, strict: values.strict ?? false, gtVoidIsBackground: !values['gt-255-is-object'],
  });
  console.log(skipFirstLast
    ? 'Skipping the first and last frame of each object (standard for semi-supervised VOS; --no-skip-first-last counts them).'
    : 'Scoring every frame, the first and last included (not the semi-supervised VOS standard).');
  for (const [videos, where] of [[result.gtOnlyVideos, 'only in the GT'], [result.predOnlyVideos, 'only in the predictions']] as const) {
    if (videos.length > 0) console.error(`warning: ${videos.length} video(s) ${where}, not scored: ${videos.join(', ')}`);
  }
  console.log(`Scored ${result.videos.length} video(s) in ${gt}: ${result.videos.map((v) => v.video).join(', ')}`);
  console.log(evaluation.formatResultTable(result));
  if (values.json !== undefined) {
    writeFileAtomic(values.json, new TextEncoder().encode(`${JSON.stringify(result, null, 1)}\n`));
    console.log(`wrote ${values.json}`);
  }
  return 0;
}
