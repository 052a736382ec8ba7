/**
 * The timeline under the frame view: a strip of every frame's state (tracked, prompted, stale, provisional,
 * not tracked), one tracklet bar per object over the frames where it has a mask, prompt marks, and the
 * current frame. A click or drag on it goes to that frame.
 */
import type { FrameState, TrackingSession } from './session.js';
import { objectCss } from './viewer.js';

const STATE_COLORS: Record<FrameState | 'none', string> = {
  tracked: '#3fb96b', prompted: '#ffffff', provisional: '#d9a93a', stale: '#8a6d6d', none: '#2c313a',
};
const STRIP = 6;
const ROW = 9;
const GAP = 3;

export class Timeline {
  private readonly ctx: CanvasRenderingContext2D;
  private numFrames = 0;

  constructor(private readonly canvas: HTMLCanvasElement, onSeek: (frame: number) => void) {
    this.ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    const seek = (e: PointerEvent) => {
      if (!this.numFrames) return;
      const r = canvas.getBoundingClientRect();
      onSeek(Math.min(this.numFrames - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * this.numFrames))));
    };
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      seek(e);
    });
    canvas.addEventListener('pointermove', (e) => { if (e.buttons) seek(e); });
  }

  draw(session: TrackingSession | null, numFrames: number, current: number): void {
    this.numFrames = numFrames;
    const objects = session ? [...session.objects.keys()] : [];
    const width = Math.max(1, Math.round(this.canvas.clientWidth * devicePixelRatio));
    const cssHeight = STRIP + GAP + Math.max(1, objects.length) * (ROW + GAP);
    this.canvas.style.height = `${cssHeight}px`;
    const height = Math.round(cssHeight * devicePixelRatio);
    if (this.canvas.width !== width || this.canvas.height !== height) Object.assign(this.canvas, { width, height });
    const ctx = this.ctx;
    ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
    const w = width / devicePixelRatio;
    ctx.clearRect(0, 0, w, cssHeight);
    if (!numFrames) return;
    const fw = w / numFrames;
    const x = (f: number) => f * fw;
    for (let f = 0; f < numFrames; f++) {
      ctx.fillStyle = STATE_COLORS[session?.status.get(f) ?? 'none'];
      ctx.fillRect(x(f), 0, Math.max(1, fw - (fw > 3 ? 1 : 0)), STRIP);
    }
    objects.forEach((id, row) => {
      const y = STRIP + GAP + row * (ROW + GAP);
      ctx.fillStyle = '#22262e';
      ctx.fillRect(0, y, w, ROW);
      for (let f = 0; f < numFrames; f++) {
        if (!session?.present.get(f)?.includes(id)) continue;
        const fresh = session.isFresh(f);
        ctx.globalAlpha = fresh ? 1 : 0.35;
        ctx.fillStyle = objectCss(id);
        ctx.fillRect(x(f), y, fw + 0.5, ROW);
      }
      ctx.globalAlpha = 1;
      for (const f of session?.prompts.get(id)?.keys() ?? []) {
        ctx.fillStyle = '#ffffff';
        ctx.beginPath();
        ctx.moveTo(x(f) + fw / 2, y + ROW);
        ctx.lineTo(x(f) + fw / 2 - 4, y);
        ctx.lineTo(x(f) + fw / 2 + 4, y);
        ctx.fill();
      }
    });
    ctx.strokeStyle = '#ffdd55';
    ctx.lineWidth = 2;
    ctx.strokeRect(x(current) + 1, 1, Math.max(2, fw - 2), cssHeight - 2);
  }
}
