/**
 * How engine processes start: the shell's business. Under Node (`serve`, tests)
 * `child_process.fork`; in the desktop app Electron's `utilityProcess.fork`, which
 * the Electron shell implements against this same interface (the core never
 * imports `electron`).
 */
import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One started engine (or inspector) process, as the supervisor sees it. */
export interface EngineChild {
  readonly pid: number | undefined;
  /** Sends one JSON-able message (structured-clone under Electron). */
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  /** The child's stdout and stderr text, as it arrives (llama.cpp's assertion lines land here). */
  onOutput(listener: (text: string) => void): void;
  /** Hard kill (SIGKILL where there are signals). */
  kill(): void;
  /**
   * Optional: whether this child keeps the parent's event loop alive (a CLI command
   * must be able to exit while an idle inspector lingers). Called with `false` when
   * nothing waits on the child, `true` when something does.
   */
  keepAlive?(alive: boolean): void;
}

export interface EngineLauncher {
  /** `"node"` or `"electron-utility"`. */
  readonly kind: string;
  start(options: { name: string; args: string[]; env: Record<string, string>; execArgv?: string[] }): EngineChild;
}

/** Set by bin/build-core.mjs in the bundled server build, whose chunks sit at the build's root: the engine entry from there. */
declare const __MAAS_ENGINE_ENTRY__: string | undefined;

/**
 * The engine entry next to this file: `main.ts` when running from sources (tsx,
 * vitest), `main.js` when running compiled JavaScript.
 */
export function engineEntry(): { path: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const fromSources = here.endsWith(".ts");
  const bundled = typeof __MAAS_ENGINE_ENTRY__ === "string" ? __MAAS_ENGINE_ENTRY__ : undefined;
  const path = fileURLToPath(new URL(bundled ?? (fromSources ? "./main.ts" : "./main.js"), import.meta.url));
  if (!existsSync(path)) throw new Error(`the engine process entry is missing: ${path}`);
  // tsx's loader by file URL: `--import tsx` would be resolved from the working directory.
  return { path, execArgv: fromSources ? ["--import", tsxLoader()] : [] };
}

function tsxLoader(): string {
  const packageJson = createRequire(import.meta.url).resolve("tsx/package.json");
  return pathToFileURL(join(dirname(packageJson), "dist", "loader.mjs")).href;
}

/** Starts engine processes with `child_process.fork` of the engine entry (or of `entry`). */
export function nodeLauncher(options: { entry?: string; execArgv?: string[] } = {}): EngineLauncher {
  return {
    kind: "node",
    start({ args, env, execArgv = [] }) {
      const entry = options.entry ? { path: options.entry, execArgv: options.execArgv ?? [] } : engineEntry();
      const child = fork(entry.path, args, {
        env,
        execArgv: [...entry.execArgv, ...execArgv],
        // stdout/stderr piped so the supervisor can keep the last lines for a crash report.
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        serialization: "json",
      });
      const output: Array<(text: string) => void> = [];
      const forward = (chunk: Buffer) => {
        const text = chunk.toString("utf8");
        for (const listener of output) listener(text);
      };
      child.stdout?.on("data", forward);
      child.stderr?.on("data", forward);
      // A send to a process that just died throws EPIPE asynchronously; the exit handler reports the death.
      child.on("error", () => {});
      return {
        get pid() {
          return child.pid;
        },
        send(message) {
          if (child.connected) child.send(message as object, (error) => void error);
        },
        onMessage(listener) {
          child.on("message", listener);
        },
        onExit(listener) {
          child.on("exit", (code, signal) => listener(code, signal));
        },
        onOutput(listener) {
          output.push(listener);
        },
        kill() {
          child.kill("SIGKILL");
        },
        keepAlive(alive) {
          const handles = [child, child.channel, child.stdout, child.stderr] as Array<
            { ref?(): void; unref?(): void } | null | undefined
          >;
          for (const handle of handles) {
            if (alive) handle?.ref?.();
            else handle?.unref?.();
          }
        },
      };
    },
  };
}
