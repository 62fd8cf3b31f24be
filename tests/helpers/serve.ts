import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

/** The CLI as a user runs it. */
export const BIN = join(import.meta.dirname, "..", "..", "bin", "maas-base.mjs");

export interface Serving {
  child: ChildProcess;
  url: string;
  /** Everything the server printed so far, stdout and stderr. */
  output: () => string;
}

/**
 * `maas-base serve --port 0 …args` in a child process; resolves once it prints its
 * listening line, rejects (and kills it) if it exits first or does not listen in time.
 */
export function spawnServe(args: string[], timeoutMs = 90_000, env: NodeJS.ProcessEnv = {}): Promise<Serving> {
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += String(d);
  });
  child.stderr?.on("data", (d) => {
    out += String(d);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(check);
      child.kill("SIGKILL");
      reject(new Error(`serve did not start: ${out}`));
    }, timeoutMs);
    const check = setInterval(() => {
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) {
        clearInterval(check);
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => out });
      }
    }, 50);
    child.once("exit", (code) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(Object.assign(new Error(`serve exited with ${code}`), { code, output: out }));
    });
  });
}
