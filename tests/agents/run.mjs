#!/usr/bin/env node
// `npm run test:agents`: installs the pinned clients into tests/agents/node_modules when
// they are missing (their own lock, so the main `npm ci` stays fast), then runs their tests.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const bins = ["claude", "codex", "opencode", "cn"].map((b) => join(here, "node_modules", ".bin", b));
if (!bins.every((b) => existsSync(b))) {
  // `npm install` from the lock rather than `npm ci`: the lock pins every client exactly, but
  // it cannot list opencode's binaries for other platforms (the registry here serves only
  // the one named in package.json), and `npm ci` refuses a lock without them.
  execFileSync(npm, ["install", "--prefix", here, "--no-save", "--no-audit", "--no-fund"], { stdio: "inherit", cwd: root });
}
execFileSync(join(root, "node_modules", ".bin", "vitest"), ["run", "--config", "tests/agents/vitest.config.ts"], {
  stdio: "inherit",
  cwd: root,
});
