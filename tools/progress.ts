/**
 * A progress line on stderr: `label [=====>    ] 12/24 frames  3.1 frames/s  ETA 0:04`. On a terminal it
 * redraws one line in place; otherwise (a log file, CI) it prints a plain line now and then and one at the end.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  label: string;
  /** Number of steps; Infinity when unknown (no bar, no ETA). */
  total: number;
  unit?: string;
  stream?: ProgressStream;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
  /** Least time between two plain (non-TTY) lines. */
  plainIntervalMs?: number;
}

const BAR_WIDTH = 24;
/** Terminal redraws at most this often (a fast run would otherwise spend its time printing). */
const TTY_INTERVAL_MS = 100;

/** `m:ss` (or `h:mm:ss`) of a duration in seconds. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export class Progress {
  private done = 0;
  private readonly started: number;
  private lastDraw: number;
  private drawnDone = -1;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly tty: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.now = opts.now ?? (() => performance.now());
    this.tty = this.stream.isTTY === true;
    this.started = this.now();
    this.lastDraw = this.started;
  }

  /** One more step done. */
  tick(): void {
    this.done++;
    const t = this.now();
    const interval = this.tty ? TTY_INTERVAL_MS : (this.opts.plainIntervalMs ?? 5000);
    if (t - this.lastDraw < interval) return;
    this.lastDraw = t;
    this.draw(t);
  }

  /** The final line (unless the last one already showed every step), ending the in-place line on a terminal. */
  finish(): void {
    if (this.tty || this.drawnDone !== this.done) this.draw(this.now());
    if (this.tty) this.stream.write('\n');
  }

  /** The status text for `done` steps after `elapsedS` seconds. */
  line(elapsedS: number): string {
    const { label, total } = this.opts;
    const unit = this.opts.unit ?? 'frames';
    const rate = elapsedS > 0 ? this.done / elapsedS : 0;
    const known = Number.isFinite(total) && total > 0;
    const parts = [label];
    if (known) parts.push(bar(this.done / total));
    parts.push(`${this.done}${known ? `/${total}` : ''} ${unit}`, `${rate.toFixed(1)} ${unit}/s`);
    if (known && this.done < total && rate > 0) parts.push(`ETA ${formatDuration((total - this.done) / rate)}`);
    else parts.push(`${formatDuration(elapsedS)} elapsed`);
    return parts.join('  ');
  }

  private draw(t: number): void {
    this.drawnDone = this.done;
    const text = this.line((t - this.started) / 1000);
    // \r + erase-line keeps a terminal on one line; a log gets one line per draw.
    this.stream.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
  }
}

function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'='.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}]`;
}
