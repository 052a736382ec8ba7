// tfjs's own declaration files use two global types from packages they depend on (Long, EmscriptenModule); these
// references make them visible to a project whose tsconfig lists its "types" and checks libraries (no skipLibCheck).
/// <reference types="long" preserve="true" />
/// <reference types="emscripten" preserve="true" />
/** The public API of the sam2long package. */
export * from './errors.js';
export * from './config.js';
export * from './presets/official.js';
export * from './presets/detect.js';
export * from './io/safetensors.js';
export * from './io/files.js';
export * from './io/torch-checkpoint.js';
export * from './backend.js';
export { maxTensorBytes, setMaxTensorBytes } from './backend-limits.js';
export { loadSam2, type LoadOptions } from './load.js';
export { Sam2Model, type FrameFeatures, type StepOptions, type Prompt } from './model/sam2.js';
export { WeightStore, WeightScope, type HostArray } from './model/weights.js';
export { ImagePredictor, type ImageInput, type ImagePrompt, type ImagePrediction } from './predictor/image-predictor.js';
export {
  VideoPredictor, NO_OBJ_SCORE, type VideoPredictorOptions, type FrameResult, type FramesInput,
  type PointsPrompt, type BoxPrompt, type MaskPrompt, type PropagateOptions,
} from './predictor/video-predictor.js';
export { VideoState, type FrameProvider } from './predictor/video-state.js';
export { TREE_DEFAULTS, type TreeOptions, type TreeStepInfo } from './predictor/tree-tracker.js';
export * as tree from './tree/index.js';
export { frameSource, listFrameFiles, type FrameSource, type FrameInput, type VideoFrame } from './io/frames.js';
export { decodeImage, type DecodeImageOptions } from './io/images.js';
export { toRgbImage, type RgbImage, type PixelsLike } from './io/pixels.js';
export { pixelLimit, setPixelLimit, DEFAULT_PIXEL_LIMIT, PIXEL_LIMIT_ENV } from './io/pixel-limit.js';
export { encodePng, decodePng, encodeMaskPng, encodeLabelPng, decodeLabelPng, DAVIS_PALETTE } from './io/png.js';
export { readVideo, isVideoFile, requireFfmpeg, openMaskVideo, type VideoReader } from './io/video.js';
export { GifEncoder } from './io/gif.js';
export { labelMap, renderOverlay, drawLabels, sideBySide, downscale, objectColour, type PromptMarks } from './render/overlay.js';
export * as evaluation from './eval/index.js';
