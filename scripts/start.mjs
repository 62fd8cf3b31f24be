#!/usr/bin/env node
// `npm start`: build, then open the desktop app. Where Electron cannot start (no binary,
// no display) say why in one line and run the headless server with the web UI instead.
// Arguments after `--` go to `maas-base serve` in that case.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);

const build = spawnSync(process.execPath, [join(root, "node_modules", "electron-vite", "bin", "electron-vite.js"), "build"], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"],
});
if (build.status !== 0) {
  console.error("the build failed; see above");
  process.exit(build.status ?? 1);
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

const reason = whyNoElectron();
const child = reason
  ? (() => {
      console.log(`Electron cannot start here (${reason}); serving the web UI instead.`);
      return spawn(process.execPath, [join(root, "bin", "maas-base.mjs"), "serve", ...args], { stdio: "inherit" });
    })()
  : spawn(createRequire(import.meta.url)("electron"), [root], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
