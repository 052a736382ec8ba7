/** Builds a test page (an index.html and its TypeScript) with vite into a temp folder, as the demo is built. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'vite';
import { nodeOnlyStubs } from '../../demo/node-only.js';

/** Bundles the page in `root`; resolves to the output folder (removed by the caller). */
export async function bundlePage(root: string): Promise<string> {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-page-'));
  await build({
    root,
    base: './',
    configFile: false,
    logLevel: 'warn',
    plugins: [nodeOnlyStubs()],
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 8192, reportCompressedSize: false },
  });
  return outDir;
}
