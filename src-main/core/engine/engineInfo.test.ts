import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hasTunedBuild, loadedCpuVariant, nodeLlamaCppCli, nodeLlamaCppDir } from "./engineInfo.js";

const dir = mkdtempSync(join(tmpdir(), "maas-base-maps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function maps(...files: string[]): string {
  const path = join(dir, `maps-${files.length}-${Math.random()}`);
  writeFileSync(
    path,
    `${files.map((f, i) => `7f00${i}000-7f00${i}fff r-xp 00000000 08:01 123 ${f}`).join("\n")}\n7ffd-7ffe rw-p 0 0:0 0 [stack]\n`,
  );
  return path;
}

describe("engine info", () => {
  it("finds node-llama-cpp's folder and CLI although its exports do not list package.json", () => {
    expect(existsSync(join(nodeLlamaCppDir(), "package.json"))).toBe(true);
    expect(existsSync(nodeLlamaCppCli())).toBe(true);
  });

  it.runIf(process.platform === "linux")("names the prebuilt CPU variant llama.cpp mapped into the process", () => {
    const path = maps(
      "/x/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so",
      "/x/bins/linux-x64/libggml-cpu-haswell.so",
    );
    expect(loadedCpuVariant(path)).toBe("haswell");
  });

  it.runIf(process.platform === "linux")(
    "calls a single CPU library a native build, and says nothing when none is loaded",
    () => {
      expect(loadedCpuVariant(maps("/x/localBuilds/linux-x64/Release/libggml-cpu.so"))).toBe("native");
      expect(loadedCpuVariant(maps("/usr/lib/libc.so.6"))).toBeNull();
      expect(loadedCpuVariant(join(dir, "missing"))).toBeNull();
    },
  );

  it("tells our finished tuned build from one in progress and from node-llama-cpp's default build", () => {
    const pkg = join(dir, "pkg");
    const builds = join(pkg, "llama", "localBuilds");
    // node-llama-cpp's folders (its getBuildFolderNameForBuildOptions): GGML_NATIVE=ON and, on
    // x64 but Windows, the C/C++ flags that leave AMX out. A tuned build made before those
    // flags (with AMX) is not ours any more: the background build replaces it.
    const withoutAmx = process.arch === "x64" && process.platform !== "win32";
    const tuned = join(
      builds,
      `linux-x64-${withoutAmx ? "4cf11275u6ab6366205u6bz1x1711461ns4n" : "3h2p633521x2pa4v6u392m1i2x1n1k45282b25"}`,
    );
    if (withoutAmx) {
      const withAmx = join(builds, "linux-x64-3h2p633521x2pa4v6u392m1i2x1n1k45282b25");
      mkdirSync(withAmx, { recursive: true });
      writeFileSync(join(withAmx, "buildDone.status"), "");
    }
    expect(hasTunedBuild(pkg)).toBe(false);
    mkdirSync(join(builds, "linux-x64"), { recursive: true });
    writeFileSync(join(builds, "linux-x64", "buildDone.status"), "");
    mkdirSync(tuned, { recursive: true });
    expect(hasTunedBuild(pkg)).toBe(false);
    writeFileSync(join(tuned, "buildDone.status"), "");
    expect(hasTunedBuild(pkg)).toBe(true);
  });
});
