// The `maas-base` bin runs the core compiled to JavaScript (bin/build-core.mjs), built by
// `npm install` and again on the next start when the sources changed.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { measureStartup } from "../bench/startup.js";
// @ts-expect-error -- a plain .mjs script without type declarations
import { coreBuildDir } from "../bin/build-core.mjs";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const BIN = join(root, "bin", "maas-base.mjs");

describe("compiled CLI", () => {
  it("npm run build:core compiles the core to dist/core-<fingerprint>/", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "build:core"], { cwd: root });
    const dir: string = coreBuildDir();
    expect(stdout).toContain(`core built in dist/${dir.split("/").pop()}`);
    // The server's start path as one bundle; engine processes run the per-file output.
    expect(existsSync(join(dir, "cli.bundle.js"))).toBe(true);
    expect(existsSync(join(dir, "engine", "process", "main.js"))).toBe(true);
    expect(existsSync(join(dir, "engine", "engineInfo.js"))).toBe(true);
    expect(existsSync(join(dir, "cli.test.js"))).toBe(false);
  });

  it("the server's start path imports no node-llama-cpp (engine processes alone load it)", () => {
    // Follow the bundle's static imports (not lazy `import()`s) from cli.bundle.js: none may reach
    // node-llama-cpp, which costs ~350 ms and tens of MB at every start (a pure helper imported from
    // ModelPool.ts once pulled it in).
    const dir: string = coreBuildDir();
    const seen = new Set<string>();
    const reaches: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(dir, file), "utf8");
      for (const [, from] of text.matchAll(/^import\s+(?:[^"';]*?\s+from\s+)?"([^"]+)";?$/gm)) {
        if (from === undefined) continue;
        if (from.startsWith("./")) visit(from.slice(2));
        else if (from === "node-llama-cpp" || from.startsWith("@node-llama-cpp/")) reaches.push(file);
      }
    };
    // `serve` and the core are imported lazily by the CLI: start from the chunks that hold them
    // (esbuild names each source in a `// src-main/…` comment) and follow their static imports.
    const starts = readdirSync(dir).filter((f) => {
      if (!f.endsWith(".js")) return false;
      const text = readFileSync(join(dir, f), "utf8");
      return /^\/\/ src-main\/core\/(index|cli\/serve)\.ts$/m.test(text);
    });
    expect(starts.length).toBeGreaterThan(0);
    for (const f of ["cli.bundle.js", ...starts]) visit(f);
    expect(reaches).toEqual([]);
  });

  it("rebuilds on the next start when a source file changed", async () => {
    const source = join(root, "src-main", "core", "errors.ts");
    const { atime, mtime } = statSync(source);
    const before: string = coreBuildDir();
    try {
      utimesSync(source, atime, new Date(mtime.getTime() + 1000));
      const after: string = coreBuildDir();
      expect(after).not.toBe(before);
      const { stdout } = await run(process.execPath, [BIN, "--help"], { cwd: root });
      expect(stdout).toContain("Usage: maas-base");
      expect(existsSync(join(after, "cli.bundle.js"))).toBe(true);
    } finally {
      utimesSync(source, atime, mtime);
    }
  });

  it("serve with no models answers /health and reports its idle memory", { timeout: 120_000 }, async () => {
    // Timing targets (≤ 600 ms, ≤ 120 MB) are measured by `npm run bench:startup`, not asserted on a shared machine.
    const sample = await measureStartup(BIN, 500);
    expect(sample.healthMs).toBeGreaterThan(0);
    expect(sample.rssMb).toBeGreaterThan(10);
  });
});
