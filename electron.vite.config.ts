import { existsSync } from "node:fs";
import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "electron-vite";

// The engine process's entry (issue 15): emitted as out/main/engine.js, which the desktop
// shell forks as a utility process (src-main/electron/engineLauncher.ts). Guarded so the
// build works in a checkout that does not have it yet.
const engineEntry = resolve(import.meta.dirname, "src-main/core/engine/process/main.ts");

export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, "src-main/electron/entry.ts"),
          ...(existsSync(engineEntry) ? { engine: engineEntry } : {}),
        },
        // Native modules stay outside the bundle and load from node_modules.
        external: ["node-llama-cpp", "better-sqlite3"],
        // Chunks beside index.js, so paths relative to the main process's own folder hold in every chunk.
        output: { chunkFileNames: "[name]-[hash].js" },
      },
    },
  },
  preload: {
    build: { rollupOptions: { input: { index: resolve(import.meta.dirname, "src-main/preload/index.ts") } } },
  },
  renderer: {
    root: resolve(import.meta.dirname, "src-renderer"),
    build: { rollupOptions: { input: { index: resolve(import.meta.dirname, "src-renderer/index.html") } } },
    plugins: [react()],
  },
});
