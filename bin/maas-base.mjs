#!/usr/bin/env node
// Runs the CLI compiled to JavaScript (bin/build-core.mjs: built by `npm install`, and
// again here when the sources changed since), so a start costs no TypeScript compile.

// (UV_THREADPOOL_SIZE=1 for the engine's decodes is set in the engine processes' own
// environment: src-main/core/engine/supervisor/EngineProcess.ts.)

const { ensureCoreBuild } = await import("./build-core.mjs");
const { pathToFileURL } = await import("node:url");
const { join } = await import("node:path");
let built = null;
try {
  built = await ensureCoreBuild();
} catch (error) {
  // No esbuild, or dist/ is not writable: run the TypeScript sources through tsx instead.
  if (!["ERR_MODULE_NOT_FOUND", "EACCES", "EROFS", "EPERM"].includes(error?.code)) throw error;
}
let main;
if (built) {
  ({ main } = await import(pathToFileURL(join(built, "cli.bundle.js")).href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src-main/core/cli.ts"));
}
await main(process.argv);
