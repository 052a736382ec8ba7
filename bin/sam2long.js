#!/usr/bin/env node
// The sam2long CLI: the compiled build when there is one (npm run build), else the TypeScript sources via tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist/tools/cli.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../tools/cli.ts', import.meta.url).href);
}
await cli.runCli(process.argv.slice(2));
