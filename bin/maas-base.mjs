#!/usr/bin/env node
// Runs the TypeScript CLI straight from the checkout (tsx compiles on load),
// so `npx maas-base …` works right after `npm install`, with no build step.

// The engine's decodes and samplings run on libuv's thread pool; with more pool
// threads than llama.cpp's own, they contend for the cores and decode 20–50 %
// slower (bench/RESULTS.md). libuv sizes its pool on first use, so this must be set
// before anything is imported. Set UV_THREADPOOL_SIZE yourself to override.
if (process.argv[2] === "serve" && !process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = "1";

const { register } = await import("tsx/esm/api");
register();
const { main } = await import("../src-main/core/cli.ts");
await main(process.argv);
