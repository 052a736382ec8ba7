#!/usr/bin/env node
// The sam2long CLI. The published package runs its compiled JavaScript (dist/). A clone of the repository runs
// the TypeScript sources through tsx (a development dependency), so a dist/ left by an earlier build never
// stands in for newer sources.
import { existsSync } from 'node:fs';

const sources = new URL('../tools/cli.ts', import.meta.url);
let cli;
if (existsSync(sources)) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('sam2long: running from the sources needs tsx, a development dependency: run `npm ci`');
    process.exit(1);
  }
  register();
  cli = await import(sources.href);
} else {
  cli = await import(new URL('../dist/tools/cli.js', import.meta.url).href);
}
await cli.runCli(process.argv.slice(2));
