/** The printed J&F table, laid out as the official SA-V evaluator prints it. */
import type { EvaluationResult, ObjectScore } from './benchmark.js';

/**
 * Python's `format(x, '.1f')`: correctly rounded, exact ties to even. toFixed breaks exact ties upwards; the
 * only exact ties at one decimal are k + 0.25 and k + 0.75.
 */
export function formatOneDecimal(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const tie = Number.isInteger(x * 4) && !Number.isInteger(x * 2);
  if (!tie) return x.toFixed(1);
  const down = Math.floor(x * 10) / 10;
  const up = Math.ceil(x * 10) / 10;
  return (Math.round(Math.abs(down) * 10) % 2 === 0 ? down : up).toFixed(1);
}

function objectColumn(o: ObjectScore, layout: string): string {
  return layout === 'davis-like' ? String(o.label).padStart(3, '0') : o.object.padEnd(3);
}

/** One table row: the official evaluator joins its cells with ", " (after the name, ",") and prints the commas as spaces. */
function row(name: string, object: string, jf: string, j: string, f: string): string {
  return `${name} ${object}  ${jf}  ${j}  ${f}`;
}

/** Header, global row, one row per reported object (J&F, J, F in percent, one decimal), then the summary line. */
export function formatResultTable(result: EvaluationResult): string {
  const width = Math.max('Global score'.length, ...result.videos.map((v) => v.video.length));
  const cell = (x: number) => formatOneDecimal(x).padStart(4);
  const { J, F, JF } = result.global;
  return [
    row('sequence'.padEnd(width), 'obj', ' J&F', '   J', '   F'),
    row('Global score'.padEnd(width), '   ', formatOneDecimal(JF), formatOneDecimal(J), formatOneDecimal(F)),
    ...result.videos.flatMap((v) => v.objects.filter((o) => o.reported)
      .map((o) => row(v.video.padEnd(width), objectColumn(o, v.layout), cell(o.JF), cell(o.J), cell(o.F)))),
    '',
    'Summary:',
    `Global score: J&F: ${formatOneDecimal(JF)} J: ${formatOneDecimal(J)} F: ${formatOneDecimal(F)}`,
  ].join('\n');
}
