/**
 * The demo page: wires the controls to the inference worker, the tracking session, the viewer, the object
 * panel and the timeline. Three seams for other inputs and outputs: a video is any VideoInput (its
 * `source()` is the FrameSource the worker pulls frames from: frame images, or a video file decoded on demand),
 * a model is `loadModel(bytes)` (picked files or a cached download), the masks download is `downloadMasks()`
 * and the overlay video `exportOverlay()`.
 */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url';
import { frameFilesInOrder, type CheckpointBytes } from '../../src/browser.js';
import { exportMasks } from './export.js';
import { pageMessage } from './messages.js';
import { formatBytes, type DownloadProgress } from './model-cache.js';
import { checkpointFromFiles, checkpointFromUrl } from './model-pick.js';
import { exportOverlayVideo } from './overlay-export.js';
import { overlayDrawer } from './overlay-frames.js';
import { renderObjects } from './objects-panel.js';
import { PathsView } from './paths-view.js';
import { PageError, TrackingSession, type Box, type TrackingMode } from './session.js';
import { Timeline } from './timeline.js';
import { StreamedVideo } from './video-stream.js';
import { LoadedVideo, type VideoInput } from './video.js';
import { Viewer, objectCss } from './viewer.js';
import { InferenceClient } from './worker/client.js';
import type { BackendChoice, ModelInfo } from './worker/protocol.js';

const WASM_PATHS = {
  'tfjs-backend-wasm.wasm': new URL(wasmPlain, location.href).href,
  'tfjs-backend-wasm-simd.wasm': new URL(wasmSimd, location.href).href,
  'tfjs-backend-wasm-threaded-simd.wasm': new URL(wasmThreaded, location.href).href,
};
/** Videos are decoded at most this large (longest side) and this long. */
const VIDEO_MAX_SIDE = 1024;
const VIDEO_MAX_FRAMES = 900;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

const client = new InferenceClient();
let model: (ModelInfo & { label: string }) | null = null;
let video: VideoInput | null = null;
/** The frame names of the video, which the worker's state uses for results. */
let frameNames: string[] = [];
let session: TrackingSession | null = null;
let frame = 0;
/** The frame the user last prompted on: the view returns there after tracking. */
let workFrame = 0;
let activeObject = 1;
let busy = false;
let tracking = false;
let playing: number | null = null;
let lastRun: { stopped: boolean; start: number } | null = null;
/** Whether the stage shows SAM2Long's paths instead of the frame view. */
let showingPaths = false;

const viewer = new Viewer($<HTMLCanvasElement>('view'), $('view-wrap'), {
  click: (x, y, negative) => void prompt((s, obj) => s.addPoint(obj, frame, { x, y, label: negative || tool() === 'negative' ? 0 : 1 })),
  box: (box: Box) => void prompt((s, obj) => s.setBox(obj, frame, box)),
  boxClick: () => setStatus('Box tool: drag a box around the object (a plain click adds nothing; pick “+ point” to click).'),
});
const pathsView = new PathsView($<HTMLCanvasElement>('paths-canvas'), $('paths-caption'), $('view-wrap'));
const timeline = new Timeline($<HTMLCanvasElement>('tracklets'), (f) => void showFrame(f));
new ResizeObserver(() => drawTimeline()).observe($('tracklets'));

function setStatus(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
  document.body.dataset.state = error ? 'error' : busy ? 'busy' : 'idle';
}

/** Runs one page action at a time; errors end up in the status line in the page's words. */
async function task(label: string, work: () => Promise<string | void>): Promise<void> {
  if (busy) return;
  busy = true;
  setStatus(`${label}…`);
  refreshControls();
  try {
    const message = await work();
    busy = false;
    setStatus(message ?? nextStep());
  } catch (err) {
    busy = false;
    console.warn(err);
    setStatus(pageMessage(label, err), true);
  } finally {
    refreshControls();
  }
}

function tool(): string {
  return (document.querySelector('input[name="tool"]:checked') as HTMLInputElement).value;
}

function trackingMode(): TrackingMode {
  const tree = (document.querySelector('input[name="mode"]:checked') as HTMLInputElement).value === 'tree';
  return { tree: tree ? { pathways: Number(input('pathways').value) } : false };
}

function refreshControls(): void {
  const ready = !!session && !busy;
  ($('prompt-tools') as HTMLFieldSetElement).disabled = !ready;
  ($('track-tools') as HTMLFieldSetElement).disabled = !session || (busy && !tracking);
  input('propagate').disabled = !ready || !session?.hasPrompts;
  input('clear').disabled = !session?.hasPrompts;
  input('stop').disabled = !tracking;
  for (const el of document.querySelectorAll<HTMLInputElement>('input[name="mode"], #pathways')) el.disabled = busy;
  const counts = session?.counts();
  ($('save-tools') as HTMLFieldSetElement).disabled = !ready || !session?.hasRun || !counts?.fresh;
  input('frame').disabled = !video;
  input('play').disabled = !video;
  for (const id of ['model-files', 'model-url', 'model-url-load', 'video-file', 'frames-folder', 'frame-files', 'fps', 'backend']) input(id).disabled = busy;
  $('pathways-row').hidden = $('paths-row').hidden = !trackingMode().tree;
  if (!session?.paths.size && showingPaths) togglePaths();
  input('show-paths').disabled = !session?.paths.size;
  renderObjects($('objects'), session, activeObject, {
    select: (id) => { activeObject = id; refreshControls(); },
    rename: (id, name) => { session?.objects.set(id, name); refreshControls(); },
    remove: (id) => void task('Deleting the object', async () => {
      await session?.deleteObject(id);
      if (activeObject === id) activeObject = Math.min(...(session?.objects.keys() ?? [1]));
      if (session && !session.objects.size) activeObject = session.addObject();
      await showFrame(frame);
    }),
  });
  renderPromptList();
  renderSummary();
  drawTimeline();
}

function renderPromptList(): void {
  const list = $('prompt-list');
  list.replaceChildren();
  for (const [objId, byFrame] of session?.prompts ?? []) {
    for (const [f, p] of [...byFrame].sort((a, b) => a[0] - b[0])) {
      const parts = p.points.map((q) => `${q.label ? '+' : '−'}(${q.x.toFixed(1)}, ${q.y.toFixed(1)})`);
      if (p.box) parts.unshift(`box [${p.box.map((v) => v.toFixed(0)).join(', ')}]`);
      const li = document.createElement('li');
      li.style.color = objectCss(objId);
      li.textContent = `${session?.objectName(objId)} · frame ${f}: ${parts.join(' ')}`;
      li.addEventListener('click', () => void showFrame(f));
      list.append(li);
    }
  }
}

/** The frames' state under the progress bar, the progress bar itself after a run, and the export note. */
function renderSummary(): void {
  const s = session;
  const summary = $('frames-summary');
  const note = $('export-note');
  if (!s) return;
  const c = s.counts();
  // While tracking, the bar shows the run's progress.
  if (!tracking) $<HTMLProgressElement>('progress').value = s.numFrames ? c.fresh / s.numFrames : 0;
  summary.textContent = s.hasPrompts || s.hasRun
    ? `${c.fresh} / ${s.numFrames} frames with valid masks${c.stale ? ` · ${c.stale} stale` : ''}${c.provisional ? ` · ${c.provisional} provisional` : ''}`
    : '';
  Object.assign(summary.dataset, { fresh: String(c.fresh), stale: String(c.stale), total: String(s.numFrames) });
  note.textContent = !s.hasRun ? 'Available after tracking.' : s.complete ? 'Complete: every frame from the first prompt on.'
    : `Partial: ${c.fresh} of ${s.numFrames} frames (the zip's README.txt lists what is missing).`;
  note.classList.toggle('partial', s.hasRun && !s.complete);
}

function drawTimeline(): void {
  timeline.draw(session, video?.numFrames ?? 0, frame);
}

async function showFrame(i: number): Promise<void> {
  if (!video) return;
  frame = Math.min(Math.max(i, 0), video.numFrames - 1);
  const shown = frame;
  input('frame').value = String(frame);
  $('frame-label').textContent = `${frame + 1} / ${video.numFrames}`;
  const state = session?.status.get(frame);
  const badge = $('frame-badge');
  badge.textContent = `frame ${frame + 1} / ${video.numFrames}${state && state !== 'tracked' ? ` · ${state === 'prompted' ? 'prompted' : state}` : ''}`;
  badge.className = state === 'stale' ? 'stale' : '';
  badge.dataset.frame = String(frame);
  drawTimeline();
  const bitmap = await video.bitmap(frame);
  if (shown !== frame) return;
  if (showingPaths) pathsView.show(bitmap, frame, session?.paths.get(frame), recordedPaths());
  viewer.show(bitmap, session?.labelsOn(frame), session?.promptsOn(frame) ?? [], state === 'stale' ? 'stale' : state === 'provisional' ? 'provisional' : 'fresh');
}

/** What the page waits for next. */
function nextStep(): string {
  if (!model) return 'Step 1: load a converted checkpoint (its .safetensors and .json together).';
  if (!video) return 'Step 2: load a video file, a folder of frames or frame images.';
  const s = session as TrackingSession;
  if (!s.hasPrompts) return `Step 3: click the object on this frame (or any other; box tool: drag a box), then Propagate.`;
  const c = s.counts();
  if (!s.hasRun) return 'Click again to refine (− point to remove a part), add objects, or press Propagate to track through the video.';
  if (c.stale) {
    const first = [...s.status].filter(([, st]) => st === 'stale').map(([f]) => f).sort((a, b) => a - b)[0];
    return `${c.stale} frames are stale: press Propagate to re-track from frame ${first + 1}. Download now gives only the ${c.fresh} valid frames.`;
  }
  if (lastRun?.stopped || !s.complete) return `Stopped with ${c.fresh} of ${s.numFrames} frames tracked: Propagate continues; Download gives a partial zip.`;
  const paths = s.paths.size ? ` “Show paths” compares SAM2Long's paths (${recordedPaths()}).` : '';
  return `All frames tracked. Play it, correct any frame with a click (then Propagate again), or download the masks.${paths}`;
}

/** The frames SAM2Long's paths were recorded on, in words. */
function recordedPaths(): string {
  const frames = [...(session?.paths.keys() ?? [])];
  return frames.length ? `recorded on frames ${Math.min(...frames) + 1}–${Math.max(...frames) + 1}` : 'none recorded';
}

/** The frames (0-based, inclusive) whose paths a SAM2Long run records. */
function pathsRange(): { first: number; last: number } | undefined {
  const n = video?.numFrames ?? 1;
  const clamp = (v: number) => Math.min(n - 1, Math.max(0, Math.round(v) - 1));
  const a = clamp(Number(input('paths-first').value) || 1);
  const b = clamp(Number(input('paths-last').value) || 1);
  return trackingMode().tree ? { first: Math.min(a, b), last: Math.max(a, b) } : undefined;
}

function togglePaths(): void {
  showingPaths = !showingPaths;
  $('view-box').hidden = showingPaths;
  $('paths-panel').hidden = !showingPaths;
  $('show-paths').setAttribute('aria-pressed', String(showingPaths));
  $('show-paths').textContent = showingPaths ? 'Back to the frame' : 'Show paths';
  if (showingPaths) {
    const frames = [...(session?.paths.keys() ?? [])];
    if (frames.length && !session?.paths.has(frame)) void showFrame(Math.min(...frames));
    else void showFrame(frame);
  }
}

$('show-paths').addEventListener('click', togglePaths);

function startSession(): void {
  session = model && video ? new TrackingSession(client, video.numFrames, video.width * video.height) : null;
  activeObject = 1;
  lastRun = null;
  $('stats').textContent = '';
  void showFrame(frame);
  refreshControls();
}

async function prompt(act: (s: TrackingSession, objId: number) => Promise<void>): Promise<void> {
  const s = session;
  if (!s || busy) return;
  workFrame = frame;
  await task('Segmenting', () => act(s, activeObject));
  await showFrame(frame);
}

// ------------------------------------------------------------------------------------------------------
// Backend and model

async function startBackend(choice: string): Promise<void> {
  const info = await client.request({ type: 'backend', choice: choice as BackendChoice, wasmPaths: WASM_PATHS });
  const badge = $('backend-name');
  badge.textContent = info.description;
  badge.title = ['the backend in use', ...info.skipped].join('\n');
  badge.classList.toggle('slow', info.software || info.name === 'cpu');
  document.body.dataset.backend = info.name;
  document.body.dataset.backendDescription = info.description;
}

/** Loads a checkpoint (a .safetensors and, unless it is an official variant, its config) into the worker. */
export async function loadModel(bytes: CheckpointBytes): Promise<void> {
  model = null;
  session = null;
  const size = bytes.weights.byteLength;
  // Handed over to the worker without a copy where the bytes fill their buffer (a 900 MB checkpoint is not doubled).
  const w = bytes.weights;
  const weights = w instanceof ArrayBuffer ? w : w.byteOffset === 0 && w.byteLength === w.buffer.byteLength ? (w.buffer as ArrayBuffer) : w.slice().buffer;
  const info = await client.request({ type: 'model', checkpoint: { ...bytes, weights } }, undefined, [weights]);
  model = { ...info, label: bytes.label ?? 'checkpoint' };
  $('model-status').textContent = `${model.label}: ${info.imageSize}px, ${(info.parameters / 1e6).toFixed(2)}M parameters, ${(size / 2 ** 20).toFixed(1)} MB (built in ${info.ms.toFixed(0)} ms)`;
  if (video) await client.request({ type: 'video', count: video.numFrames, names: frameNames });
  startSession();
}

input('model-files').addEventListener('change', () => void task('Loading the model', async () => {
  const files = [...(input('model-files').files ?? [])];
  if (!files.length) throw new PageError('Pick the converted checkpoint (.safetensors) and its .json config together.');
  await loadModel(await checkpointFromFiles(files));
}));

/** The download's progress bar and its bytes, updated at most every 100 ms. */
function downloadProgress(label: string): (p: DownloadProgress) => void {
  const bar = $<HTMLProgressElement>('model-progress');
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 100 && p.loaded !== p.total) return;
    last = now;
    bar.hidden = false;
    if (p.total) bar.value = p.loaded / p.total;
    else bar.removeAttribute('value');
    const bytes = `${formatBytes(p.loaded)}${p.total ? ` / ${formatBytes(p.total)}` : ''}`;
    $('model-status').textContent = p.fromCache ? `${label}: reading the browser's cached copy… ${bytes}` : `${label}: downloading… ${bytes}`;
    bar.dataset.loaded = String(p.loaded);
    bar.dataset.fromCache = String(p.fromCache);
  };
}

async function loadCheckpointUrl(url: string): Promise<void> {
  if (!url) throw new PageError('Type the URL of a .safetensors checkpoint first.');
  const label = url.split(/[?#]/)[0].split('/').pop() || url;
  try {
    // Without a config beside it the checkpoint must be an official variant (detected from its shapes).
    const checkpoint = await checkpointFromUrl(url, downloadProgress(label));
    $('model-progress').dataset.source = checkpoint.fromCache ? 'cache' : 'network';
    await loadModel(checkpoint);
    $('model-status').append(checkpoint.fromCache ? ' · from the browser cache' : ' · downloaded and cached for next time');
  } finally {
    $('model-progress').hidden = true;
  }
}

input('model-url-load').addEventListener('click', () => void task('Loading the model', () => loadCheckpointUrl(input('model-url').value.trim())));

/** A new backend keeps the prompts: the worker rebuilds the model and the prompted frames are segmented again. */
/** The backend choice in effect (the menu goes back to it when a switch fails). */
let backendChoice = 'auto';

$<HTMLSelectElement>('backend').addEventListener('change', () => void task('Switching backend', async () => {
  const select = $<HTMLSelectElement>('backend');
  try {
    await startBackend(select.value);
    backendChoice = select.value;
  } catch (err) {
    select.value = backendChoice;
    throw err;
  }
  $('stats').textContent = '';
  lastRun = null;
  if (video) await client.request({ type: 'video', count: video.numFrames, names: frameNames });
  if (session?.hasPrompts) await session.replay();
  await showFrame(frame);
}));

// ------------------------------------------------------------------------------------------------------
// Video

/** Makes `v` the video: the worker pulls its frames from `v.source()`; `note` says how it is decoded. */
export async function openVideo(v: VideoInput, note = ''): Promise<void> {
  video?.close();
  video = v;
  frame = 0;
  workFrame = 0;
  const source = v.source();
  client.frames = source;
  frameNames = Array.from({ length: v.numFrames }, (_, i) => source.name(i));
  input('frame').max = String(v.numFrames - 1);
  $('video-status').textContent = `${v.label}: ${v.numFrames} frames, ${v.width}×${v.height}${note ? ` · ${note}` : ''}`;
  if (model) await client.request({ type: 'video', count: v.numFrames, names: frameNames });
  startSession();
}

function fps(): number {
  return Math.max(1, Number(input('fps').value) || 10);
}

$('video-limits').textContent = `(up to ${VIDEO_MAX_FRAMES} frames; video files scaled to ≤ ${VIDEO_MAX_SIDE} px)`;

input('video-file').addEventListener('change', () => void task('Opening the video', async () => {
  const file = input('video-file').files?.[0];
  if (!file) return;
  // Frames are decoded on demand (WebCodecs where the browser has the codec, else a <video> element), a few at a time.
  const limits = { maxSide: VIDEO_MAX_SIDE, maxFrames: VIDEO_MAX_FRAMES, fps: fps() };
  const v = await StreamedVideo.open(file, limits);
  await openVideo(v, v.describe(limits));
  document.body.dataset.videoDecoding = v.decoding;
}));

for (const id of ['frames-folder', 'frame-files']) {
  input(id).addEventListener('change', () => void task('Reading the frames', async () => {
    const files = frameFilesInOrder(input(id).files ?? []);
    if (files.length > VIDEO_MAX_FRAMES) throw new PageError(`${files.length} frames: the page takes at most ${VIDEO_MAX_FRAMES}.`);
    const folder = (files[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0] || 'frames';
    await openVideo(await LoadedVideo.open(files, fps(), folder));
  }));
}

// ------------------------------------------------------------------------------------------------------
// Prompts, objects, tracking, playback, download

document.querySelectorAll<HTMLInputElement>('input[name="tool"]').forEach((r) => r.addEventListener('change', () => {
  viewer.boxMode = tool() === 'box';
  $('view').classList.toggle('box-tool', viewer.boxMode);
}));
document.querySelectorAll<HTMLInputElement>('input[name="mode"]').forEach((r) => r.addEventListener('change', () => {
  refreshControls();
  setStatus(nextStep());
}));
input('pathways').addEventListener('input', () => { $('pathways-value').textContent = input('pathways').value; });
input('frame').addEventListener('input', () => void showFrame(Number(input('frame').value)));

$('new-object').addEventListener('click', () => {
  if (!session) return;
  try {
    activeObject = session.addObject();
    refreshControls();
    setStatus(`Click ${session.objectName(activeObject)} on any frame.`);
  } catch (err) {
    setStatus(pageMessage('New object', err), true);
  }
});

$('clear').addEventListener('click', () => void task('Clearing', async () => {
  await session?.clear();
  activeObject = 1;
  lastRun = null;
  $('stats').textContent = '';
  await showFrame(frame);
}));

$('propagate').addEventListener('click', () => void task('Tracking', async () => {
  const s = session as TrackingSession;
  tracking = true;
  refreshControls();
  const progress = $<HTMLProgressElement>('progress');
  progress.value = 0;
  let last = { done: 0, total: 0, msPerFrame: 0 };
  // The view follows the tracking front unless the user moves away from it (then it only redraws their frame).
  let front = frame;
  try {
    lastRun = await s.propagate(trackingMode(), (p) => {
      last = p;
      progress.value = p.done / p.total;
      $('stats').textContent = `run: ${p.done} / ${p.total} frames · ${p.msPerFrame.toFixed(0)} ms/frame`;
      setStatus(`Tracking… frame ${p.frame.frame + 1} of ${s.numFrames} (Stop ends it after this frame)`);
      renderSummary();
      const following = frame === front;
      front = Math.max(front, p.frame.frame);
      if (following) void showFrame(front);
      else if (p.frame.frame === frame) void showFrame(frame);
    }, pathsRange());
  } finally {
    tracking = false;
  }
  Object.assign($('stats').dataset, { done: String(last.done), total: String(last.total), msPerFrame: last.msPerFrame.toFixed(1) });
  // The run's speed only: how the frames stand now is the line under it (which a later correction changes).
  $('stats').textContent = `last run: ${last.done} frames from frame ${lastRun.start + 1}, ${last.msPerFrame.toFixed(0)} ms/frame${lastRun.stopped ? ' (stopped)' : ''}`;
  await showFrame(workFrame);
}));

$('stop').addEventListener('click', () => {
  client.stop();
  input('stop').disabled = true;
  setStatus('Stopping after the frame in progress…');
});

$('play').addEventListener('click', () => {
  if (playing !== null) {
    clearInterval(playing);
    playing = null;
    $('play').textContent = '▶ Play';
    return;
  }
  $('play').textContent = '⏸ Pause';
  playing = window.setInterval(() => void showFrame(video && frame + 1 < video.numFrames ? frame + 1 : 0), 1000 / (video?.fps ?? 10));
});

/** Downloads the masks zip: the valid frames, marked complete or partial. */
export function downloadMasks(): void {
  const s = session;
  if (!s || !video) return;
  const out = exportMasks(s, video);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([out.zip as BlobPart], { type: 'application/zip' }));
  a.download = out.fileName;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  setStatus(out.complete
    ? `Downloaded ${out.fileName}: all ${out.frames} frames.`
    : `Downloaded ${out.fileName}: PARTIAL, ${out.frames} of ${s.numFrames} frames (README.txt inside lists the rest). ${nextStep()}`);
}

$('download').addEventListener('click', downloadMasks);

/** Encodes every frame with its masks, as the view shows them, into a WebM and downloads it. */
export function exportOverlay(): Promise<void> {
  return task('Exporting the overlay video', async () => {
    const s = session as TrackingSession;
    const v = video as VideoInput;
    const out = await exportOverlayVideo({
      count: v.numFrames, width: v.width, height: v.height, fps: v.fps,
      draw: overlayDrawer(v, s),
      onProgress: (done, total) => {
        $<HTMLProgressElement>('progress').value = done / total;
        setStatus(`Exporting the overlay video… frame ${done} of ${total}`);
      },
    });
    const name = `${v.label.replace(/\.[^.]*$/, '')}-overlay.webm`;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(out.blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    const c = s.counts();
    const partial = c.fresh < s.numFrames ? ` Masks on ${c.fresh} of ${s.numFrames} frames${c.stale ? ` (${c.stale} stale, drawn grey)` : ''}.` : '';
    return `Exported ${name}: ${out.frames} frames, ${formatBytes(out.blob.size)} (${out.codec}, ${out.encoding === 'webcodecs' ? 'WebCodecs' : 'MediaRecorder'}).${partial}`;
  });
}

$('export-overlay').addEventListener('click', () => void exportOverlay());

// ← / → step through the frames (not while typing in a field).
document.addEventListener('keydown', (e) => {
  const typing = e.target instanceof HTMLInputElement && ['text', 'number', 'range'].includes(e.target.type);
  if (!video || typing || e.altKey || e.ctrlKey || e.metaKey || !['ArrowLeft', 'ArrowRight'].includes(e.key)) return;
  e.preventDefault();
  void showFrame(frame + (e.key === 'ArrowRight' ? 1 : -1));
});

// ------------------------------------------------------------------------------------------------------
// Start: ?backend=webgl|wasm|… picks the backend, ?model=<url> loads a checkpoint.

const params = new URLSearchParams(location.search);
void task('Starting', async () => {
  const choice = params.get('backend') ?? 'auto';
  $<HTMLSelectElement>('backend').value = choice;
  await startBackend(choice);
  backendChoice = choice;
  const url = params.get('model');
  if (url) {
    input('model-url').value = url;
    await loadCheckpointUrl(url);
  }
});
