// tfjs's own declaration files use two global types from packages they depend on (Long, EmscriptenModule); these
// references make them visible to a project whose tsconfig lists its "types" and checks libraries (no skipLibCheck).
/// <reference types="long" preserve="true" />
/// <reference types="emscripten" preserve="true" />
/** The public API of the sam2long package in Node: what the browser entry shares (`api.ts`) plus `node/`. */
export * from './api.js';
export * from './node/index.js';
