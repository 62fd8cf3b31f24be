/**
 * A one-thread engine process is held to a CPU of its own (cpuPin.ts): real engine
 * processes, the kernel's own record of each thread's CPUs. Linux with `taskset` and at
 * least two CPUs only: elsewhere there is nothing to pin.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeLauncher } from "../src-main/core/engine/process/launcher.js";
import { allowedCpus, parseCpuList } from "../src-main/core/engine/supervisor/cpuPin.js";
import { Inspector } from "../src-main/core/engine/supervisor/Inspector.js";
import { Supervisor } from "../src-main/core/engine/supervisor/Supervisor.js";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import type { ModelInfo } from "../src-main/core/inference/types.js";
import { drain } from "./helpers/streams.js";

function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const canPin = process.platform === "linux" && allowedCpus().length >= 2 && hasTaskset();

/** The CPUs each thread of process `pid` may run on, as the kernel has them. */
function threadCpus(pid: number): number[][] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    return parseCpuList(/^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1] ?? "");
  });
}

let dir: string;
let models: ModelInfo[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "maas-cpu-pin-"));
  const path = join(dir, "tiny.gguf");
  writeTinyLlama(path, { seed: 5, vocabulary: "ascii" });
  const base = { path, sizeBytes: 0, architecture: "llama", contextLength: null, capabilities: ["chat"], createdAt: 0 } as const;
  models = [
    { ...base, id: "one", capabilities: ["chat"] },
    { ...base, id: "two", capabilities: ["chat"] },
    { ...base, id: "wide", capabilities: ["chat"], settings: { threads: 2 } },
  ];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function supervise(cpuPin?: boolean) {
  const launcher = nodeLauncher();
  const inspector = new Inspector({ launcher });
  const supervisor = new Supervisor({
    gpu: false,
    threads: 1,
    parallel: 2,
    maxQueue: 8,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    logLevel: "silent",
    launcher,
    inspector,
    spareProcess: false,
    contextSize: 4096,
    resolveModel: (id) => models.find((m) => m.id === id),
    ...(cpuPin === undefined ? {} : { cpuPin }),
  });
  const stat = (id: string) => supervisor.statsNow().find((s) => s.id === id);
  const answer = async (id: string) =>
    drain(await supervisor.complete({ model: id, prompt: "Once upon a time", sampling: { maxTokens: 4, temperature: 0 } }));
  return { supervisor, inspector, stat, answer };
}

describe.skipIf(!canPin)("one-thread engine processes", () => {
  it("are each held to a CPU, spread over the CPUs; an engine with two threads is not", async () => {
    const { supervisor, inspector, stat, answer } = supervise();
    const all = allowedCpus();
    try {
      for (const id of ["one", "two", "wide"]) expect((await answer(id)).tokens).toBe(4);
      const one = stat("one");
      const two = stat("two");
      expect(one?.cpu).toBeTypeOf("number");
      expect(two?.cpu).toBeTypeOf("number");
      expect(all).toContain(one?.cpu);
      expect(two?.cpu).not.toBe(one?.cpu);
      for (const s of [one, two]) {
        const threads = threadCpus(s?.pid as number);
        expect(threads.length).toBeGreaterThan(3);
        for (const cpus of threads) expect(cpus).toEqual([s?.cpu]);
      }
      const wide = stat("wide");
      expect(wide?.cpu).toBeNull();
      for (const cpus of threadCpus(wide?.pid as number)) expect(cpus).toEqual(all);
      // Still answering on its CPU after the check.
      expect((await answer("one")).tokens).toBe(4);
    } finally {
      await supervisor.dispose();
      await inspector.stop();
    }
  }, 120_000);

  it("run unpinned with the option off", async () => {
    const { supervisor, inspector, stat, answer } = supervise(false);
    try {
      expect((await answer("one")).tokens).toBe(4);
      expect(stat("one")?.cpu).toBeNull();
      for (const cpus of threadCpus(stat("one")?.pid as number)) expect(cpus).toEqual(allowedCpus());
    } finally {
      await supervisor.dispose();
      await inspector.stop();
    }
  }, 120_000);
});
