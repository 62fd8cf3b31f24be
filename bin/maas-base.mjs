#!/usr/bin/env node
// Runs the TypeScript CLI straight from the checkout (tsx compiles on load),
// so `npx maas-base …` works right after `npm install`, with no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src-main/core/cli.ts");
await main(process.argv);
