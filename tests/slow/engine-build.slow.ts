// `npm run test:engine-build`: builds the engine from node-llama-cpp's bundled llama.cpp
// source, as a user types it, and checks that engines loaded afterwards use that build
// and decode with it: first the CPU kernels build (`--cpu-kernels`, ~1 minute, Linux x64),
// then the full build (`--cpu`, ~4–8 minutes of both cores on a 2-core machine), which
// takes over from it. Both change which binary every later engine process loads
// (node-llama-cpp/llama/localBuilds), so this is not part of `npm test`; CI runs it on its own.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  cpuKernelsCmakeOptions,
  cpuKernelsSupported,
  findCpuKernelsBuild,
  probeEngine,
} from "../../src-main/core/engine/cpuKernels.js";
import { hasTunedBuild, prebuiltBeatsTunedBuild } from "../../src-main/core/engine/engineInfo.js";
import { writeTinyLlama } from "../../src-main/core/fixtures/tinyModels.js";
import { BIN, type Serving, spawnServe } from "../helpers/serve.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "maas-engine-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `serve` on `models` (file name → fixture type), with or without its background build, and a management key. */
async function serveModels(
  name: string,
  models: Record<string, "f16" | "q8_0">,
  backgroundBuild = false,
): Promise<Serving & { adminKey: string }> {
  const modelsDir = join(dir, `models-${name}`);
  const dataDir = join(dir, `data-${name}`);
  mkdirSync(modelsDir, { recursive: true });
  for (const [id, type] of Object.entries(models)) writeTinyLlama(join(modelsDir, `${id}.gguf`), { type, vocabulary: "ascii" });
  const created = await run(process.execPath, [
    BIN,
    "keys",
    "create",
    "--name",
    "admin",
    "--scope",
    "management",
    "--data-dir",
    dataDir,
  ]);
  const args = ["--data-dir", dataDir, "--models-dir", modelsDir, "--cpu", "--allow-loopback-without-key"];
  const server = await spawnServe(
    [...args, ...(backgroundBuild ? [] : ["--no-engine-build"]), "--log-level", "warn"],
    90_000,
    // The background build is off under CI and test runners unless asked for.
    backgroundBuild ? { MAAS_ENGINE_BUILD: "on" } : {},
  );
  return { ...server, adminKey: created.stdout.trim() };
}

async function complete(server: Serving, model: string): Promise<void> {
  const res = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // A prompt of several tokens: llama.cpp's batched kernels (tinyBLAS for F16, AMX's tile path for Q8_0).
    body: JSON.stringify({ model, prompt: "The quick brown fox jumps over the lazy dog.", max_tokens: 8 }),
  });
  const body = await res.text();
  expect(res.status, `${model}: ${body}\n${server.output()}`).toBe(200);
  expect(JSON.parse(body).usage.completion_tokens).toBeGreaterThan(0);
}

interface EngineReport {
  build: string;
  cpuKernels: string;
  cpuVariant: string | null;
  models: Array<{ id: string; pid: number | null; prebuiltEngine: boolean; restarts: number }>;
  engineBuild: { state: string; reason: string | null };
}

async function engineReport(server: Serving & { adminKey: string }): Promise<EngineReport> {
  const res = await fetch(`${server.url}/api/admin/engine`, { headers: { authorization: `Bearer ${server.adminKey}` } });
  const body = await res.text();
  expect(res.status, body).toBe(200);
  return JSON.parse(body) as EngineReport;
}

/** Serves `models` with the engine builds found, completes a prompt on each, and says what the engine reports. */
async function completeOnEach(name: string, models: Record<string, "f16" | "q8_0">): Promise<EngineReport> {
  const server = await serveModels(name, models);
  try {
    for (const id of Object.keys(models)) await complete(server, id);
    return await engineReport(server);
  } finally {
    server.child.kill("SIGTERM");
  }
}

/**
 * The kernels build runs on Linux x64 only, not on a CPU with AMX (its prebuilt library uses
 * AMX, which GCC 12 miscompiles), and serves only where no full build exists yet: on CI's
 * clean clone the full build is made by the last test. Elsewhere these tests are skipped.
 */
const kernelsTestable = cpuKernelsSupported() && prebuiltBeatsTunedBuild() === null && !hasTunedBuild();

describe("maas-base engine build", () => {
  it.runIf(kernelsTestable)(
    "--cpu-kernels compiles the prebuilt engine's CPU library for this machine, and engines load it",
    { timeout: 10 * 60_000 },
    async () => {
      // The variant the prebuilt engine picks here (a marker no build folder has).
      const prebuilt = await probeEngine(cpuKernelsCmakeOptions("none"));
      expect(prebuilt.build).toBe("prebuilt");
      expect(prebuilt.variant).toMatch(/^[a-z0-9_]+$/);

      const build = await run(process.execPath, [BIN, "engine", "build", "--cpu-kernels"], { maxBuffer: 64 * 1024 * 1024 });
      expect(build.stderr).toContain(`libggml-cpu-${prebuilt.variant}.so`);
      // With OpenMP (GCC's runtime): threads that persist between graph computations.
      expect(build.stderr).toMatch(/^CPU kernels build: OpenMP from \/\S+\/libgomp\.so\.1\S*$/m);
      const { stdout } = await run(process.execPath, [BIN, "gpus", "--cpu", "--json"]);
      const info = JSON.parse(stdout);
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

  it.runIf(kernelsTestable)(
    "serve builds the CPU kernels in the background; a model loaded before moves to them once idle, and to the prebuilt engine after two crashes",
    { timeout: 10 * 60_000 },
    async () => {
      // Start from the prebuilt engine again: the test before left its build (and a portable
      // one, made for an installer, would serve too).
      for (let found = findCpuKernelsBuild(); found; found = findCpuKernelsBuild()) {
        rmSync(found.folder, { recursive: true, force: true });
      }
      const server = await serveModels("background", { "tiny-f16": "f16" }, true);
      try {
        await complete(server, "tiny-f16");
        let report = await engineReport(server);
        const firstPid = report.models.find((m) => m.id === "tiny-f16")?.pid;
        expect(firstPid).toBeTypeOf("number");
        expect(report.cpuKernels).toBe("prebuilt");
        expect(["building", "built"]).toContain(report.engineBuild.state);
        const deadline = Date.now() + 8 * 60_000;
        while (report.engineBuild.state === "building" && Date.now() < deadline) {
          await complete(server, "tiny-f16");
          await new Promise((resolve) => setTimeout(resolve, 1000));
          report = await engineReport(server);
        }
        expect(report.engineBuild, server.output()).toMatchObject({ state: "built" });
        // The idle model moved to a new engine process on the rebuilt library.
        await complete(server, "tiny-f16");
        for (let i = 0; i < 100 && report.models.find((m) => m.id === "tiny-f16")?.pid === firstPid; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          report = await engineReport(server);
        }
        expect(report.models.find((m) => m.id === "tiny-f16")?.pid).not.toBe(firstPid);
        expect(report).toMatchObject({ build: "localBuild", cpuKernels: "rebuilt" });
        await complete(server, "tiny-f16");
        const mapped = (pid: number, file: RegExp) =>
          readFileSync(`/proc/${pid}/maps`, "utf8")
            .split("\n")
            .map((line) => line.trim().split(/\s+/).pop() ?? "")
            .find((path) => file.test(path));
        const cpuLibrary = (pid: number) => mapped(pid, /libggml-cpu-\w+\.so$/);
        const movedPid = report.models.find((m) => m.id === "tiny-f16")?.pid as number;
        expect(cpuLibrary(movedPid)).toContain("localBuilds");
        // Its OpenMP runtime is the copy in the build folder.
        expect(mapped(movedPid, /\/libgomp\.so\.1$/)).toBe(join(dirname(cpuLibrary(movedPid) ?? ""), "libgomp.so.1"));

        // Two crashes on the local build: the model's next engine process loads the prebuilt engine.
        let pid = movedPid;
        for (let crash = 0; crash < 2; crash++) {
          process.kill(pid, "SIGKILL");
          for (let i = 0; i < 100 && report.models.find((m) => m.id === "tiny-f16")?.pid === pid; i++) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            report = await engineReport(server);
          }
          await complete(server, "tiny-f16");
          report = await engineReport(server);
          pid = report.models.find((m) => m.id === "tiny-f16")?.pid as number;
        }
        expect(report.models.find((m) => m.id === "tiny-f16")).toMatchObject({ prebuiltEngine: true, restarts: 2 });
        expect(cpuLibrary(pid)).toMatch(/@node-llama-cpp\/linux-x64\/bins\/linux-x64\/libggml-cpu-\w+\.so$/);
      } finally {
        server.child.kill("SIGTERM");
      }
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

  it("the local build decodes F16 and Q8_0 models (an AMX miscompile crashed Q8_0 on Sapphire Rapids)", {
    timeout: 5 * 60_000,
  }, async () => {
    const engine = await completeOnEach("native", { "tiny-f16": "f16", "tiny-q8": "q8_0" });
    expect(engine).toMatchObject({ build: "localBuild", cpuKernels: "native" });
  });
});
