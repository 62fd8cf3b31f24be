import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** What the specs get: the running server, keys, and where the fixture models are. */
export interface E2eState {
  url: string;
  adminKey: string;
  signInLink: string;
  /** A key with the management scope only (sign-in makes a session that can chat all the same). */
  managementOnlyKey: string;
  dir: string;
  hubUrl: string;
  pids: number[];
}

const root = resolve(import.meta.dirname, "..");

/** One state file per checkout, so e2e runs in two checkouts at once do not read or delete each other's. */
export const STATE_FILE = join(
  tmpdir(),
  `maas-base-e2e-state-${createHash("sha256").update(root).digest("hex").slice(0, 12)}.json`,
);
const bin = join(root, "bin", "maas-base.mjs");

function firstLine(child: ChildProcess, stream: "stdout" | "stderr", pattern: RegExp, what: string): Promise<string> {
  return new Promise((ok, fail) => {
    let seen = "";
    const timer = setTimeout(() => fail(new Error(`${what} did not start: ${seen}`)), 60_000);
    child[stream]?.on("data", (data) => {
      seen += String(data);
      const match = pattern.exec(seen);
      if (match) {
        clearTimeout(timer);
        ok(match[1] as string);
      }
    });
    child.on("exit", (code) => fail(new Error(`${what} exited with ${code}: ${seen}`)));
  });
}

/** Starts the headless core (with the built web app) on fixture models, and a Hugging Face-like server. */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "maas-e2e-"));
  const modelsDir = join(dir, "models");
  mkdirSync(modelsDir);
  execFileSync(process.execPath, [bin, "fixtures", "--out", modelsDir]);
  const hub = spawn(process.execPath, [join(root, "bin", "run-ts.mjs"), join(root, "e2e", "hub.ts"), dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const hubUrl = await firstLine(hub, "stdout", /(http:\/\/\S+)/, "hub");
  const server = spawn(
    process.execPath,
    [bin, "serve", "--port", "0", "--data-dir", dir, "--models-dir", modelsDir, "--threads", "1", "--cpu", "--no-engine-build"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HF_ENDPOINT: hubUrl },
    },
  );
  server.stdout?.resume();
  const signInLink = firstLine(server, "stderr", /sign-in link[^:]*: (http:\/\/\S+)/, "server");
  const url = await firstLine(server, "stdout", /listening on (http:\/\/\S+)/, "server");
  const link = await signInLink;
  server.stderr?.resume();
  // Keys made after the start, so the first start printed its one-time sign-in link.
  const adminKey = JSON.parse(
    execFileSync(process.execPath, [
      bin,
      "keys",
      "create",
      "--name",
      "e2e",
      "--scope",
      "inference,management",
      "--json",
      "--data-dir",
      dir,
    ]).toString(),
  ).key;
  const managementOnlyKey = JSON.parse(
    execFileSync(process.execPath, [
      bin,
      "keys",
      "create",
      "--name",
      "ops",
      "--scope",
      "management",
      "--json",
      "--data-dir",
      dir,
    ]).toString(),
  ).key;
  const state: E2eState = {
    url,
    adminKey,
    managementOnlyKey,
    signInLink: link,
    dir,
    hubUrl,
    pids: [server.pid ?? 0, hub.pid ?? 0],
  };
  writeFileSync(STATE_FILE, JSON.stringify(state));
}
