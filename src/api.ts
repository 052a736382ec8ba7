/**
 * The public API both entries share, all of it browser-safe: errors, configs, the model, the predictors and
 * the SAM2Long tree. `browser.ts` adds the page's loaders, frame sources and backends; `index.ts` adds
 * `node/` (paths, files, sharp, ffmpeg, the Node backends). Nothing reachable from here imports Node modules.
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
export { NO_OBJ_SCORE } from './model/sam-heads.js';
export {
  VideoPredictor, type VideoPredictorOptions, type FrameResult, type FramesInput,
  type PointsPrompt, type BoxPrompt, type MaskPrompt, type PropagateOptions,
} from './predictor/video-predictor.js';
export { VideoState, type FrameProvider } from './predictor/video-state.js';
export { applyNonOverlap, nonOverlappingMasks, thresholdLogits, NON_OVERLAP_CLAMP, NOT_STARTED_LOGIT } from './predictor/non-overlap.js';
export { TREE_DEFAULTS, type TreeOptions, type TreeStepInfo } from './tree/options.js';
export { toRgbImage, type RgbImage, type PixelsLike } from './io/pixels.js';
export type { FrameSource, VideoFrame } from './io/frame-source.js';
export * as tree from './tree/index.js';
export { maxTensorBytes, setMaxTensorBytes } from './backend-limits.js';
