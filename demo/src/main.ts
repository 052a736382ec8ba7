/** The demo page: wires the controls to the model, the tracking session and the viewer. */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url';
import {
  BROWSER_BACKENDS, decodeVideo, frameFilesInOrder, initBrowserBackend, loadSam2FromBytes, siblingConfigUrl,
  type BrowserBackendName, type CheckpointBytes, type Sam2Model,
} from '../../src/browser.js';
import { masksZip } from './masks.js';
import { TrackingSession, type Box } from './session.js';
import { LoadedVideo } from './video.js';
import { Viewer, objectCss } from './viewer.js';

const WASM_PATHS = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
};
/** Videos are decoded at most this large (longest side) and this long. */
const VIDEO_MAX_SIDE = 1024;
const VIDEO_MAX_FRAMES = 900;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

let checkpoint: CheckpointBytes | null = null;
let model: Sam2Model | null = null;
let video: LoadedVideo | null = null;
let session: TrackingSession | null = null;
let frame = 0;
let busy = false;
let stopRequested = false;
let playing: number | null = null;

const viewer = new Viewer($<HTMLCanvasElement>('view'), {
  click: (x, y, negative) => void prompt((s, obj) => s.addPoint(obj, frame, { x, y, label: negative || tool() === 'negative' ? 0 : 1 })),
  box: (box: Box) => void prompt((s, obj) => s.setBox(obj, frame, box)),
});

function setStatus(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
  document.body.dataset.state = error ? 'error' : busy ? 'busy' : 'idle';
}

/** Runs one page action at a time; errors end up in the status line. */
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
    console.error(err);
    setStatus(`${label} failed: ${(err as Error).message}`, true);
  } finally {
    refreshControls();
  }
}

function tool(): string {
  return (document.querySelector('input[name="tool"]:checked') as HTMLInputElement).value;
}

function objectId(): number {
  return Number($<HTMLSelectElement>('object').value);
}

function refreshControls(): void {
  const ready = !!session && !busy;
  ($('prompt-tools') as HTMLFieldSetElement).disabled = !ready;
  ($('track-tools') as HTMLFieldSetElement).disabled = !session;
  input('propagate').disabled = !ready;
  input('stop').disabled = !busy;
  ($('save-tools') as HTMLFieldSetElement).disabled = !ready || !session?.labels.size;
  input('frame').disabled = !video;
  input('play').disabled = !video;
  for (const id of ['model-files', 'model-url-load', 'video-file', 'frames-folder', 'frame-files', 'backend']) input(id).disabled = busy;
  $('pathways-row').hidden = (document.querySelector('input[name="mode"]:checked') as HTMLInputElement).value !== 'tree';
  renderPromptList();
}

function renderPromptList(): void {
  const list = $('prompt-list');
  list.replaceChildren();
  for (const [objId, byFrame] of session?.prompts ?? []) {
    for (const [f, p] of byFrame) {
      const parts = p.points.map((q) => `${q.label ? '+' : '−'}(${q.x.toFixed(1)}, ${q.y.toFixed(1)})`);
      if (p.box) parts.unshift(`box [${p.box.map((v) => v.toFixed(0)).join(', ')}]`);
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = objectCss(objId);
      li.append(swatch, `object ${objId} · frame ${f}: ${parts.join(' ')}`);
      list.append(li);
    }
  }
}

async function showFrame(i: number): Promise<void> {
  if (!video) return;
  frame = Math.min(Math.max(i, 0), video.numFrames - 1);
  input('frame').value = String(frame);
  $('frame-label').textContent = `${frame + 1} / ${video.numFrames}`;
  viewer.show(await video.bitmap(frame), session?.labels.get(frame), session?.promptsOn(frame) ?? []);
}

/** What the page waits for next. */
function nextStep(): string {
  if (!model) return 'Load a converted checkpoint (.safetensors with its .json).';
  if (!video) return 'Load a video file or a folder of frames.';
  return 'Click the object on any frame (drag with the box tool), then Propagate.';
}

function startSession(): void {
  session?.dispose();
  session = model && video ? new TrackingSession(model, video) : null;
  void showFrame(frame);
  refreshControls();
}

async function prompt(act: (s: TrackingSession, objId: number) => Promise<void>): Promise<void> {
  const s = session;
  if (!s || busy) return;
  await task('Segmenting', () => act(s, objectId()));
  await showFrame(frame);
}

// ------------------------------------------------------------------------------------------------------
// Backend and model

async function startBackend(choice: string): Promise<void> {
  const order = choice === 'auto' ? BROWSER_BACKENDS : (choice as BrowserBackendName);
  const name = await initBrowserBackend({ backend: order, wasmPaths: WASM_PATHS });
  $('backend-name').textContent = name;
  document.body.dataset.backend = name;
}

function buildModel(): void {
  model?.dispose();
  model = null;
  if (!checkpoint) return;
  const t0 = performance.now();
  model = loadSam2FromBytes(checkpoint);
  const mb = (checkpoint.weights.byteLength / 2 ** 20).toFixed(1);
  $('model-status').textContent = `${checkpoint.label}: ${model.config.image_size}px, ${(model.numParameters / 1e6).toFixed(2)}M params, ${mb} MB (${(performance.now() - t0).toFixed(0)} ms)`;
}

async function loadCheckpoint(bytes: CheckpointBytes): Promise<void> {
  checkpoint = bytes;
  buildModel();
  startSession();
}

input('model-files').addEventListener('change', () => void task('Loading model', async () => {
  const files = [...(input('model-files').files ?? [])];
  const weights = files.find((f) => /\.safetensors$/i.test(f.name));
  const config = files.find((f) => /\.(json|ya?ml)$/i.test(f.name));
  if (!weights) throw new Error('pick the .safetensors file (and its .json config) together');
  await loadCheckpoint({ weights: await weights.arrayBuffer(), config: await config?.text(), label: weights.name });
}));

async function loadCheckpointUrl(url: string): Promise<void> {
  // Without a config beside it the checkpoint must be an official variant (detected from its shapes).
  const config = fetch(siblingConfigUrl(url)).then((r) => (r.ok ? r.text() : undefined), () => undefined);
  const [weights, configText] = await Promise.all([fetchBytes(url), config]);
  await loadCheckpoint({ weights, config: configText, label: url.split('/').pop() ?? url });
}

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

input('model-url-load').addEventListener('click', () => void task('Loading model', () => loadCheckpointUrl(input('model-url').value.trim())));

$<HTMLSelectElement>('backend').addEventListener('change', () => void task('Switching backend', async () => {
  await startBackend($<HTMLSelectElement>('backend').value);
  buildModel();
  startSession();
}));

// ------------------------------------------------------------------------------------------------------
// Video

async function openVideo(v: LoadedVideo): Promise<void> {
  video?.close();
  video = v;
  frame = 0;
  input('frame').max = String(v.numFrames - 1);
  $('video-status').textContent = `${v.label}: ${v.numFrames} frames, ${v.width}×${v.height}`;
  startSession();
}

function fps(): number {
  return Math.max(1, Number(input('fps').value) || 10);
}

input('video-file').addEventListener('change', () => void task('Decoding video', async () => {
  const file = input('video-file').files?.[0];
  if (!file) return;
  const frames = await decodeVideo(file, {
    fps: fps(), maxSide: VIDEO_MAX_SIDE, maxFrames: VIDEO_MAX_FRAMES,
    onProgress: (n, total) => setStatus(`Decoding video… ${n} / ${total}`),
  });
  await openVideo(await LoadedVideo.open(frames, fps(), file.name));
}));

for (const id of ['frames-folder', 'frame-files']) {
  input(id).addEventListener('change', () => void task('Reading frames', async () => {
    const files = frameFilesInOrder(input(id).files ?? []);
    const folder = (files[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0] || 'frames';
    await openVideo(await LoadedVideo.open(files, fps(), folder));
  }));
}

// ------------------------------------------------------------------------------------------------------
// Prompts, tracking, playback, download

document.querySelectorAll<HTMLInputElement>('input[name="tool"]').forEach((r) => r.addEventListener('change', () => { viewer.boxMode = tool() === 'box'; }));
document.querySelectorAll<HTMLInputElement>('input[name="mode"]').forEach((r) => r.addEventListener('change', refreshControls));
input('pathways').addEventListener('input', () => { $('pathways-value').textContent = input('pathways').value; });
input('frame').addEventListener('input', () => void showFrame(Number(input('frame').value)));

$('new-object').addEventListener('click', () => {
  const select = $<HTMLSelectElement>('object');
  const id = Math.max(...[...select.options].map((o) => Number(o.value))) + 1;
  select.append(new Option(String(id), String(id), true, true));
});

$('clear').addEventListener('click', () => void task('Clearing', async () => {
  await session?.clear();
  await showFrame(frame);
}));

$('propagate').addEventListener('click', () => void task('Tracking', async () => {
  const s = session as TrackingSession;
  const tree = (document.querySelector('input[name="mode"]:checked') as HTMLInputElement).value === 'tree';
  const mode = { tree: tree ? { pathways: Number(input('pathways').value) } : (false as const) };
  stopRequested = false;
  const progress = $<HTMLProgressElement>('progress');
  progress.value = 0;
  let last = { done: 0, total: 0, msPerFrame: 0 };
  for await (const p of s.propagate(mode, () => stopRequested)) {
    last = p;
    progress.value = p.done / p.total;
    $('stats').textContent = `${p.done} / ${p.total} frames · ${p.msPerFrame.toFixed(0)} ms/frame`;
    if (p.result.frame >= frame || p.result.final) await showFrame(p.result.frame);
    // Let the page paint the frame before the next one is computed.
    await new Promise((r) => setTimeout(r, 0));
  }
  Object.assign($('stats').dataset, { done: String(last.done), total: String(last.total), msPerFrame: last.msPerFrame.toFixed(1) });
  return stopRequested ? 'Stopped.' : `Tracked ${last.total} frames: play the result or download the masks.`;
}));

$('stop').addEventListener('click', () => { stopRequested = true; });

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

$('download').addEventListener('click', () => {
  const s = session;
  if (!s || !video) return;
  const frames = [...s.labels.keys()].sort((a, b) => a - b).map((f) => ({ name: s.names.get(f) ?? String(f), labels: s.labels.get(f) as Uint8Array }));
  const zip = masksZip('masks', frames, video.width, video.height);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([zip as BlobPart], { type: 'application/zip' }));
  a.download = `${video.label.replace(/\.[^.]*$/, '')}-masks.zip`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
});

// ------------------------------------------------------------------------------------------------------
// Start: ?backend=webgl|wasm|… picks the backend, ?model=<url> loads a checkpoint.

const params = new URLSearchParams(location.search);
void task('Starting', async () => {
  const choice = params.get('backend') ?? 'auto';
  $<HTMLSelectElement>('backend').value = choice;
  await startBackend(choice);
  const url = params.get('model');
  if (url) {
    input('model-url').value = url;
    await loadCheckpointUrl(url);
  }
});
