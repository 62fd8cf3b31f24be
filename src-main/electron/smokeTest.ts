/**
 * `electron . --smoke-test` (or the packaged binary with the flag): start the core, open
 * the window, wait for the dashboard to render, check `/health`, write a JSON report and
 * exit 0, or non-zero with the reason. This file is the logic (steps, timeout, report);
 * main.ts supplies the Electron steps. No Electron import here, so it is tested under Node.
 *
 *   --smoke-test                 run the smoke test
 *   --smoke-report=<file>        where the JSON report goes (default: smoke-report.json in the temp folder)
 *   --smoke-timeout=<ms>         whole-run limit (default 120000)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export interface SmokeOptions {
  reportPath: string;
  timeoutMs: number;
}

export interface SmokeStep {
  name: string;
  ok: boolean;
  ms: number;
  /** What the step saw (a URL, a count) or, when it failed, why. */
  detail: string | null;
}

export interface SmokeReport {
  ok: boolean;
  /** Null when ok; else "<step>: <why>". */
  reason: string | null;
  startedAt: string;
  durationMs: number;
  versions: Record<string, string | undefined>;
  platform: string;
  arch: string;
  steps: SmokeStep[];
}

export interface SmokeStepDefinition {
  name: string;
  /** Resolves with a detail to record, or throws with the reason. */
  run: () => Promise<string | undefined>;
}

export const DEFAULT_SMOKE_TIMEOUT_MS = 120_000;

/** The smoke-test options from the command line, or null when it is a normal launch. */
export function parseSmokeArgs(argv: readonly string[], cwd = process.cwd()): SmokeOptions | null {
  if (!argv.includes("--smoke-test")) return null;
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const report = value("smoke-report");
  const timeout = Number(value("smoke-timeout") ?? DEFAULT_SMOKE_TIMEOUT_MS);
  return {
    reportPath: report ? resolve(cwd, report) : join(tmpdir(), "maas-base-smoke-report.json"),
    timeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_SMOKE_TIMEOUT_MS,
  };
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";

/**
 * Runs the steps in order and stops at the first failure. The whole run has one time
 * limit; a step still running when it passes fails with "timed out after … ms".
 */
export async function runSmokeSteps(
  steps: readonly SmokeStepDefinition[],
  options: { timeoutMs: number; versions?: Record<string, string | undefined>; now?: () => number },
): Promise<SmokeReport> {
  const now = options.now ?? Date.now;
  const started = now();
  const deadline = started + options.timeoutMs;
  const done: SmokeStep[] = [];
  let reason: string | null = null;
  for (const step of steps) {
    const stepStart = now();
    let timer: NodeJS.Timeout | undefined;
    const remaining = Math.max(0, deadline - stepStart);
    try {
      const detail = await Promise.race([
        step.run(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${options.timeoutMs} ms`)), remaining);
        }),
      ]);
      done.push({ name: step.name, ok: true, ms: now() - stepStart, detail: detail ?? null });
    } catch (error) {
      const why = message(error) || "failed";
      done.push({ name: step.name, ok: false, ms: now() - stepStart, detail: why });
      reason = `${step.name}: ${why}`;
      break;
    } finally {
      clearTimeout(timer);
    }
  }
  return {
    ok: reason === null,
    reason,
    startedAt: new Date(started).toISOString(),
    durationMs: now() - started,
    versions: options.versions ?? {},
    platform: process.platform,
    arch: process.arch,
    steps: done,
  };
}

/** 0 when every step passed, 1 otherwise. */
export function smokeExitCode(report: SmokeReport): number {
  return report.ok ? 0 : 1;
}

/** Writes the report (creating its folder) and returns the one line to print. */
export function writeSmokeReport(path: string, report: SmokeReport): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return report.ok
    ? `smoke test passed in ${report.durationMs} ms (${report.steps.length} steps); report: ${path}`
    : `smoke test FAILED (${report.reason}); report: ${path}`;
}

/** Polls `probe` until it returns a non-null detail, or throws with the last thing it saw. */
export async function waitUntil(
  what: string,
  probe: () => Promise<string | null>,
  { intervalMs = 250, timeoutMs = 60_000 }: { intervalMs?: number; timeoutMs?: number } = {},
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing yet";
  for (;;) {
    try {
      const seen = await probe();
      if (seen !== null) return seen;
    } catch (error) {
      last = message(error);
    }
    if (Date.now() >= deadline) throw new Error(`${what} not seen within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
