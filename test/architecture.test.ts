/**
 * The layering of docs/ARCHITECTURE.md, checked on the import statements of src/, tools/, bench/ and demo/
 * (type-only imports count: a type is a dependency too). A new import that breaks a rule fails here with the
 * file, the import and the rule.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { NODE_ONLY_PACKAGES, isNodeBuiltin } from '../demo/node-only.js';
import { exportedNames, importsOf, namedImportsOf, resolveLocal, sourceFiles } from './helpers/imports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');

/** Path relative to the repository root, with forward slashes. */
function rel(file: string): string {
  return path.relative(ROOT, file).split(path.sep).join('/');
}

type Layer = 'base' | 'io' | 'config' | 'ops' | 'model' | 'tree' | 'predictor' | 'eval' | 'render' | 'node' | 'entry';

/** The layer of a src/ file. */
function layerOf(file: string): Layer {
  const r = path.relative(SRC, file).split(path.sep).join('/');
  if (r === 'errors.ts' || r === 'backend-limits.ts') return 'base';
  if (r === 'config.ts' || r.startsWith('presets/')) return 'config';
  if (r === 'index.ts' || r === 'browser.ts' || r === 'api.ts' || r.startsWith('browser/')) return 'entry';
  if (r.startsWith('node/')) return 'node';
  const folder = r.split('/')[0];
  const layers: Record<string, Layer> = {
    io: 'io', ops: 'ops', model: 'model', tree: 'tree', predictor: 'predictor', eval: 'eval', render: 'render',
  };
  const layer = layers[folder];
  if (!layer) throw new Error(`src/${r} is in no layer: place it in docs/ARCHITECTURE.md and in this test`);
  return layer;
}

/** What each layer may import (besides itself). */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  base: [],
  io: ['base'],
  config: ['base'],
  ops: ['base', 'io'],
  model: ['base', 'config', 'ops'],
  tree: ['base', 'config'],
  predictor: ['base', 'io', 'config', 'ops', 'model', 'tree'],
  eval: ['base', 'io'],
  render: ['base', 'io'],
  node: ['base', 'io', 'config', 'ops', 'model', 'tree', 'predictor', 'eval', 'render'],
  entry: ['base', 'io', 'config', 'ops', 'model', 'tree', 'predictor', 'eval', 'render', 'node'],
};

/** Packages a layer may not import: the tree's policies are plain functions over plain data. */
const FORBIDDEN_PACKAGES: Partial<Record<Layer, (spec: string) => boolean>> = {
  tree: (spec) => !spec.startsWith('.'),
};

/**
 * Dynamic imports are how a browser-safe module reaches Node-only code (paths, encoded images, worker
 * threads); they may only go to the node layer, never upwards into other layers.
 */
function dynamicAllowed(from: Layer, to: Layer): boolean {
  return to === 'node' || to === from || MAY_IMPORT[from].includes(to);
}

function srcViolations(): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    const imports = importsOf(file);
    for (const spec of [...imports.static, ...imports.types]) {
      if (!spec.startsWith('.')) {
        if (FORBIDDEN_PACKAGES[from]?.(spec)) problems.push(`${rel(file)} imports '${spec}': ${from}/ imports no package`);
        continue;
      }
      const to = layerOf(resolveLocal(file, spec));
      if (to !== from && !MAY_IMPORT[from].includes(to)) problems.push(`${rel(file)} imports '${spec}': ${from} may not import ${to}`);
    }
    for (const spec of imports.dynamic) {
      if (!spec.startsWith('.')) continue;
      const to = layerOf(resolveLocal(file, spec));
      if (!dynamicAllowed(from, to)) problems.push(`${rel(file)} import('${spec}'): ${from} may load only node/ lazily, not ${to}`);
    }
  }
  return problems;
}

/** Cycles among the static and type imports of `files` (each reported once, as a chain). */
function importCycles(files: string[]): string[] {
  const edges = new Map(files.map((f) => {
    const { static: s, types } = importsOf(f);
    return [f, [...new Set([...s, ...types].filter((x) => x.startsWith('.')).map((x) => resolveLocal(f, x)))]];
  }));
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of edges.get(f) ?? []) {
      if (state.get(g) === 'open') cycles.push([...stack.slice(stack.indexOf(g)), g].map(rel).join(' → '));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

/**
 * Node modules that src/ may use outside src/node/, and where: io/ inflates and deflates bytes (PNG; the zip
 * inside a .pt, read by yauzl over Node streams). Those files touch no file, process or thread; the page does
 * not ship them (only node/ and the Node entry reach them).
 */
const NODE_MODULES_OUTSIDE_NODE: Partial<Record<Layer, readonly string[]>> = {
  io: ['node:zlib', 'node:stream', 'yauzl'],
};

/** The Node-only packages of the rule, besides Node built-ins: decoders, Dawn, tfjs's native backend. */
function isNodeOnlyPackage(spec: string): boolean {
  return NODE_ONLY_PACKAGES.includes(spec) || spec === 'webgpu' || spec.startsWith('@tensorflow/tfjs-node');
}

/** Node modules reached outside src/node/ (static, type or dynamic imports, and `require` made with createRequire). */
function nodeOutsideNodeFolder(): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const layer = layerOf(file);
    if (layer === 'node') continue;
    const { static: s, types, dynamic } = importsOf(file);
    for (const spec of [...s, ...types, ...dynamic]) {
      if (NODE_MODULES_OUTSIDE_NODE[layer]?.includes(spec)) continue;
      if (isNodeBuiltin(spec) || isNodeOnlyPackage(spec)) problems.push(`${rel(file)} imports '${spec}': Node-only code lives in src/node/`);
    }
    if (/\bcreateRequire\b|\brequire\(/.test(fs.readFileSync(file, 'utf8'))) problems.push(`${rel(file)} calls require: Node-only code lives in src/node/`);
  }
  return problems;
}

/**
 * Re-exports below the entries stay inside their layer (a folder's index.ts gathers its own files); the node layer
 * gathers what the Node entry adds. Each name then has one import path, from the layer that defines it.
 */
function crossLayerReexports(): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    if (from === 'entry' || from === 'node') continue;
    for (const { spec } of namedImportsOf(file).filter((i) => i.reexport && i.spec.startsWith('.'))) {
      const to = layerOf(resolveLocal(file, spec));
      if (to !== from) problems.push(`${rel(file)} re-exports '${spec}' (${to}): import it from there`);
    }
  }
  return problems;
}

/**
 * src/ modules the CLI may import directly although src/index.ts exports the names: the entry answers --help,
 * --version and usage errors before anything loads tfjs.
 */
const CLI_DIRECT_IMPORTS: Record<string, readonly string[]> = { 'tools/cli.ts': ['src/errors.ts'] };

/** tools/ imports from src/ other than src/index.ts that take names the public API (src/index.ts) exports. */
function cliPastPublicApi(): string[] {
  const index = path.join(SRC, 'index.ts');
  const publicNames = exportedNames(index);
  const problems: string[] = [];
  for (const file of sourceFiles(path.join(ROOT, 'tools'))) {
    for (const { spec, names } of namedImportsOf(file).filter((i) => i.spec.startsWith('.'))) {
      const target = resolveLocal(file, spec);
      if (!rel(target).startsWith('src/') || target === index || CLI_DIRECT_IMPORTS[rel(file)]?.includes(rel(target))) continue;
      const shared = names.filter((n) => publicNames.has(n));
      if (shared.length) problems.push(`${rel(file)} imports ${shared.join(', ')} from ${rel(target)}: take ${shared.length > 1 ? 'them' : 'it'} from src/index.ts, the public API`);
    }
  }
  return problems;
}

/**
 * The predictors (and Node's runners above them) reach the model through Sam2Model's methods (encodeImage,
 * promptStep, trackStep, encodeMemory, maskAsOutput, encodeSingleImage, decodeImage), never through its parts:
 * e.g. the image predictor neither adds no_mem_embed itself nor calls the prompt encoder and mask decoder.
 */
function modelPartsReached(): string[] {
  const parts = /\bmodel\??\.(heads|imageEncoder|memoryAttention|memoryEncoder|memoryPrompt|noMemEmbed)\b/g;
  return sourceFiles(SRC)
    .filter((f) => ['predictor', 'node', 'entry'].includes(layerOf(f)))
    .flatMap((f) => [...fs.readFileSync(f, 'utf8').matchAll(parts)].map((m) => `${rel(f)} uses model.${m[1]}: add a Sam2Model method instead`));
}

/**
 * The constructors of src/model/'s layers (those given a WeightScope): `(weights, options)` with named fields, as
 * the official modules take keyword arguments; a third argument only for run-time settings. Sam2Model(config,
 * store) is public API and keeps its order.
 */
function constructorProblems(): string[] {
  const problems: string[] = [];
  for (const file of sourceFiles(path.join(SRC, 'model'))) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (ts.isConstructorDeclaration(node) && ts.isClassDeclaration(node.parent) && node.parent.name?.text !== 'Sam2Model') {
        const where = `${rel(file)} ${node.parent.name?.text ?? '(class)'}`;
        const types = node.parameters.map((p) => p.type?.getText(source) ?? '');
        if (types.length > 3) problems.push(`${where}: ${types.length} constructor parameters (use named options)`);
        const scope = types.indexOf('WeightScope');
        if (scope > 0) problems.push(`${where}: the weights come first`);
        if (scope >= 0 && types.slice(1).some((t) => /^(number|string|boolean)$/.test(t))) problems.push(`${where}: a positional ${types.slice(1).join(', ')} (use named options)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return problems;
}

describe('architecture (docs/ARCHITECTURE.md)', () => {
  it('every src/ module imports only from its own layer and the layers below it', () => {
    assert.deepEqual(srcViolations(), []);
  });

  it('no import cycle in src/', () => {
    assert.deepEqual(importCycles(sourceFiles(SRC)), []);
  });

  it('nothing outside src/node/ touches fs, sharp, child_process, worker_threads, webgpu or another Node module (io/ may inflate with zlib)', () => {
    assert.deepEqual(nodeOutsideNodeFolder(), []);
  });

  it('model/, ops/ and tree/ never touch Node built-ins', () => {
    const touching = sourceFiles(SRC)
      .filter((f) => ['model', 'tree', 'ops'].includes(layerOf(f)))
      .flatMap((f) => [...importsOf(f).static, ...importsOf(f).dynamic].filter(isNodeBuiltin).map((spec) => `${rel(f)} → ${spec}`));
    assert.deepEqual(touching, []);
  });

  it('below the entries, a module re-exports only from its own layer (one import path per name)', () => {
    assert.deepEqual(crossLayerReexports(), []);
  });

  it('layers of src/model/ are built as (weights, options) with named fields', () => {
    assert.deepEqual(constructorProblems(), []);
  });

  it('the predictors reach the model only through Sam2Model\'s methods, not its parts', () => {
    assert.deepEqual(modelPartsReached(), []);
  });

  it('tools/ (the CLI) takes from src/ through src/index.ts whatever the public API exports', () => {
    assert.deepEqual(cliPastPublicApi(), []);
  });

  it('the demo page uses only the browser entry of src/; tools/ and bench/ never import tests or the demo', () => {
    const problems: string[] = [];
    const check = (dir: string, ok: (target: string) => boolean, rule: string) => {
      for (const file of sourceFiles(path.join(ROOT, dir))) {
        const { static: s, types, dynamic } = importsOf(file);
        for (const spec of [...s, ...types, ...dynamic].filter((x) => x.startsWith('.'))) {
          const target = rel(resolveLocal(file, spec));
          if (!ok(target)) problems.push(`${rel(file)} imports ${target}: ${rule}`);
        }
      }
    };
    check('demo/src', (t) => !t.startsWith('src/') || t === 'src/browser.ts', 'the page imports src/ only through src/browser.ts');
    check('tools', (t) => !t.startsWith('test/') && !t.startsWith('demo/') && !t.startsWith('bench/'), 'the CLI ships without tests, demo or benchmarks');
    check('bench', (t) => !t.startsWith('demo/'), 'benchmarks do not reach into the demo');
    // The page's two threads (docs/ARCHITECTURE.md, "The demo page"): the worker's modules use no page module but the
    // pure mask encoding, and the page reaches the worker only through its client and the message types.
    check('demo/src/worker', (t) => !t.startsWith('demo/src/') || t.startsWith('demo/src/worker/') || t === 'demo/src/masks.ts',
      'the inference worker imports no page module (no DOM) but masks.ts');
    for (const file of sourceFiles(path.join(ROOT, 'demo/src')).filter((f) => !rel(f).startsWith('demo/src/worker/'))) {
      const { static: s, types, dynamic } = importsOf(file);
      for (const spec of [...s, ...types, ...dynamic].filter((x) => x.startsWith('.'))) {
        const target = rel(resolveLocal(file, spec));
        if (target.startsWith('demo/src/worker/') && !['demo/src/worker/client.ts', 'demo/src/worker/protocol.ts'].includes(target)) {
          problems.push(`${rel(file)} imports ${target}: the page talks to the worker through worker/client.ts and worker/protocol.ts`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});
