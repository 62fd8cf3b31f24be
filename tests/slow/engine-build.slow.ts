// `npm run test:engine-build`: builds the engine from node-llama-cpp's bundled llama.cpp
// source, as a user types it, and checks that engines loaded afterwards use that build
// and decode a quantized model with it. It takes ~4–6 minutes of both cores on a 2-core
// machine and changes which binary every later engine process loads
// (node-llama-cpp/llama/localBuilds), so it is not part of `npm test`; CI runs it on its own.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyLlama } from "../../src-main/core/fixtures/tinyModels.js";
import { BIN, spawnServe } from "../helpers/serve.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "maas-engine-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("maas-base engine build", () => {
  it("builds the CPU engine offline, and gpus reports the local build from then on", { timeout: 40 * 60_000 }, async () => {
    const build = await run(process.execPath, [BIN, "engine", "build", "--cpu"], { maxBuffer: 64 * 1024 * 1024 });
    expect(build.stdout).toMatch(/^engine built in \d+ s; in use: localBuild cpu \(cpu native\), llama\.cpp \S+\n$/);

    const { stdout } = await run(process.execPath, [BIN, "gpus", "--cpu", "--json"]);
    const info = JSON.parse(stdout);
    expect(info.engine.build).toBe("localBuild");
    expect(info.engine.cpuVariant).toBe("native");
  });

  it("the local build decodes a Q8_0 model (an AMX miscompile crashed it on Sapphire Rapids)", {
    timeout: 5 * 60_000,
  }, async () => {
    const models = join(dir, "models");
    mkdirSync(models, { recursive: true });
    writeTinyLlama(join(models, "tiny-q8.gguf"), { type: "q8_0", vocabulary: "ascii" });
    const server = await spawnServe([
      "--data-dir",
      join(dir, "data"),
      "--models-dir",
      models,
      "--cpu",
      "--allow-loopback-without-key",
      "--no-engine-build",
      "--log-level",
      "warn",
    ]);
    try {
      const res = await fetch(`${server.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // A prompt of several tokens: llama.cpp's batched quantized kernels (AMX's tile path among them).
        body: JSON.stringify({ model: "tiny-q8", prompt: "The quick brown fox jumps over the lazy dog.", max_tokens: 8 }),
      });
      const body = await res.text();
      expect(res.status, `${body}\n${server.output()}`).toBe(200);
      expect(JSON.parse(body).usage.completion_tokens).toBeGreaterThan(0);
    } finally {
      server.child.kill("SIGTERM");
    }
  });
});
