/**
 * `npm run bench:startup`: how fast `maas-base serve` with no models answers /health
 * after launch, and how much memory it holds idle (RSS of the server process).
 * Targets (issue 16): /health ≤ 600 ms after launch, idle RSS ≤ 120 MB.
 *
 *   npm run bench:startup -- [--runs 5] [--bin bin/maas-base.mjs]
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";

export interface StartupSample {
  healthMs: number;
  /** CPU time (user + system) the server process spent until /health answered: steadier than wall time on a shared machine. */
  cpuMs: number;
  rssMb: number;
}

/** utime + stime of a process, from /proc (clock ticks of 10 ms on Linux). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Launches `serve` with an empty models folder, polls /health, samples RSS after it settles, stops it. */
export async function measureStartup(bin: string, settleMs = 2000): Promise<StartupSample> {
  const dir = mkdtempSync(join(tmpdir(), "maas-base-startup-"));
  mkdirSync(join(dir, "models"));
  const port = await freePort();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      bin,
      "serve",
      "--port",
      String(port),
      "--data-dir",
      dir,
      "--models-dir",
      join(dir, "models"),
      "--no-engine-build",
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, MAAS_ENGINE_BUILD: "off" } },
  );
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  try {
    let healthMs = Number.NaN;
    let cpuMs = Number.NaN;
    while (performance.now() - started < 60_000) {
      if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}: ${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) {
        healthMs = performance.now() - started;
        cpuMs = cpuMsOf(child.pid ?? 0);
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    if (!Number.isFinite(healthMs)) throw new Error(`no /health within 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, settleMs));
    return { healthMs, cpuMs, rssMb: rssMb(child.pid ?? 0) };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("startup.ts")) {
  const { values } = parseArgs({
    options: { runs: { type: "string", default: "5" }, bin: { type: "string", default: "bin/maas-base.mjs" } },
  });
  const samples: StartupSample[] = [];
  for (let i = 0; i < Number(values.runs); i++) samples.push(await measureStartup(resolve(values.bin)));
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const med = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)] ?? Number.NaN;
  console.log(
    `runs (wall / cpu / rss): ${samples.map((s) => `${s.healthMs.toFixed(0)} ms / ${s.cpuMs} ms / ${s.rssMb.toFixed(0)} MB`).join(", ")}`,
  );
  console.log(
    `median: /health after ${med(samples.map((s) => s.healthMs)).toFixed(0)} ms (${med(samples.map((s) => s.cpuMs))} ms of CPU), idle RSS ${med(samples.map((s) => s.rssMb)).toFixed(0)} MB`,
  );
}
