#!/usr/bin/env node
// `npm start` (and `npm run dev`, with --dev): open the desktop app. On first use it
// prepares better-sqlite3 for Electron (one line of progress; the Node build stays).
// Where Electron cannot start (no binary, no display, no Electron build of
// better-sqlite3) it says why in one line and runs the headless server with the web
// UI instead. Arguments after `--` go to `maas-base serve` in that case.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { isPrepared, nativeDir, prepareElectronSqlite, wanted } from "./prepare-electron-native.mjs";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const dev = args[0] === "--dev";
if (dev) args.shift();
const electronVite = join(root, "node_modules", "electron-vite", "bin", "electron-vite.js");

function build() {
  const result = spawnSync(process.execPath, [electronVite, "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  if (result.status !== 0) {
    console.error("the build failed; see above");
    process.exit(result.status ?? 1);
  }
}

function whyNoElectron() {
  if (process.env.MAAS_BASE_HEADLESS) return "MAAS_BASE_HEADLESS is set";
  let binary;
  try {
    binary = createRequire(import.meta.url)("electron");
  } catch {
    return "no Electron binary, installed with ELECTRON_SKIP_BINARY_DOWNLOAD";
  }
  if (typeof binary !== "string" || !existsSync(binary)) return "no Electron binary";
  if (process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return "no display";
  return null;
}

/** Null when better-sqlite3 has a build for this Electron (preparing it on first use), else why not. */
function whyNoNativeBuild() {
  const want = wanted();
  if (isPrepared(nativeDir(), want)) return null;
  console.log(`Preparing better-sqlite3 for Electron ${want.electron} (first start only, a minute or a few)…`);
  const result = prepareElectronSqlite();
  if (result.ok) return null;
  return `better-sqlite3 could not be prepared for Electron ${want.electron}: ${result.reason}${result.logFile ? `; details in ${result.logFile}` : ""}`;
}

if (!dev) build();
const reason = whyNoElectron() ?? whyNoNativeBuild();
let child;
if (reason) {
  console.log(`Electron cannot start here (${reason}); serving the web UI instead.`);
  if (dev) build();
  child = spawn(process.execPath, [join(root, "bin", "maas-base.mjs"), "serve", ...args], { stdio: "inherit" });
} else if (dev) {
  child = spawn(process.execPath, [electronVite, "dev"], { cwd: root, stdio: "inherit" });
} else {
  child = spawn(createRequire(import.meta.url)("electron"), [root], { stdio: "inherit" });
}
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
