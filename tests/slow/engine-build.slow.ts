// `npm run test:engine-build`: builds the engine from node-llama-cpp's bundled llama.cpp
// source, as a user types it, and checks that engines loaded afterwards use that build.
// It takes ~6 minutes of both cores on a 2-core machine and changes which binary every
// later engine process loads (node-llama-cpp/llama/localBuilds), so it is not part of
// `npm test`; CI runs it on its own.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "..", "bin", "maas-base.mjs");

describe("maas-base engine build", () => {
  it("builds the CPU engine offline, and gpus reports the local build from then on", { timeout: 40 * 60_000 }, async () => {
    const build = await run(process.execPath, [BIN, "engine", "build", "--cpu"], { maxBuffer: 64 * 1024 * 1024 });
    expect(build.stdout).toMatch(/^engine built in \d+ s; in use: localBuild cpu \(cpu native\), llama\.cpp \S+\n$/);

    const { stdout } = await run(process.execPath, [BIN, "gpus", "--cpu", "--json"]);
    const info = JSON.parse(stdout);
    expect(info.engine.build).toBe("localBuild");
    expect(info.engine.cpuVariant).toBe("native");
  });
});
