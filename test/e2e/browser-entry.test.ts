/**
 * The browser entry stays free of Node: no chain of static imports from src/browser.ts reaches a Node
 * built-in or a Node-only package, and every module it reaches only through a dynamic import is either
 * browser-safe or in src/node/, which the demo's bundler replaces with explanatory stubs (demo/node-only.ts).
 * A static check over the sources, so `npm test` catches a regression without building the demo.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_ONLY_PACKAGES, isNodeBuiltin, isNodeOnlyModule } from '../../demo/node-only.js';
import { importsOf, resolveLocal } from '../helpers/imports.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

function isNodeOnlyPackage(spec: string): boolean {
  return isNodeBuiltin(spec) || NODE_ONLY_PACKAGES.includes(spec) || spec.startsWith('@tensorflow/tfjs-node');
}

/** Walks static imports from `entry`: the modules reached, each Node-only import with its chain, and the dynamic imports met. */
function staticClosure(entry: string): { modules: Set<string>; nodeImports: string[]; dynamic: Map<string, string> } {
  const modules = new Set<string>();
  const nodeImports: string[] = [];
  const dynamic = new Map<string, string>();
  const walk = (file: string, chain: string[]): void => {
    if (modules.has(file)) return;
    modules.add(file);
    const imports = importsOf(file);
    const here = [...chain, path.relative(SRC, file)];
    for (const spec of imports.static) {
      if (spec.startsWith('.')) walk(resolveLocal(file, spec), here);
      else if (isNodeOnlyPackage(spec)) nodeImports.push(`${here.join(' → ')} → ${spec}`);
    }
    for (const spec of imports.dynamic) {
      if (spec.startsWith('.')) dynamic.set(resolveLocal(file, spec), here.join(' → '));
    }
  };
  walk(entry, []);
  return { modules, nodeImports, dynamic };
}

describe('browser entry (src/browser.ts)', () => {
  const entry = path.join(SRC, 'browser.ts');

  it('reaches no Node built-in or Node-only package through static imports', () => {
    const { modules, nodeImports } = staticClosure(entry);
    assert.ok(modules.size > 20, `only ${modules.size} modules reached: the walk is broken`);
    assert.deepEqual(nodeImports, [], `Node-only imports on the browser path:\n${nodeImports.join('\n')}`);
  });

  it('loads a Node-only module only through a dynamic import that the demo build replaces with a stub', () => {
    const { dynamic } = staticClosure(entry);
    const unsafe = [...dynamic].flatMap(([target, chain]) => {
      const rel = path.relative(SRC, target).split(path.sep).join('/');
      if (isNodeOnlyModule(rel)) return [];
      const { nodeImports } = staticClosure(target);
      return nodeImports.length ? [`${chain} ⇢ import('${rel}'): ${nodeImports[0]}`] : [];
    });
    assert.deepEqual(unsafe, [], `dynamic imports of Node-only modules not stubbed in demo/node-only.ts:\n${unsafe.join('\n')}`);
  });
});
