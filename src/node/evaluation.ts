/** The `evaluation` namespace of the Node entry: J&F (`src/eval/`) and the mask folders on disk it scores. */
export * from '../eval/index.js';
export { evaluateFolders, maskFolderTree } from './mask-folders.js';
