import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cpuKernelsCmakeOptions, PORTABLE } from "../src-main/core/engine/cpuKernels.js";
import { cmakeOptionsFolderHash } from "../src-main/core/engine/engineInfo.js";

/**
 * What the installer carries of node-llama-cpp, decided by electron-builder's own file
 * matcher (app-builder-lib, the code `npm run dist` runs) on `electron-builder.yml`:
 * packaging downloads Electron, so it cannot run here, but which files it takes can be.
 */
const root = join(import.meta.dirname, "..");
const require = createRequire(import.meta.url);
const { FileMatcher } = require("app-builder-lib/out/fileMatcher.js") as {
  FileMatcher: new (
    from: string,
    to: string,
    expand: (s: string) => string,
  ) => {
    addPattern(p: string): void;
    prependPattern(p: string): void;
    createFilter(): (file: string, stat: { isDirectory(): boolean }) => boolean;
  };
};
const yaml = require("js-yaml") as { load(text: string): { files: string[] } };
const config = yaml.load(readFileSync(join(root, "electron-builder.yml"), "utf8"));

/** electron-builder's node_modules filter for a Linux build (only the `!` patterns apply there, after `**\/*`). */
function shipsOnLinux(relative: string): boolean {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: electron-builder's own macro syntax
  const matcher = new FileMatcher(root, "/app", (s) => s.replaceAll("${os}", "linux"));
  for (const pattern of config.files) if (pattern.startsWith("!")) matcher.addPattern(pattern);
  matcher.prependPattern("**/*");
  const filter = matcher.createFilter();
  return filter(join(root, relative), { isDirectory: () => false });
}

describe("the installer's engine", () => {
  it("is the prebuilt engine with every CPU variant and the portable kernels build, never this machine's builds", () => {
    const prebuilt = "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64";
    for (const variant of ["haswell", "icelake", "sapphirerapids", "x64"]) {
      expect(shipsOnLinux(`${prebuilt}/libggml-cpu-${variant}.so`), variant).toBe(true);
    }
    expect(shipsOnLinux(`${prebuilt}/llama-addon.node`)).toBe(true);
    expect(shipsOnLinux("node_modules/node-llama-cpp/dist/index.js")).toBe(true);
    // A local build is tuned to the build machine's CPU (-march=native): it stays behind,
    // and so does a CPU kernels build made for it.
    expect(shipsOnLinux("node_modules/node-llama-cpp/llama/localBuilds/linux-x64-3f2a/Release/llama-addon.node")).toBe(false);
    const kernelsFor = (variant: string) => `linux-x64-${cmakeOptionsFolderHash(cpuKernelsCmakeOptions(variant))}`;
    expect(
      shipsOnLinux(`node_modules/node-llama-cpp/llama/localBuilds/${kernelsFor("haswell")}/Release/libggml-cpu-haswell.so`),
    ).toBe(false);
    // The portable CPU kernels build ships, all of it.
    const portable = `node_modules/node-llama-cpp/llama/localBuilds/${kernelsFor(PORTABLE)}`;
    for (const file of [
      "buildDone.status",
      "Release/llama-addon.node",
      "Release/libggml-cpu-haswell.so",
      "Release/_nlcBuildMetadata.json",
    ]) {
      expect(shipsOnLinux(`${portable}/${file}`), file).toBe(true);
    }
    expect(shipsOnLinux("node_modules/node-llama-cpp/llama/lastBuild.json")).toBe(false);
    // So do the sources it was built from, and other platforms' binaries.
    expect(shipsOnLinux("node_modules/node-llama-cpp/llama/gitRelease.bundle")).toBe(false);
    expect(shipsOnLinux("node_modules/node-llama-cpp/llama/llama.cpp/ggml/src/ggml.c")).toBe(false);
    expect(shipsOnLinux("node_modules/@node-llama-cpp/win-x64/bins/win-x64/llama-addon.node")).toBe(false);
    expect(shipsOnLinux("node_modules/@node-llama-cpp/mac-arm64-metal/bins/mac-arm64-metal/llama-addon.node")).toBe(false);
  });
});
