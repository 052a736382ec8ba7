/**
 * The import statements of a TypeScript source, read with the compiler's parser (no type checking): what
 * the import-rule tests (architecture, browser entry) walk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

export interface ModuleImports {
  /** Imports that load at run time. */
  static: string[];
  /** Type-only imports and re-exports (erased at run time, but still a dependency of the code). */
  types: string[];
  dynamic: string[];
}

function typeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) return node.isTypeOnly;
  const clause = node.importClause;
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return !clause.name && !!named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
}

export function importsOf(file: string): ModuleImports {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: ModuleImports = { static: [], types: [], dynamic: [] };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      (typeOnly(node) ? out.types : out.static).push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) out.dynamic.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** A relative specifier as the .ts file it names. */
export function resolveLocal(from: string, spec: string): string {
  return path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
}

/** Every .ts file under `dir`, recursively. */
export function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(p);
    return /\.(m?ts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** One named import of a module: `import { a, type B } from '...'` gives a and B. */
export interface NamedImport {
  spec: string;
  names: string[];
  /** An `export ... from` (a re-export), not an import. */
  reexport: boolean;
}

/** The names each import or re-export declaration of `file` takes (namespace, `*` and default imports give none). */
export function namedImportsOf(file: string): NamedImport[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: NamedImport[] = [];
  for (const node of source.statements) {
    if ((!ts.isImportDeclaration(node) && !ts.isExportDeclaration(node)) || !node.moduleSpecifier || !ts.isStringLiteral(node.moduleSpecifier)) continue;
    const spec = node.moduleSpecifier.text;
    if (ts.isImportDeclaration(node)) {
      const named = node.importClause?.namedBindings;
      out.push({ spec, names: named && ts.isNamedImports(named) ? named.elements.map((e) => (e.propertyName ?? e.name).text) : [], reexport: false });
    } else {
      const clause = node.exportClause;
      out.push({ spec, names: clause && ts.isNamedExports(clause) ? clause.elements.map((e) => (e.propertyName ?? e.name).text) : [], reexport: true });
    }
  }
  // `import { a } from './x'; export { a };` re-exports too.
  const importedFrom = new Map<string, string>();
  for (const node of source.statements) {
    const named = ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) ? node.importClause?.namedBindings : undefined;
    if (named && ts.isNamedImports(named)) for (const e of named.elements) importedFrom.set(e.name.text, (node as ts.ImportDeclaration & { moduleSpecifier: ts.StringLiteral }).moduleSpecifier.text);
  }
  for (const node of source.statements) {
    if (!ts.isExportDeclaration(node) || node.moduleSpecifier || !node.exportClause || !ts.isNamedExports(node.exportClause)) continue;
    for (const e of node.exportClause.elements) {
      const spec = importedFrom.get((e.propertyName ?? e.name).text);
      if (spec) out.push({ spec, names: [e.name.text], reexport: true });
    }
  }
  return out;
}

/**
 * The names a module exports (values and types), read from its export statements and followed through its
 * local re-exports (`export *`, `export { a } from`); a namespace re-export (`export * as tree from`) counts as
 * its name, and the names of that module count too (reached as `tree.x`).
 */
export function exportedNames(file: string, seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  if (seen.has(file)) return names;
  seen.add(file);
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const exported = (node: ts.Node) => ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const node of source.statements) {
    if (ts.isExportDeclaration(node)) {
      const spec = node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : undefined;
      const target = spec?.startsWith('.') ? resolveLocal(file, spec) : undefined;
      const clause = node.exportClause;
      if (!clause) {
        if (target) for (const n of exportedNames(target, seen)) names.add(n);
      } else if (ts.isNamespaceExport(clause)) {
        names.add(clause.name.text);
        if (target) for (const n of exportedNames(target, seen)) names.add(n);
      } else {
        for (const e of clause.elements) names.add(e.name.text);
      }
    } else if (ts.isVariableStatement(node) && exported(node)) {
      for (const d of node.declarationList.declarations) if (ts.isIdentifier(d.name)) names.add(d.name.text);
    } else if ((ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)
      || ts.isEnumDeclaration(node)) && exported(node) && node.name) {
      names.add(node.name.text);
    }
  }
  return names;
}
