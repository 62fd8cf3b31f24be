/**
 * Where a one-thread engine process runs: on one CPU of its own (Linux).
 *
 * node-llama-cpp decodes on a libuv worker thread and samples on it again, and the
 * engine's main thread waits for each between them: four thread hand-offs a token.
 * A hand-off to a thread that sleeps on another CPU wakes that CPU first, and in a VM
 * (or from a laptop's deep idle state) that wake is slow. Measured here (Intel Xeon VM,
 * 2 cores, stories260K, one stream, node-llama-cpp in-process, after warm-up): its own
 * loop decodes 1 900 tok/s on any CPU and 2 300 tok/s held on one; its sampling step
 * took 100 µs a token across CPUs and 15 µs on one. With one decode thread nothing is
 * lost by holding the process to one CPU, so the supervisor does that, spreading such
 * engines over the CPUs the server may use. Engines with more threads are left alone.
 *
 * `taskset` (util-linux) sets the affinity: Node has no call for it. Where it is missing,
 * or off (`MAAS_ENGINE_CPU_PIN=off`), engines run unpinned, as before.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

/** CPU ids of a kernel CPU list such as `0-3,8,10-11`. */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) continue;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    for (let cpu = from; cpu <= to && cpu - from < 4096; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The CPUs this process may run on (Linux), else none. */
export function allowedCpus(): number[] {
  if (process.platform !== "linux") return [];
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    return line?.[1] ? parseCpuList(line[1]) : [];
  } catch {
    return [];
  }
}

/**
 * The CPU for the next one-thread engine: an allowed CPU that the fewest of this server's
 * engines hold, chosen at random among equals (two servers, or two test runs side by
 * side, then do not all start on the same CPU). Null with fewer than two CPUs: there is
 * nothing to choose, and the engine's main thread is better left free to move.
 */
export function chooseCpu(
  allowed: readonly number[],
  held: readonly number[],
  random: () => number = Math.random,
): number | null {
  if (allowed.length < 2) return null;
  const count = new Map<number, number>(allowed.map((cpu) => [cpu, 0]));
  for (const cpu of held) if (count.has(cpu)) count.set(cpu, (count.get(cpu) ?? 0) + 1);
  const fewest = Math.min(...count.values());
  const candidates = allowed.filter((cpu) => count.get(cpu) === fewest);
  return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))] ?? null;
}

/** Whether engines are pinned: on unless `MAAS_ENGINE_CPU_PIN` is `off`, `0` or `false`. */
export function cpuPinEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.MAAS_ENGINE_CPU_PIN?.trim().toLowerCase();
  return !(value === "off" || value === "0" || value === "false");
}

/**
 * Holds every thread of process `pid` (and the threads they start later) to `cpu`.
 * Resolves with taskset's complaint when it could not (missing, refused), else null.
 */
export function pinProcess(pid: number, cpu: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { timeout: 5000 }, (error, _stdout, stderr) => {
      if (!error) return resolve(null);
      const code = (error as NodeJS.ErrnoException).code;
      resolve(code === "ENOENT" ? "taskset is not installed" : String(stderr || error.message).trim());
    });
  });
}
