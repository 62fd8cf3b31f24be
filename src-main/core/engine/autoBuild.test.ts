import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { engineAutoBuildWanted } from "../cli.js";
import { EngineAutoBuild } from "./autoBuild.js";
import { prebuiltBeatsTunedBuild } from "./engineInfo.js";

const logger = pino({ level: "silent" });

/** A build that prints cmake-shaped progress and exits with `code`, or waits to be aborted. */
function scriptedBuild(code: number | "untilAborted") {
  const calls: Array<{ lowPriority: unknown }> = [];
  const build = async (options: Parameters<NonNullable<ConstructorParameters<typeof EngineAutoBuild>[0]["build"]>>[0]) => {
    calls.push({ lowPriority: options.lowPriority });
    options.onLine("[node-llama-cpp] Cloning llama.cpp");
    options.onLine("[ 12%] Building CXX object ggml/src/ggml-cpu/ggml-cpu.cpp.o");
    options.onLine("[ 57%] Building CXX object src/llama.cpp.o");
    if (code === "untilAborted") {
      await new Promise((resolve) => options.signal?.addEventListener("abort", resolve));
      return 143;
    }
    return code;
  };
  return { build, calls };
}

/** A background build with nothing found against it, unless `options` say otherwise. */
const autoBuild = (options: Partial<ConstructorParameters<typeof EngineAutoBuild>[0]> & { enabled: boolean }) =>
  new EngineAutoBuild({ logger, alreadyBuilt: () => false, missingTools: () => [], prebuiltPreferred: () => null, ...options });

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("background engine build", () => {
  it("is off unless turned on, and does nothing then", async () => {
    const { build, calls } = scriptedBuild(0);
    const auto = autoBuild({ enabled: false, build });
    auto.start();
    await settle();
    expect(auto.status().state).toBe("off");
    expect(calls).toEqual([]);
  });

  it("builds the CPU engine at low priority, reports progress, then says it is built", async () => {
    const { build, calls } = scriptedBuild(0);
    let told = 0;
    const auto = autoBuild({ enabled: true, build, onBuilt: () => told++ });
    auto.start();
    await settle();
    const status = auto.status();
    expect(calls).toEqual([{ lowPriority: true }]);
    expect(status.state).toBe("built");
    // Running models are told once, so they move to the new build.
    expect(told).toBe(1);
    expect(status.percent).toBe(57);
    expect(status.lastLines.at(-1)).toContain("src/llama.cpp.o");
    expect(status.startedAt).not.toBeNull();
    expect(status.finishedAt).not.toBeNull();
  });

  it("skips when a local build exists or the tools are missing, and says why", async () => {
    const { build, calls } = scriptedBuild(0);
    const done = autoBuild({ enabled: true, build, alreadyBuilt: () => true });
    done.start();
    const noTools = autoBuild({ enabled: true, build, missingTools: () => ["cmake"] });
    noTools.start();
    await settle();
    expect(done.status().state).toBe("notNeeded");
    expect(noTools.status()).toMatchObject({ state: "unavailable", reason: "missing cmake" });
    expect(calls).toEqual([]);
  });

  it("reports a failed build, and a build stopped with the server", async () => {
    let told = 0;
    const failing = autoBuild({ enabled: true, build: scriptedBuild(2).build, onBuilt: () => told++ });
    failing.start();
    await settle();
    expect(failing.status()).toMatchObject({ state: "failed", reason: "the build exited with 2" });
    expect(told).toBe(0);

    const long = autoBuild({ enabled: true, build: scriptedBuild("untilAborted").build });
    long.start();
    await settle();
    expect(long.status().state).toBe("building");
    await long.stop();
    expect(long.status()).toMatchObject({ state: "failed", reason: "stopped with the server" });
  });

  it("serve wants it by default, but not under CI or a test runner unless asked", () => {
    expect(engineAutoBuildWanted(true, {})).toBe(true);
    expect(engineAutoBuildWanted(false, {})).toBe(false);
    expect(engineAutoBuildWanted(true, { CI: "true" })).toBe(false);
    expect(engineAutoBuildWanted(true, { VITEST: "true" })).toBe(false);
    expect(engineAutoBuildWanted(true, { MAAS_ENGINE_BUILD: "off" })).toBe(false);
    expect(engineAutoBuildWanted(true, { CI: "true", MAAS_ENGINE_BUILD: "on" })).toBe(true);
    expect(engineAutoBuildWanted(false, { MAAS_ENGINE_BUILD: "on" })).toBe(false);
  });

  it("does not build where the prebuilt engine is faster (a CPU with AMX), and says why", async () => {
    const { build, calls } = scriptedBuild(0);
    const auto = autoBuild({ enabled: true, build, prebuiltPreferred: () => "this CPU has AMX" });
    auto.start();
    await settle();
    expect(auto.status()).toMatchObject({ state: "notNeeded", reason: "this CPU has AMX" });
    expect(calls).toEqual([]);
  });

  it.runIf(process.platform === "linux" && process.arch === "x64")("reads AMX from the CPU's flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "cpuinfo-"));
    try {
      const cpuinfo = join(dir, "cpuinfo");
      writeFileSync(cpuinfo, "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n");
      expect(prebuiltBeatsTunedBuild(cpuinfo)).toMatch(/AMX/);
      writeFileSync(cpuinfo, "processor\t: 0\nflags\t\t: fpu avx2 fma\n");
      expect(prebuiltBeatsTunedBuild(cpuinfo)).toBeNull();
      expect(prebuiltBeatsTunedBuild(join(dir, "missing"))).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
