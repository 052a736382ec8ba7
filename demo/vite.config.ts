/** The demo page: `npm run demo` serves it, `npm run build:demo` writes demo/dist (a static site). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defineConfig } from 'vite';
import { ISOLATION_HEADERS } from './headers.js';
import { nodeOnlyStubs } from './node-only.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const WEIGHTS = path.join(ROOT, 'weights');

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  plugins: [
    nodeOnlyStubs(),
    {
      // The dev server also serves converted checkpoints from weights/ at /weights/, for the model URL field.
      name: 'sam2long-weights',
      configureServer(server) {
        server.middlewares.use('/weights', (req, res, next) => {
          const file = path.join(WEIGHTS, decodeURIComponent((req.url ?? '').split('?')[0]));
          if (!file.startsWith(WEIGHTS + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return next();
          res.setHeader('Content-Length', fs.statSync(file).size);
          fs.createReadStream(file).pipe(res);
        });
      },
    },
  ],
  // The inference worker (demo/src/worker/) is an ES module worker with the same Node-only stubs.
  worker: { format: 'es', plugins: () => [nodeOnlyStubs()] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
  },
  server: { host: '127.0.0.1', fs: { allow: [ROOT] }, headers: ISOLATION_HEADERS },
  preview: { host: '127.0.0.1', headers: ISOLATION_HEADERS },
});
