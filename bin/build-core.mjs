#!/usr/bin/env node
// Compiles the headless core (src-main/core, no tests) to plain JavaScript with esbuild
// (installed with tsx), one output file per source file, into dist/core-<fingerprint>/.
// `npm install` / `npm ci` run it (`prepare`); bin/maas-base.mjs runs it again when the
// sources changed since (a stat of each file, a few ms), so the CLI never compiles
// TypeScript at start as tsx did (~3 s). Types are checked by `npm run typecheck`, not here.
//
// The fingerprint names the folder, so a build is written once and never changed in place:
// several processes starting at once each see a whole build (the loser of a race drops its
// copy). dist/core-<fingerprint>/config.js sits two levels below the checkout, as
// src-main/core/config.ts does, so paths relative to the sources hold.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = join(root, "src-main", "core");
const distDir = join(root, "dist");
/** Bump when the build itself changes, so old outputs are not reused. */
const BUILD_VERSION = "3";

function sources(dir = sourceDir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sources(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") && !entry.name.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

/** The folder the current sources compile to (whether or not it exists yet). */
export function coreBuildDir(files = sources()) {
  const hash = createHash("sha1").update(BUILD_VERSION);
  for (const file of [...files].sort()) {
    const stat = statSync(file);
    hash.update(`${relative(sourceDir, file).split(sep).join("/")}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  return join(distDir, `core-${hash.digest("hex").slice(0, 16)}`);
}

/** Older builds are removed once they are a while old (a process may still be importing from one lazily). */
function removeOldBuilds(keep) {
  const hour = 60 * 60 * 1000;
  for (const name of readdirSync(distDir)) {
    const path = join(distDir, name);
    if (!name.startsWith("core-") || path === keep) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > hour) rmSync(path, { recursive: true, force: true });
    } catch {
      // Another process removed it first.
    }
  }
}

/** Builds the core unless the current sources are built already; resolves with the folder holding cli.bundle.js (and the per-file build). */
export async function ensureCoreBuild() {
  const files = sources();
  const out = coreBuildDir(files);
  if (existsSync(join(out, "cli.bundle.js"))) return out;
  const { build } = await import("esbuild");
  mkdirSync(distDir, { recursive: true });
  const staging = `${out}.tmp-${process.pid}`;
  await build({
    entryPoints: files,
    outdir: staging,
    outbase: sourceDir,
    // Paths in the output (its `// src-main/…` comments, the source maps) relative to the
    // package, not to wherever the first start after a change ran from.
    absWorkingDir: root,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    logLevel: "warning",
  });
  // The server's start path as one bundle (its dependencies inside, lazy imports as chunks at
  // the build's root): a start then resolves and reads a handful of files instead of hundreds,
  // about 40 % less CPU to the first /health. Engine processes and workers run the per-file
  // output above (their entries are found by path); native packages stay outside.
  await build({
    entryPoints: { "cli.bundle": join(sourceDir, "cli.ts") },
    outdir: staging,
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    chunkNames: "chunk-[hash]",
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["better-sqlite3", "node-llama-cpp", "electron"],
    // CommonJS dependencies inside an ES module bundle call `require` for Node's built-ins.
    banner: {
      js: 'import { createRequire as __maasCreateRequire } from "node:module"; const require = __maasCreateRequire(import.meta.url);',
    },
    define: { __MAAS_ENGINE_ENTRY__: JSON.stringify("./engine/process/main.js") },
    sourcemap: "linked",
    logLevel: "warning",
  });
  try {
    renameSync(staging, out);
  } catch {
    // Another process finished the same build first; use theirs.
    rmSync(staging, { recursive: true, force: true });
  }
  removeOldBuilds(out);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const started = performance.now();
  const out = await ensureCoreBuild();
  console.log(`core built in ${relative(root, out)} (${Math.round(performance.now() - started)} ms)`);
}
