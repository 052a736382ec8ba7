/**
 * The frame view: the frame, each object's mask filled and outlined in its colour, and the prompts on it;
 * pointer input turned into clicks and boxes in video pixels.
 */
import type { Box, FramePrompts } from './session.js';

/** Display colours of objects 1, 2, … (brighter than the PNG palette, which must stay DAVIS's). */
const OBJECT_COLORS: [number, number, number][] = [
  [61, 165, 255], [255, 176, 0], [46, 204, 113], [255, 92, 200], [161, 123, 255], [0, 229, 229], [255, 99, 71], [200, 230, 60],
];
/** Opacity (0..255) of a mask's fill and of its outline. */
const FILL_ALPHA = 120;
const OUTLINE_ALPHA = 255;
/** A drag shorter than this (CSS pixels) is a click. */
const CLICK_SLOP = 4;

export interface ViewerInput {
  click(x: number, y: number, negative: boolean): void;
  box(box: Box): void;
  /** A plain click with the box tool: it adds nothing, the page says how to draw a box. */
  boxClick(): void;
}

/** How a frame's masks are drawn: valid, stale (grey, hatched: tracked before a correction), or provisional. */
export type MaskStyle = 'fresh' | 'stale' | 'provisional';
const STALE_COLOR: [number, number, number] = [170, 170, 170];

export class Viewer {
  private readonly ctx: CanvasRenderingContext2D;
  private readonly overlay: OffscreenCanvas;
  private drag: { x0: number; y0: number; cssX: number; cssY: number; box: boolean } | null = null;
  private last: { image: ImageBitmap; labels?: Uint8Array; prompts: { objId: number; prompts: FramePrompts }[]; style: MaskStyle } | null = null;
  /** Box drawing instead of clicks. */
  boxMode = false;

  /** `area` is the space the view may fill: the frame is scaled to fit it, keeping its aspect ratio. */
  constructor(private readonly canvas: HTMLCanvasElement, private readonly area: HTMLElement, private readonly input: ViewerInput) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2D canvas');
    this.ctx = ctx;
    new ResizeObserver(() => this.fit()).observe(area);
    this.overlay = new OffscreenCanvas(1, 1);
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  private fit(): void {
    const { clientWidth: w, clientHeight: h } = this.area;
    if (!w || !h) return;
    const scale = Math.min(w / this.canvas.width, h / this.canvas.height);
    this.canvas.style.width = `${Math.floor(this.canvas.width * scale)}px`;
    this.canvas.style.height = `${Math.floor(this.canvas.height * scale)}px`;
    this.redraw();
  }

  /** Video pixel coordinates of a pointer event. */
  private toVideo(e: PointerEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - r.left) * this.canvas.width) / r.width;
    const y = ((e.clientY - r.top) * this.canvas.height) / r.height;
    return [Math.min(Math.max(x, 0), this.canvas.width), Math.min(Math.max(y, 0), this.canvas.height)];
  }

  private down(e: PointerEvent): void {
    if (!this.last) return;
    const [x0, y0] = this.toVideo(e);
    this.drag = { x0, y0, cssX: e.clientX, cssY: e.clientY, box: this.boxMode };
    this.canvas.setPointerCapture(e.pointerId);
  }

  private move(e: PointerEvent): void {
    if (!this.drag?.box || !this.last) return;
    const [x, y] = this.toVideo(e);
    this.redraw();
    this.ctx.setLineDash([6, 4]);
    this.strokeBox([this.drag.x0, this.drag.y0, x, y], '#ffffff');
    this.ctx.setLineDash([]);
  }

  private up(e: PointerEvent): void {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    const [x, y] = this.toVideo(e);
    const moved = Math.hypot(e.clientX - d.cssX, e.clientY - d.cssY) > CLICK_SLOP;
    if (d.box && moved) {
      this.input.box([Math.min(d.x0, x), Math.min(d.y0, y), Math.max(d.x0, x), Math.max(d.y0, y)]);
    } else if (!moved && !d.box) {
      this.input.click(d.x0, d.y0, e.button === 2 || e.shiftKey);
    } else {
      if (d.box) this.input.boxClick();
      this.redraw();
    }
  }

  /** Shows a frame with its label map (if any) and the prompts on it. */
  show(image: ImageBitmap, labels: Uint8Array | undefined, prompts: { objId: number; prompts: FramePrompts }[], style: MaskStyle = 'fresh'): void {
    this.last = { image, labels, prompts, style };
    this.redraw();
  }

  private redraw(): void {
    if (!this.last) return;
    const { image, labels, prompts, style } = this.last;
    if (this.canvas.width !== image.width || this.canvas.height !== image.height) {
      this.canvas.width = image.width;
      this.canvas.height = image.height;
      this.fit();
    }
    this.ctx.drawImage(image, 0, 0);
    if (labels) this.ctx.drawImage(this.maskOverlay(labels, image.width, image.height, style), 0, 0);
    for (const { objId, prompts: p } of prompts) {
      if (p.box) this.strokeBox(p.box, objectCss(objId));
      for (const q of p.points) this.dot(q.x, q.y, q.label === 1 ? '#22dd55' : '#ff3344');
    }
  }

  private maskOverlay(labels: Uint8Array, width: number, height: number, style: MaskStyle): OffscreenCanvas {
    if (this.overlay.width !== width || this.overlay.height !== height) {
      this.overlay.width = width;
      this.overlay.height = height;
    }
    (this.overlay.getContext('2d') as OffscreenCanvasRenderingContext2D).putImageData(maskImage(labels, width, height, style), 0, 0);
    return this.overlay;
  }

  private scale(): number {
    const r = this.canvas.getBoundingClientRect();
    return r.width > 0 ? this.canvas.width / r.width : 1;
  }

  private dot(x: number, y: number, fill: string): void {
    const s = this.scale();
    this.ctx.beginPath();
    this.ctx.arc(x, y, 5 * s, 0, 2 * Math.PI);
    this.ctx.fillStyle = fill;
    this.ctx.fill();
    this.ctx.lineWidth = 1.5 * s;
    this.ctx.strokeStyle = '#ffffff';
    this.ctx.stroke();
  }

  private strokeBox([x0, y0, x1, y1]: Box, color: string): void {
    this.ctx.lineWidth = 2 * this.scale();
    this.ctx.strokeStyle = color;
    this.ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
}

/** Each object's mask filled in its colour (grey and hatched when stale), outlined in white. */
export function maskImage(labels: Uint8Array, width: number, height: number, style: MaskStyle): ImageData {
  const img = new ImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const id = labels[p];
      if (!id) continue;
      const edge = (x > 0 && labels[p - 1] !== id) || (x + 1 < width && labels[p + 1] !== id)
        || (y > 0 && labels[p - width] !== id) || (y + 1 < height && labels[p + width] !== id);
      if (style === 'stale' && !edge && (x + y) % 8 >= 3) continue;
      if (style !== 'fresh' && edge && (x + y) % 6 >= 3) continue;
      const [r, g, b] = edge ? [255, 255, 255] : style === 'stale' ? STALE_COLOR : objectColor(id);
      img.data.set([r, g, b, edge ? OUTLINE_ALPHA : FILL_ALPHA], p * 4);
    }
  }
  return img;
}

function objectColor(id: number): [number, number, number] {
  return OBJECT_COLORS[(id - 1) % OBJECT_COLORS.length];
}

/** The CSS colour of object `id`, for the controls too. */
export function objectCss(id: number): string {
  const [r, g, b] = objectColor(id);
  return `rgb(${r}, ${g}, ${b})`;
}
