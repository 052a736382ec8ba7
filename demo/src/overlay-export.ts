/**
 * The overlay video: every frame drawn by the caller (the frame with its masks, as the viewer shows it) and
 * encoded to WebM, through WebCodecs (VP9, else VP8) and webm-muxer, one frame per frame and timestamps from
 * the frame rate; where the browser has no VideoEncoder, a MediaRecorder records the canvas as it is redrawn
 * at the frame rate (real time, and frame timing as the recorder sees it).
 */
import { ArrayBufferTarget, Muxer } from 'webm-muxer';

export interface OverlayExport {
  count: number;
  width: number;
  height: number;
  fps: number;
  /** Draws frame `index` into `ctx`, filling its canvas: width × height rounded down to even sides (evenSize). */
  draw(index: number, ctx: OffscreenCanvasRenderingContext2D): Promise<void>;
  onProgress?: (done: number, total: number) => void;
  /** Returning true ends the export early (the video then holds the frames so far). */
  stop?: () => boolean;
  /** 'media-recorder' skips WebCodecs (e.g. to compare); default: WebCodecs when the browser encodes VP9 or VP8. */
  encoding?: 'auto' | 'media-recorder';
}

export interface ExportedVideo {
  blob: Blob;
  frames: number;
  /** The codec and the path that wrote it. */
  codec: string;
  encoding: 'webcodecs' | 'media-recorder';
}

/** WebCodecs codec string and its Matroska codec ID, best first. */
const CODECS = [['vp09.00.10.08', 'V_VP9'], ['vp8', 'V_VP8']] as const;
/** A keyframe every this many frames: a player can seek within the video. */
const KEYFRAME_EVERY = 30;
/** Frames waiting in the encoder before drawing the next. */
const MAX_QUEUE = 8;

/** VP8/VP9 code 4:2:0 pictures: both sides even. */
export function evenSize(width: number, height: number): { width: number; height: number } {
  return { width: Math.max(2, width & ~1), height: Math.max(2, height & ~1) };
}

function bitrate(width: number, height: number, fps: number): number {
  return Math.round(Math.min(20e6, Math.max(2e5, width * height * fps * 0.15)));
}

async function encoderConfig(width: number, height: number, fps: number): Promise<{ config: VideoEncoderConfig; muxCodec: string } | null> {
  if (typeof VideoEncoder === 'undefined') return null;
  for (const [codec, muxCodec] of CODECS) {
    const config: VideoEncoderConfig = { codec, width, height, framerate: fps, bitrate: bitrate(width, height, fps) };
    try {
      if ((await VideoEncoder.isConfigSupported(config)).supported) return { config, muxCodec };
    } catch {
      // Unknown codec string in this browser: try the next.
    }
  }
  return null;
}

function canvasOf(width: number, height: number): { canvas: OffscreenCanvas; ctx: OffscreenCanvasRenderingContext2D } {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser has no 2D canvas to draw the overlay with');
  return { canvas, ctx };
}

async function withWebCodecs(job: OverlayExport, size: { width: number; height: number }, setup: { config: VideoEncoderConfig; muxCodec: string }): Promise<ExportedVideo> {
  const muxer = new Muxer({ target: new ArrayBufferTarget(), video: { codec: setup.muxCodec, width: size.width, height: size.height, frameRate: job.fps } });
  let failure: Error | null = null;
  const encoder = new VideoEncoder({
    output: (chunk, meta) => muxer.addVideoChunk(chunk, meta),
    error: (err) => { failure = err; },
  });
  encoder.configure(setup.config);
  const { canvas, ctx } = canvasOf(size.width, size.height);
  const duration = 1e6 / job.fps;
  let frames = 0;
  try {
    for (let i = 0; i < job.count && !job.stop?.(); i++) {
      while (encoder.encodeQueueSize > MAX_QUEUE && !failure) await new Promise((r) => setTimeout(r, 5));
      if (failure) break;
      await job.draw(i, ctx);
      const frame = new VideoFrame(canvas, { timestamp: Math.round(i * duration), duration: Math.round(duration) });
      encoder.encode(frame, { keyFrame: i % KEYFRAME_EVERY === 0 });
      frame.close();
      frames++;
      job.onProgress?.(frames, job.count);
    }
    if (!failure) await encoder.flush();
  } finally {
    if (encoder.state !== 'closed') encoder.close();
  }
  if (failure) throw new Error(`encoding the overlay video failed: ${(failure as Error).message}`);
  muxer.finalize();
  return { blob: new Blob([muxer.target.buffer], { type: 'video/webm' }), frames, codec: setup.config.codec, encoding: 'webcodecs' };
}

async function withMediaRecorder(job: OverlayExport, size: { width: number; height: number }): Promise<ExportedVideo> {
  if (typeof MediaRecorder === 'undefined' || typeof HTMLCanvasElement === 'undefined') {
    throw new Error('this browser can record no video (no WebCodecs VideoEncoder, no MediaRecorder)');
  }
  const mime = ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm'].find((m) => MediaRecorder.isTypeSupported(m));
  if (!mime) throw new Error('this browser records no WebM video');
  const shown = document.createElement('canvas');
  shown.width = size.width;
  shown.height = size.height;
  const out = shown.getContext('2d') as CanvasRenderingContext2D;
  const { canvas, ctx } = canvasOf(size.width, size.height);
  const stream = shown.captureStream(0);
  const track = stream.getVideoTracks()[0] as CanvasCaptureMediaStreamTrack;
  const recorder = new MediaRecorder(stream, { mimeType: mime, videoBitsPerSecond: bitrate(size.width, size.height, job.fps) });
  const chunks: Blob[] = [];
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  const stopped = new Promise<void>((resolve) => { recorder.onstop = () => resolve(); });
  recorder.start();
  let frames = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < job.count && !job.stop?.(); i++) {
      await job.draw(i, ctx);
      // Frames reach the recorder in real time: each waits for its moment.
      const due = t0 + (i * 1000) / job.fps;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      out.drawImage(canvas, 0, 0);
      track.requestFrame();
      frames++;
      job.onProgress?.(frames, job.count);
    }
    await new Promise((r) => setTimeout(r, 1000 / job.fps));
  } finally {
    recorder.stop();
    await stopped;
    stream.getTracks().forEach((t) => t.stop());
  }
  return { blob: new Blob(chunks, { type: 'video/webm' }), frames, codec: mime, encoding: 'media-recorder' };
}

/** Encodes the frames `job.draw` paints into a WebM video. */
export async function exportOverlayVideo(job: OverlayExport): Promise<ExportedVideo> {
  if (job.count < 1) throw new Error('no frames to export');
  if (!(job.fps > 0)) throw new Error(`frame rate must be positive, got ${job.fps}`);
  const size = evenSize(job.width, job.height);
  const setup = job.encoding === 'media-recorder' ? null : await encoderConfig(size.width, size.height, job.fps);
  return setup ? withWebCodecs(job, size, setup) : withMediaRecorder(job, size);
}
