/**
 * SAM2Long's paths side by side: the current frame once per path, each with the masks that path holds there
 * (path 1 is the best-scoring one), as the CLI's --paths-view pictures are laid out. Shown instead of the frame
 * view, so clicks never land on it.
 */
import { maskImage } from './viewer.js';

const GAP = 4;

export class PathsView {
  private readonly ctx: CanvasRenderingContext2D;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly caption: HTMLElement, private readonly area: HTMLElement) {
    this.ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  }

  /** Draws frame `frame` once per path; `paths` undefined = the frame is outside the recorded range. */
  show(image: ImageBitmap, frame: number, paths: Uint8Array[] | undefined, recorded: string): void {
    const { width: w, height: h } = image;
    if (!paths?.length) {
      this.canvas.width = this.canvas.height = 1;
      this.caption.textContent = `No paths on frame ${frame + 1}: ${recorded}`;
      return;
    }
    this.canvas.width = paths.length * w + (paths.length - 1) * GAP;
    this.canvas.height = h;
    const overlay = new OffscreenCanvas(w, h);
    const octx = overlay.getContext('2d') as OffscreenCanvasRenderingContext2D;
    paths.forEach((labels, p) => {
      const x = p * (w + GAP);
      this.ctx.drawImage(image, x, 0);
      octx.putImageData(maskImage(labels, w, h, 'fresh'), 0, 0);
      this.ctx.drawImage(overlay, x, 0);
      this.ctx.fillStyle = 'rgba(0, 0, 0, 0.7)';
      this.ctx.fillRect(x, 0, Math.min(w, 64), 18);
      this.ctx.fillStyle = '#fff';
      this.ctx.font = '12px system-ui, sans-serif';
      this.ctx.fillText(`path ${p + 1}`, x + 5, 13);
    });
    const scale = Math.min(this.area.clientWidth / this.canvas.width, (this.area.clientHeight - 40) / this.canvas.height);
    this.canvas.style.width = `${Math.floor(this.canvas.width * scale)}px`;
    this.canvas.style.height = `${Math.floor(this.canvas.height * scale)}px`;
    this.caption.textContent = `SAM2Long's ${paths.length} paths on frame ${frame + 1} (${recorded}), as they stand after the range's last frame; path 1 scores highest.`;
  }
}
