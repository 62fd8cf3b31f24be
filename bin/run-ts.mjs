#!/usr/bin/env node
// Runs a TypeScript script (benchmarks) with tsx: `node bin/run-ts.mjs bench/run.ts [args]`.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { register } from "tsx/esm/api";

register();
const script = process.argv[2];
if (!script) {
  console.error("usage: run-ts.mjs <script.ts> [args…]");
  process.exit(2);
}
process.argv.splice(1, 1);
await import(pathToFileURL(resolve(script)).href);
