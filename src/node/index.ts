/**
 * What the Node entry (`src/index.ts`) adds to the shared API (`src/api.ts`): checkpoints and configs from paths,
 * the Node backends, frame directories, sharp decoding, ffmpeg video, mask folders, and the writers, overlays and
 * J&F evaluation the CLI uses, and the VOS dataset runner (the page does not ship them). The Redis queue
 * (`node/vos/queue.ts`, BullMQ) is left out so that importing the library never loads a Redis client.
 */
export * from '../config.js';
export * from './files.js';
export * from '../io/torch-checkpoint.js';
export * from './backend.js';
export { loadSam2, loadConfigFile, type LoadOptions } from './load.js';
export { frameSource, listFrameFiles, type FrameSource, type FrameInput, type VideoFrame } from './frames.js';
export { decodeImage, type DecodeImageOptions } from './images.js';
export { pixelLimit, setPixelLimit, DEFAULT_PIXEL_LIMIT, PIXEL_LIMIT_ENV } from '../io/pixel-limit.js';
export { encodePng, decodePng, encodeMaskPng, encodeLabelPng, decodeLabelPng, DAVIS_PALETTE } from '../io/png.js';
export { readVideo, isVideoFile, requireFfmpeg, openMaskVideo, type VideoReader } from './video.js';
export { GifEncoder } from '../io/gif.js';
export { labelMap, renderOverlay, drawLabels, sideBySide, downscale, objectColour, type PromptMarks } from '../render/overlay.js';
export * as evaluation from './evaluation.js';
export {
  segmentDataset, DATASET_SUMMARY, type DatasetOptions, type DatasetInput, type DatasetEvent, type DatasetSummary,
} from './vos/segment-dataset.js';
export { VOS_TREE_DEFAULTS, type VosSettingsInput, type VosTreeSettings, type VosMode } from './vos/settings.js';
export { VIDEO_RECORD, type VideoRecord, type VideoStatus } from './vos/process-video.js';
