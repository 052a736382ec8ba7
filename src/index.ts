/** The public API of the sam2long package. */
export * from './errors.js';
export * from './config.js';
export * from './presets/official.js';
export * from './presets/detect.js';
export * from './io/safetensors.js';
export * from './io/files.js';
export * from './io/torch-checkpoint.js';
