/**
 * Keeps Node out of the browser bundle. The predictors reach Node-only code (file loading, sharp image
 * decoding, the encoder worker pool), which all lives in src/node/, only through dynamic imports taken for path /
 * encoded-bytes inputs; here every module of src/node/, and any Node built-in, becomes a stub whose import fails
 * with an InputError that says what to pass instead.
 * The build fails if the entry reaches a stub through static imports, so nothing Node-only can load with
 * the page.
 */
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import type { Plugin } from 'vite';

const SRC = path.resolve(import.meta.dirname, '../src');
const STUB = '\0sam2long-node-only:';

/** Whether a module of src/ (path relative to src/) is Node-only: the folder rule of docs/ARCHITECTURE.md. */
export function isNodeOnlyModule(rel: string): boolean {
  return rel.startsWith('node/');
}
export const NODE_ONLY_PACKAGES = ['sharp', 'yauzl'];

export function isNodeBuiltin(id: string): boolean {
  return id.startsWith('node:') || builtinModules.includes(id.split('/')[0]);
}

function stubCode(what: string): string {
  const errors = JSON.stringify(path.join(SRC, 'errors.ts'));
  const message = `${what} needs Node and is not part of the browser build: in a page, load checkpoints with ` +
    'loadSam2FromBytes / loadSam2FromUrl and pass frames as pixels or a FrameSource (imageFrames, pixelFrames, decodeVideo)';
  return `import { InputError } from ${errors};\nthrow new InputError(${JSON.stringify(message)});\nexport default {};\n`;
}

export function nodeOnlyStubs(): Plugin {
  return {
    name: 'sam2long-node-only',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      // Only our own sources are rewritten; dependencies keep their own browser mappings.
      if (!importer?.startsWith(SRC + path.sep)) return null;
      if (isNodeBuiltin(source) || NODE_ONLY_PACKAGES.includes(source)) return STUB + source;
      if (!source.startsWith('.')) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      const rel = resolved && path.relative(SRC, resolved.id.split('?')[0]).split(path.sep).join('/');
      return rel && isNodeOnlyModule(rel) ? STUB + `src/${rel}` : null;
    },
    load(id) {
      // Named imports of a stub resolve (to nothing) so that a Node-only module reached only lazily still bundles.
      return id.startsWith(STUB) ? { code: stubCode(`'${id.slice(STUB.length)}'`), syntheticNamedExports: true } : null;
    },
    generateBundle(_options, bundle) {
      const chunks = new Map(Object.values(bundle).flatMap((c) => (c.type === 'chunk' ? [[c.fileName, c] as const] : [])));
      const seen = new Set<string>();
      const visit = (name: string): void => {
        const chunk = chunks.get(name);
        if (!chunk || seen.has(name)) return;
        seen.add(name);
        const stub = Object.keys(chunk.modules).find((m) => m.startsWith(STUB));
        if (stub) this.error(`the page loads ${stub.slice(STUB.length)} through static imports (chunk ${name})`);
        chunk.imports.forEach(visit);
      };
      for (const c of chunks.values()) if (c.isEntry) visit(c.fileName);
    },
  };
}
