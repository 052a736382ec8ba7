#!/usr/bin/env node
// The sam2long CLI: the compiled build (dist/, what the published package ships and `npm run build` makes);
// in a clone without a build, the TypeScript sources through tsx (a development dependency).
import { existsSync } from 'node:fs';

const built = new URL('../dist/tools/cli.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error('sam2long: no compiled build (dist/) and no tsx to run the sources: run `npm ci`, or `npm run build`');
    process.exit(1);
  }
  register();
  cli = await import(new URL('../tools/cli.ts', import.meta.url).href);
}
await cli.runCli(process.argv.slice(2));
