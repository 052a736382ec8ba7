// tfjs's own declaration files use two global types from packages they depend on (Long, EmscriptenModule); these
// references make them visible to a project whose tsconfig lists its "types" and checks libraries (no skipLibCheck).
/// <reference types="long" preserve="true" />
/// <reference types="emscripten" preserve="true" />
/**
 * The browser entry of sam2long: the model, predictors and SAM2Long tree on the same code as Node, with
 * loaders that take bytes and URLs instead of paths, frames from files, bitmaps or a <video>, and the
 * browser backends (webgpu → webgl → wasm → cpu). Nothing reachable from here imports Node modules; the
 * predictors' Node-only inputs (paths, encoded image bytes) are refused with an error in a page.
 */
export * from './errors.js';
export {
  resolveModelConfig, parseConfigText, derivedSizes, PREDICTOR_DEFAULTS, MASK_DECODER_CONSTANTS,
  type Sam2ModelConfig, type Sam2ConfigFile, type Sam2ModelSection, type PredictorSettings, type DerivedSizes,
} from './config.js';
export * from './presets/official.js';
export * from './presets/detect.js';
export * from './io/safetensors.js';
export { Sam2Model, type FrameFeatures, type StepOptions, type Prompt } from './model/sam2.js';
export { WeightStore, WeightScope, type HostArray } from './model/weights.js';
export { ImagePredictor, type ImageInput, type ImagePrompt, type ImagePrediction } from './predictor/image-predictor.js';
export {
  VideoPredictor, NO_OBJ_SCORE, type VideoPredictorOptions, type FrameResult, type FramesInput,
  type PointsPrompt, type BoxPrompt, type MaskPrompt, type PropagateOptions,
} from './predictor/video-predictor.js';
export { VideoState, type FrameProvider } from './predictor/video-state.js';
export { TREE_DEFAULTS, type TreeOptions, type TreeStepInfo } from './predictor/tree-tracker.js';
export { toRgbImage, type RgbImage, type PixelsLike } from './io/pixels.js';
export type { FrameSource, VideoFrame } from './io/frames.js';
export * as tree from './tree/index.js';
export { maxTensorBytes, setMaxTensorBytes } from './backend-limits.js';
export { initBrowserBackend, BROWSER_BACKENDS, type BrowserBackendName, type BrowserBackendOptions, type WasmBinaryName } from './browser/backend.js';
export { loadSam2FromBytes, loadSam2FromUrl, siblingConfigUrl, type CheckpointBytes } from './browser/load.js';
export {
  pixelFrames, imageFrames, imagePixels, frameFilesInOrder, decodeVideo, type FrameImage, type VideoDecodeOptions,
} from './browser/frames.js';
