#!/usr/bin/env node
// Runs the TypeScript CLI straight from the checkout (tsx compiles on load),
// so `npx maas-base …` works right after `npm install`, with no build step.

// (UV_THREADPOOL_SIZE=1 for the engine's decodes is set in the engine processes' own
// environment: src-main/core/engine/supervisor/EngineProcess.ts.)

const { register } = await import("tsx/esm/api");
register();
const { main } = await import("../src-main/core/cli.ts");
await main(process.argv);
