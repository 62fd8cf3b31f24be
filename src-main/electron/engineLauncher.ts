/**
 * The desktop shell's way to start engine processes: Electron's `utilityProcess`, so a
 * model that aborts, segfaults or hangs takes down its own process only, never the main
 * process with the window and the tray. The core takes any launcher of this shape
 * (`createCore({ launcher })`); under `serve` it uses `child_process.fork`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

import type { EngineChild, EngineLauncher } from "../core/engine/process/launcher.js";

export type { EngineChild, EngineLauncher };

/** The parts of Electron's `utilityProcess` this uses (the real module is passed in by main.ts). */
export interface UtilityProcessLike {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
  on(event: "exit", listener: (code: number) => void): unknown;
  on(event: "error", listener: (type: string, location: string, report: string) => void): unknown;
}

export type Fork = (
  modulePath: string,
  args: string[],
  options: { env: Record<string, string>; execArgv?: string[]; stdio: "pipe"; serviceName: string },
) => UtilityProcessLike;

/** The engine process's entry, emitted beside the main bundle (electron.vite.config.ts). */
export function engineEntry(mainDir: string): string {
  return join(mainDir, "engine.js");
}

/** Wraps one utility process in the core's `EngineChild` shape. */
export function wrapUtilityProcess(child: UtilityProcessLike): EngineChild {
  let exited: { code: number | null } | null = null;
  let killed = false;
  const exitListeners: Array<(code: number | null, signal: string | null) => void> = [];
  const outputListeners: Array<(text: string) => void> = [];
  const emitOutput = (text: string) => {
    for (const listener of outputListeners) listener(text);
  };
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding?.("utf8");
    stream?.on("data", (chunk: string | Buffer) => emitOutput(String(chunk)));
  }
  // A V8 fatal error has no stderr of its own: report it as output, the exit follows.
  child.on("error", (type, location) => emitOutput(`engine process error: ${type} at ${location}\n`));
  child.on("exit", (code) => {
    // utilityProcess reports an exit code only; a kill() we asked for reads as SIGKILL, like the Node launcher's.
    exited = { code: killed ? null : code };
    for (const listener of exitListeners) listener(exited.code, killed ? "SIGKILL" : null);
  });
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => {
      if (!exited) child.postMessage(message);
    },
    onMessage: (listener) => {
      child.on("message", listener);
    },
    onExit: (listener) => {
      // A listener added after the exit still hears of it.
      if (exited) listener(exited.code, killed ? "SIGKILL" : null);
      else exitListeners.push(listener);
    },
    onOutput: (listener) => {
      outputListeners.push(listener);
    },
    kill: () => {
      if (exited) return;
      killed = true;
      child.kill();
    },
  };
}

/** The launcher main.ts hands to `createCore`: `utilityProcess.fork` of the engine entry. */
export function createUtilityLauncher(fork: Fork, entry: string): EngineLauncher {
  return {
    kind: "electron-utility",
    start({ name, args, env, execArgv }) {
      if (!existsSync(entry)) throw new Error(`the engine process entry is missing: ${entry}`);
      return wrapUtilityProcess(
        fork(entry, args, {
          env,
          ...(execArgv ? { execArgv } : {}),
          stdio: "pipe",
          serviceName: `MaaS-Base engine: ${name}`,
        }),
      );
    },
  };
}
