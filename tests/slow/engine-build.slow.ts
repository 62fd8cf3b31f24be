// `npm run test:engine-build`: builds the engine from node-llama-cpp's bundled llama.cpp
// source, as a user types it, and checks that engines loaded afterwards use that build
// and decode with it: first the CPU kernels build (`--cpu-kernels`, ~1 minute, Linux x64),
// then the full build (`--cpu`, ~4–8 minutes of both cores on a 2-core machine), which
// takes over from it. Both change which binary every later engine process loads
// (node-llama-cpp/llama/localBuilds), so this is not part of `npm test`; CI runs it on its own.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { cpuKernelsCmakeOptions, cpuKernelsSupported, probeEngine } from "../../src-main/core/engine/cpuKernels.js";
import { hasTunedBuild } from "../../src-main/core/engine/engineInfo.js";
import { writeTinyLlama } from "../../src-main/core/fixtures/tinyModels.js";
import { BIN, spawnServe } from "../helpers/serve.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "maas-engine-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Serves `models` (file name → fixture type) with the engine builds found, and completes a prompt on each. */
async function completeOnEach(name: string, models: Record<string, "f16" | "q8_0">): Promise<unknown> {
  const modelsDir = join(dir, `models-${name}`);
  mkdirSync(modelsDir, { recursive: true });
  for (const [id, type] of Object.entries(models)) writeTinyLlama(join(modelsDir, `${id}.gguf`), { type, vocabulary: "ascii" });
  const server = await spawnServe([
    "--data-dir",
    join(dir, `data-${name}`),
    "--models-dir",
    modelsDir,
    "--cpu",
    "--allow-loopback-without-key",
    "--no-engine-build",
    "--log-level",
    "warn",
  ]);
  try {
    for (const id of Object.keys(models)) {
      const res = await fetch(`${server.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        // A prompt of several tokens: llama.cpp's batched kernels (tinyBLAS for F16, AMX's tile path for Q8_0).
        body: JSON.stringify({ model: id, prompt: "The quick brown fox jumps over the lazy dog.", max_tokens: 8 }),
      });
      const body = await res.text();
      expect(res.status, `${id}: ${body}\n${server.output()}`).toBe(200);
      expect(JSON.parse(body).usage.completion_tokens).toBeGreaterThan(0);
    }
    return await (await fetch(`${server.url}/api/admin/engine`)).json();
  } finally {
    server.child.kill("SIGTERM");
  }
}

describe("maas-base engine build", () => {
  it.runIf(cpuKernelsSupported())(
    "--cpu-kernels compiles the prebuilt engine's CPU library for this machine, and engines load it",
    { timeout: 10 * 60_000 },
    async () => {
      // The variant the prebuilt engine picks here (a marker no build folder has).
      const prebuilt = await probeEngine(cpuKernelsCmakeOptions("none"));
      expect(prebuilt.build).toBe("prebuilt");
      expect(prebuilt.variant).toMatch(/^[a-z0-9_]+$/);
      const tunedAlready = hasTunedBuild();

      const build = await run(process.execPath, [BIN, "engine", "build", "--cpu-kernels"], { maxBuffer: 64 * 1024 * 1024 });
      expect(build.stderr).toContain(`libggml-cpu-${prebuilt.variant}.so`);
      const { stdout } = await run(process.execPath, [BIN, "gpus", "--cpu", "--json"]);
      const info = JSON.parse(stdout);
      if (tunedAlready) {
        // A full tuned build made earlier (not on CI's clean clone) still takes precedence.
        expect(info.engine.cpuKernels).toBe("native");
        return;
      }
      expect(build.stdout).toMatch(
        new RegExp(
          `^CPU kernels built in \\d+ s; in use: localBuild cpu \\(cpu ${prebuilt.variant}, kernels rebuilt\\), llama\\.cpp \\S+\n$`,
        ),
      );
      expect(info.engine).toMatchObject({ build: "localBuild", cpuKernels: "rebuilt", cpuVariant: prebuilt.variant });
      const human = await run(process.execPath, [BIN, "gpus", "--cpu"]);
      expect(human.stdout).toContain(`prebuilt, CPU kernels built on this machine, cpu ${prebuilt.variant}`);

      // Served: engine processes load the rebuilt library, and decode F16 and Q8_0 with it.
      const engine = await completeOnEach("kernels", { "tiny-f16": "f16", "tiny-q8": "q8_0" });
      expect(engine).toMatchObject({ build: "localBuild", cpuKernels: "rebuilt", cpuVariant: prebuilt.variant });
    },
  );

  it("builds the CPU engine offline, and gpus reports the local build from then on", { timeout: 40 * 60_000 }, async () => {
    const build = await run(process.execPath, [BIN, "engine", "build", "--cpu"], { maxBuffer: 64 * 1024 * 1024 });
    expect(build.stdout).toMatch(/^engine built in \d+ s; in use: localBuild cpu \(cpu native\), llama\.cpp \S+\n$/);

    const { stdout } = await run(process.execPath, [BIN, "gpus", "--cpu", "--json"]);
    const info = JSON.parse(stdout);
    expect(info.engine.build).toBe("localBuild");
    expect(info.engine.cpuVariant).toBe("native");
    // It takes over from the CPU kernels build of the test before.
    expect(info.engine.cpuKernels).toBe("native");
  });

  it("the local build decodes a Q8_0 model (an AMX miscompile crashed it on Sapphire Rapids)", {
    timeout: 5 * 60_000,
  }, async () => {
    const engine = await completeOnEach("native", { "tiny-q8": "q8_0" });
    expect(engine).toMatchObject({ build: "localBuild", cpuKernels: "native" });
  });
});
