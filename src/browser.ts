// tfjs's own declaration files use two global types from packages they depend on (Long, EmscriptenModule); these
// references make them visible to a project whose tsconfig lists its "types" and checks libraries (no skipLibCheck).
/// <reference types="long" preserve="true" />
/// <reference types="emscripten" preserve="true" />
/**
 * The browser entry of sam2long: the model, predictors and SAM2Long tree on the same code as Node (`api.ts`),
 * with loaders that take bytes and URLs instead of paths, frames from files, bitmaps or a video file (decoded on
 * demand through WebCodecs, else a <video> element: openVideoFile), and the browser backends (webgpu → webgl →
 * wasm → cpu). Nothing reachable from here imports Node modules; the predictors' Node-only inputs (paths,
 * encoded image bytes) are refused with an error in a page.
 */
export * from './api.js';
export { initBrowserBackend, BROWSER_BACKENDS, type BrowserBackendName, type BrowserBackendOptions, type WasmBinaryName } from './browser/backend.js';
export { loadSam2FromBytes, loadSam2FromUrl, siblingConfigUrl, type CheckpointBytes } from './browser/load.js';
export {
  pixelFrames, imageFrames, imagePixels, frameFilesInOrder, decodeVideo, type FrameImage, type VideoDecodeOptions,
} from './browser/frames.js';
export { openVideoFile, type OpenVideoOptions } from './browser/video-open.js';
export type { VideoFrames, VideoLimits } from './browser/video-frames.js';
