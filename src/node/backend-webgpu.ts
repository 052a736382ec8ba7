/**
 * tfjs's WebGPU backend in Node, on Dawn through the optional `webgpu` package (Dawn's prebuilt Node addon).
 * Node lacks three things tfjs-backend-webgpu takes from a browser, supplied here:
 * - `navigator.gpu`, which the backend checks when it is built (set only for that moment) and the WebGPU
 *   globals (GPUBufferUsage, GPUMapMode, ...) it reads while running (installed for good);
 * - synchronous reads: tfjs implements dataSync() with an OffscreenCanvas; here readSync maps a staging
 *   buffer and drives Dawn's event processing itself until the map is done;
 * - errors: Dawn reports a validation error (a binding over maxStorageBufferBindingSize, say) as an event
 *   and leaves the kernel's output zeros. Every such event, and a lost device, is thrown as a GpuError from
 *   the kernel that caused it or from the next read.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { BackendError, GpuError } from '../errors.js';

export interface WebGpuOptions {
  /**
   * Options for Dawn's `create()`: 'backend=vulkan' (or metal, d3d12, opengles), 'adapter=NAME',
   * 'enable-dawn-features=a,b', ... Default: SAM2LONG_DAWN_FLAGS split on whitespace.
   */
  dawnFlags?: readonly string[];
  /** Accept a software adapter (Mesa llvmpipe / lavapipe, SwiftShader): correct, but slower than wasm. */
  allowSoftware?: boolean;
}

/** The adapter a WebGPU backend runs on. */
export interface WebGpuAdapterSummary {
  /** Dawn's description and device name, e.g. 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6 (llvmpipe-…)'. */
  name: string;
  software: boolean;
  featureLevel: 'core' | 'compatibility';
  /** Bytes: the largest buffer one kernel may bind. Every tensor of the model must fit in it. */
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

type DawnCreate = (flags: string[]) => GPU;

export type AdapterInfo = GPUAdapterInfo & { isFallbackAdapter?: boolean };

/** `GPUAdapter.info` (newer than the WebGPU types tfjs pins). */
function adapterInfo(adapter: GPUAdapter): AdapterInfo {
  return (adapter as GPUAdapter & { info: AdapterInfo }).info;
}

/** Adapter names that mean a CPU implementation (Mesa, SwiftShader, Windows' WARP 'Basic Render Driver'). */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|software|basic render/i;

/** True for an adapter that runs on the CPU (Dawn does not always mark these as fallback adapters). */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  return info.isFallbackAdapter === true ||
    SOFTWARE_ADAPTER.test([info.vendor, info.architecture, info.device, info.description].join(' '));
}

/** Dawn flags from the option, else SAM2LONG_DAWN_FLAGS (whitespace-separated). */
export function dawnFlags(options: WebGpuOptions = {}): string[] {
  return [...(options.dawnFlags ?? (process.env.SAM2LONG_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean))];
}

/** Linux machines where a hardware adapter can exist: a DRM render node or the NVIDIA driver's device. */
export function mayHaveGpu(): boolean {
  if (process.platform !== 'linux') return true;
  const has = (dir: string, re: RegExp) => {
    try {
      return fs.readdirSync(dir).some((f) => re.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev', /^nvidia\d+$/) || has('/dev/dri', /^renderD\d+$/);
}

/** The `webgpu` version sam2long is tested with: an optional peer dependency, installed by the user who wants it. */
export const DAWN_PACKAGE = 'webgpu@0.6.2';

async function loadDawn(): Promise<{ create: DawnCreate; globals: object }> {
  try {
    return await import('webgpu' as string) as { create: DawnCreate; globals: object };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && /'webgpu'/.test(e.message)) {
      throw new BackendError(`backend 'webgpu' in Node needs Dawn, the optional package 'webgpu' (about 130 MB), ` +
        `which is not installed: npm install ${DAWN_PACKAGE}`);
    }
    throw new BackendError(`backend 'webgpu' needs the optional package 'webgpu' (Dawn for Node), which did not load: ` +
      `${e.message.split('\n')[0]}`);
  }
}

/**
 * Dawn's OpenGL ES backend (the software path on Linux: Mesa llvmpipe) needs EGL without a display server;
 * an EGL_PLATFORM the user set is kept.
 */
function prepareEgl(flags: readonly string[]): void {
  if (process.platform === 'linux' && flags.some((f) => /^backend=opengl(es)?$/.test(f)) && !process.env.EGL_PLATFORM) {
    process.env.EGL_PLATFORM = 'surfaceless';
  }
}

export interface FoundAdapter {
  gpu: GPU;
  adapter: GPUAdapter;
  info: AdapterInfo;
  featureLevel: 'core' | 'compatibility';
}

/**
 * The first adapter Dawn offers under `flags`: a core (full WebGPU) adapter first, then, where software is
 * allowed, a compatibility one (Dawn's OpenGL ES backend offers only that). On Linux with software allowed
 * and no backend named, Dawn's OpenGL ES backend is tried last: Dawn only lists it when asked by name.
 */
export async function findAdapter(create: DawnCreate, flags: readonly string[], allowSoftware: boolean): Promise<FoundAdapter | null> {
  const attempts = [flags];
  if (allowSoftware && process.platform === 'linux' && !flags.some((f) => f.startsWith('backend='))) {
    attempts.push(['backend=opengles', ...flags]);
  }
  for (const attempt of attempts) {
    prepareEgl(attempt);
    const gpu = create([...attempt]);
    const levels = allowSoftware ? ['core', 'compatibility'] as const : ['core'] as const;
    for (const featureLevel of levels) {
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel } as GPURequestAdapterOptions);
      if (!adapter) continue;
      const info = adapterInfo(adapter);
      if (allowSoftware || !isSoftwareAdapter(info)) return { gpu, adapter, info, featureLevel };
    }
  }
  return null;
}

/** The adapter's own limits (a device gets the spec's small defaults unless it asks), for the ones tfjs uses. */
function requiredLimits(adapter: GPUAdapter): Record<string, number> {
  const keys = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize',
    'maxComputeWorkgroupsPerDimension', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
    'maxComputeInvocationsPerWorkgroup'] as const;
  return Object.fromEntries(keys.map((k) => [k, adapter.limits[k]]));
}

/** True for the function dawn.node hands setImmediate: a native function, where everything from JS shows source. */
function isNativeFunction(f: unknown): f is () => void {
  return typeof f === 'function' && !f.name.startsWith('bound ') && /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(f));
}

const SYNC_WAIT_LIMIT_MS = 10 * 60 * 1000;

/**
 * dawn.node finishes asynchronous work (a buffer map included) only inside its event-processing callback,
 * which it schedules with the global setImmediate. A synchronous read cannot yield to Node's event loop, so
 * this catches that callback whenever Dawn schedules it during a watched call, and runs it directly. The
 * callback keeps working after it ran once, and the real setImmediate still gets every call.
 */
class DawnEvents {
  private processEvents?: () => void;

  /** Runs `call`, catching the callback Dawn schedules during it. */
  watch<T>(call: () => T): T {
    const real = globalThis.setImmediate;
    const spy = (callback: unknown, ...args: unknown[]) => {
      if (isNativeFunction(callback)) this.processEvents = callback;
      return Reflect.apply(real, globalThis, [callback, ...args]) as ReturnType<typeof setImmediate>;
    };
    globalThis.setImmediate = spy as typeof setImmediate;
    try {
      return call();
    } finally {
      globalThis.setImmediate = real;
    }
  }

  get ready(): boolean {
    return this.processEvents !== undefined;
  }

  /** Processes Dawn's events until `done()`. */
  runUntil(done: () => boolean, what: string): void {
    const start = Date.now();
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (let spins = 0; !done(); spins++) {
      const process = this.processEvents;
      if (!process) throw new BackendError(`cannot wait for ${what}: Dawn's event callback was never seen`);
      this.watch(process);
      // Leave the CPU to a software adapter's threads once the work is clearly not instant.
      if (spins > 100) Atomics.wait(pause, 0, 0, 1);
      if (Date.now() - start > SYNC_WAIT_LIMIT_MS) throw new GpuError(`${what} did not finish in ${SYNC_WAIT_LIMIT_MS / 1000} s`);
    }
  }
}

function describeGpuError(error: GPUError): string {
  return `${error.constructor.name}: ${error.message.trim()}`;
}

/** Everything the Dawn backend subclass needs besides its device. */
interface DawnContext {
  events: DawnEvents;
  adapterInfo: GPUAdapterInfo;
}

/** Bytes of a tensor on the GPU: tfjs's WebGPU backend stores every dtype (bool too) in 4-byte words. */
function gpuBytes(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1) * 4;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * tfjs's WebGPUBackend with synchronous reads that work in Node and GPU errors thrown. Built as a subclass
 * of the class the (optional, lazily loaded) package exports, hence the factory.
 */
function dawnBackendClass(Base: typeof WebGPUBackend) {
  return class DawnBackend extends Base {
    private readonly failures: string[] = [];
    /** Set by a lost device or an error after the fact: results since the last submit are unreliable. */
    private broken?: string;
    private readonly onError = (event: Event) => {
      // Handled here: Dawn's default would only print it.
      event.preventDefault();
      this.failures.push(describeGpuError((event as GPUUncapturedErrorEvent).error));
    };

    constructor(device: GPUDevice, private readonly context: DawnContext) {
      super(device, context.adapterInfo);
      device.addEventListener('uncapturederror', this.onError);
      void device.lost.then((info) => {
        if (info.reason !== 'destroyed') this.broken = `the GPU device was lost: ${info.message}`;
      });
    }

    /**
     * Throws when the GPU reported errors. Commands recorded since the last submit are lost with the
     * invalid one (the encoder is invalid), so the backend stays failed: no result after it is trusted.
     */
    private throwIfFailed(during: string): void {
      if (this.failures.length > 0 && !this.broken) {
        const reported = this.failures.splice(0);
        this.broken = `the GPU reported ${reported.length} error(s) during ${during}:\n${reported.join('\n')}`;
        // Submit the invalid encoder so tfjs starts a fresh one; its follow-on errors say nothing new.
        this.ensureCommandEncoderReady();
        this.endComputePassEncoder();
        this.submitQueue();
        this.failures.length = 0;
        throw new GpuError(this.broken);
      }
      if (this.broken) {
        throw new GpuError(`this WebGPU backend failed earlier; re-create it (tf.removeBackend('webgpu'), then initBackend) ` +
          `or restart the process. ${this.broken}`);
      }
    }

    /** A tensor over the binding limit would silently read or write nothing: refused before it is recorded. */
    private assertBindable(kernel: string, shapes: (readonly number[])[]): void {
      const limit = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
      for (const shape of shapes) {
        const bytes = gpuBytes(shape);
        if (bytes > limit) {
          throw new GpuError(`kernel ${kernel}: a tensor of shape [${shape.join(', ')}] (${mib(bytes)}) is over this GPU's ` +
            `largest binding, maxStorageBufferBindingSize ${mib(limit)}`);
        }
      }
    }

    override runWebGPUProgram(...args: Parameters<WebGPUBackend['runWebGPUProgram']>): ReturnType<WebGPUBackend['runWebGPUProgram']> {
      const [program, inputs] = args;
      const kernel = program.shaderKey ?? program.constructor.name;
      this.throwIfFailed(`kernel ${kernel}`);
      this.assertBindable(kernel, [program.outputShape, ...inputs.map((t) => t.shape)]);
      const out = super.runWebGPUProgram(...args);
      if (this.failures.length > 0) {
        // The output holds no result; an output the caller passed in is the caller's to dispose.
        if (args[4] === undefined) this.disposeData(out.dataId);
        this.throwIfFailed(`kernel ${kernel}`);
      }
      return out;
    }

    override async read(dataId: object): Promise<tf.backend_util.BackendValues> {
      this.throwIfFailed('a read');
      const values = await super.read(dataId);
      this.throwIfFailed('a read');
      return values;
    }

    override readSync(dataId: object): tf.backend_util.BackendValues {
      this.throwIfFailed('a read');
      const data = this.tensorMap.get(dataId);
      if (data.values != null || data.dtype === 'string' || data.dtype === 'complex64' || !(data.resource instanceof GPUBuffer)) {
        // Cached on the CPU already, or a kind of tensor the model never makes (tfjs's own path).
        return super.readSync(dataId);
      }
      const values = tf.util.convertBackendValuesAndArrayBuffer(this.readBufferSync(data.resource), data.dtype);
      data.values = values;
      this.throwIfFailed('a read');
      return values;
    }

    override dispose(): void {
      this.device.removeEventListener('uncapturederror', this.onError);
      super.dispose();
    }

    /** Copies `buffer` to a staging buffer and maps it, waiting for the GPU without yielding. */
    private readBufferSync(buffer: GPUBuffer): ArrayBuffer {
      const size = buffer.size;
      const staging = this.bufferManager.acquireBuffer(size, GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ);
      this.ensureCommandEncoderReady();
      this.endComputePassEncoder();
      this.submitQueue();
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
      this.queue.submit([encoder.finish()]);
      // A failed map is reported through the error events or a lost device, checked below.
      this.context.events.watch(() => staging.mapAsync(GPUMapMode.READ)).catch(() => undefined);
      this.context.events.runUntil(() => staging.mapState !== 'pending', 'a GPU → CPU read');
      if (staging.mapState !== 'mapped') {
        this.throwIfFailed('a read');
        throw new GpuError('mapping a GPU buffer for reading failed');
      }
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      this.bufferManager.releaseBuffer(staging);
      return bytes;
    }
  };
}

/** Makes `navigator.gpu` exist while `build` runs (tfjs checks it when a backend is constructed). */
function withNavigatorGpu<T>(gpu: GPU, build: () => T): T {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  if (saved && !saved.configurable) throw new BackendError('globalThis.navigator cannot be redefined here');
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  try {
    return build();
  } finally {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved);
    else delete (globalThis as { navigator?: unknown }).navigator;
  }
}

interface Started {
  summary: WebGpuAdapterSummary;
  flags: string;
  factory: () => tf.KernelBackend;
}

let started: Started | null = null;

/** The adapter the registered 'webgpu' backend runs on, or null before startWebGpu succeeded. */
export function webGpuAdapter(): WebGpuAdapterSummary | null {
  return started?.summary ?? null;
}

/**
 * Finds an adapter, opens a device with the adapter's limits and registers tfjs's 'webgpu' backend on it
 * (replacing one registered before). Returns null when no acceptable adapter exists; throws BackendError
 * when the `webgpu` package cannot load. Dawn starts once per process: later calls reuse that device.
 */
export async function startWebGpu(options: WebGpuOptions = {}): Promise<WebGpuAdapterSummary | null> {
  const flags = dawnFlags(options);
  const allowSoftware = options.allowSoftware ?? false;
  if (started) {
    if (started.flags !== flags.join(' ') && flags.length > 0) {
      throw new BackendError(`Dawn already runs with flags '${started.flags}'; it cannot restart with '${flags.join(' ')}' in this process`);
    }
    if (started.summary.software && !allowSoftware) return null;
    // Registered again after a tf.removeBackend('webgpu') (the way to re-create a failed backend).
    if (!tf.engine().registryFactory.webgpu) register(started.factory);
    return started.summary;
  }
  const { create, globals } = await loadDawn();
  Object.assign(globalThis, globals);
  const found = await findAdapter(create, flags, allowSoftware);
  if (!found) return null;
  const { gpu, adapter, info, featureLevel } = found;
  const device = await adapter.requestDevice({
    requiredLimits: requiredLimits(adapter),
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
  });
  // Imported with no navigator.gpu, so the package does not register its own factory; ours replaces any other.
  const { WebGPUBackend: Base } = await import('@tensorflow/tfjs-backend-webgpu');
  const events = new DawnEvents();
  await catchDawnEvents(device, events);
  const DawnBackend = dawnBackendClass(Base);
  const context: DawnContext = { events, adapterInfo: info };
  // `gpu` stays referenced by the factory: Dawn's instance must outlive the device.
  const factory = () => withNavigatorGpu(gpu, () => new DawnBackend(device, context));
  if (tf.engine().registryFactory.webgpu) tf.removeBackend('webgpu');
  register(factory);
  const summary: WebGpuAdapterSummary = {
    name: [info.description, info.device].filter(Boolean).join(' · ') || 'unnamed adapter',
    software: isSoftwareAdapter(info),
    featureLevel,
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxBufferSize: device.limits.maxBufferSize,
  };
  started = { summary, flags: flags.join(' '), factory };
  return summary;
}

/** Priority below wasm's: tfjs never picks it by itself; initBackend sets it explicitly. */
function register(factory: () => tf.KernelBackend): void {
  tf.registerBackend('webgpu', factory, 1);
}

/**
 * Maps a small buffer until Dawn's event callback has been caught (see DawnEvents): Dawn only schedules it
 * when no earlier scheduling is pending, so an attempt can miss and is repeated after the loop turns.
 */
async function catchDawnEvents(device: GPUDevice, events: DawnEvents): Promise<void> {
  const probe = device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ });
  try {
    for (let attempt = 0; attempt < 10 && !events.ready; attempt++) {
      await events.watch(() => probe.mapAsync(GPUMapMode.READ));
      probe.unmap();
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    probe.destroy();
  }
  if (!events.ready) throw new BackendError('Dawn never scheduled its event processing: synchronous reads cannot work');
}

/** What to install when no adapter was found, by platform. */
export function noAdapterHint(allowSoftware: boolean): string {
  if (process.platform !== 'linux') return 'no WebGPU adapter was found';
  return 'no WebGPU adapter was found: a GPU needs its Vulkan driver (NVIDIA: the driver\'s Vulkan ICD, in containers ' +
    'NVIDIA_DRIVER_CAPABILITIES including graphics; check `vulkaninfo --summary`)' +
    (allowSoftware ? '; the software adapter needs Mesa\'s EGL and OpenGL ES ' +
      '(Debian: apt-get install libegl1 libegl-mesa0 libegl-dev libgl1-mesa-dri)' : '');
}
