/**
 * Picks the worker's backend and says what it is. "auto" takes a GPU backend only when the GPU is real: a
 * software adapter (WebGPU's fallback adapter, WebGL on SwiftShader / llvmpipe) is many times slower than wasm,
 * so auto passes over it and says so. A backend chosen by name is used as asked, labelled slow if software.
 */
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initBrowserBackend, type BrowserBackendName } from '../../../src/browser.js';
import type { BackendChoice, BackendInfo } from './protocol.js';

const SOFTWARE_RENDERER = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render/i;

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; description?: string; device?: string; isFallbackAdapter?: boolean };
}

/** What WebGPU's adapter is, or null when there is none. */
async function webgpuAdapter(): Promise<{ software: boolean; label: string } | null> {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const label = [info.vendor, info.architecture, info.description, info.device].filter(Boolean).join(' ');
  const software = !!(adapter.isFallbackAdapter || info.isFallbackAdapter) || SOFTWARE_RENDERER.test(label);
  return { software, label };
}

/** WebGL's renderer string, or null without WebGL (read in the worker through an OffscreenCanvas). */
function webglRenderer(): { software: boolean; label: string } | null {
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2') as WebGL2RenderingContext | null;
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const label = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return { software: SOFTWARE_RENDERER.test(label), label };
}

async function probe(name: BrowserBackendName): Promise<{ software: boolean; label: string } | null> {
  if (name === 'webgpu') return webgpuAdapter();
  if (name === 'webgl') return webglRenderer();
  return { software: false, label: '' };
}

function describe(name: BrowserBackendName, software: boolean, label: string): string {
  if (name === 'wasm') {
    // tfjs sizes its thread pool from the cores (half of them, at most 4): a 2-core machine gets 1 thread.
    const threads = getThreadsCount();
    const plural = threads === 1 ? 'thread' : 'threads';
    return crossOriginIsolated
      ? `wasm, ${threads} ${plural} (cross-origin isolated)`
      : `wasm, ${threads} ${plural} (not cross-origin isolated: no threads)`;
  }
  if (name === 'cpu') return 'plain JavaScript CPU (slowest)';
  const title = name === 'webgpu' ? 'WebGPU' : 'WebGL';
  if (software) {
    const which = label.match(SOFTWARE_RENDERER)?.[0];
    return `${title} (software renderer${which && !/software/i.test(which) ? ` ${which}` : ''}: slow)`;
  }
  // "ANGLE (NVIDIA, NVIDIA GeForce RTX 4090 Direct3D11 …)" → "NVIDIA, NVIDIA GeForce RTX 4090 …"
  const gpu = label.replace(/^ANGLE \(/, '').replace(/\)$/, '').slice(0, 48);
  return gpu ? `${title} on ${gpu}` : title;
}

/** Starts the backend the page asked for; auto = a hardware GPU backend if there is one, else wasm, else cpu. */
export async function startBackend(choice: BackendChoice, wasmPaths: Record<string, string>): Promise<BackendInfo> {
  const skipped: string[] = [];
  const candidates: BrowserBackendName[] = choice === 'auto' ? ['webgpu', 'webgl', 'wasm', 'cpu'] : [choice];
  for (const name of candidates) {
    const probed = await probe(name);
    if (choice === 'auto') {
      if (!probed) continue;
      if (probed.software) {
        skipped.push(`${name === 'webgpu' ? 'WebGPU' : 'WebGL'} skipped: software renderer (${probed.label || 'fallback adapter'})`);
        continue;
      }
    }
    try {
      const started = await initBrowserBackend({ backend: name, wasmPaths });
      const software = probed?.software ?? false;
      return { name: started, description: describe(started, software, probed?.label ?? ''), software, skipped };
    } catch (err) {
      if (choice !== 'auto') throw err;
      skipped.push(`${name} cannot start here`);
    }
  }
  throw new Error('no backend can start in this browser');
}
