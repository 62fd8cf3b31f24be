import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "electron-vite";

export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, "src-main/electron/entry.ts") },
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
    build: {
      // A production bundle: minified, pages split into their own chunks (React.lazy in App.tsx).
      minify: true,
      rollupOptions: { input: { index: resolve(import.meta.dirname, "src-renderer/index.html") } },
    },
    plugins: [react()],
  },
});
