import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CPU_KERNELS_OPTION, cpuKernelsCmakeOptions, findCpuKernelsBuild, linuxPlatformInfo } from "./cpuKernels.js";
import { cmakeOptionsFolderHash } from "./engineInfo.js";

const dir = mkdtempSync(join(tmpdir(), "maas-cpu-kernels-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A local build folder as node-llama-cpp lays it out, with these build options. */
function buildFolder(pkg: string, name: string, customCmakeOptions: Record<string, string>, done: boolean): void {
  const release = join(pkg, "llama", "localBuilds", name, "Release");
  mkdirSync(release, { recursive: true });
  writeFileSync(join(release, "_nlcBuildMetadata.json"), JSON.stringify({ buildOptions: { customCmakeOptions } }));
  if (done) writeFileSync(join(release, "..", "buildDone.status"), "");
}

describe("CPU kernels build", () => {
  it("is found by its marker once done, and not in progress, nor another build, nor a hostile marker", () => {
    const pkg = join(dir, "pkg");
    expect(findCpuKernelsBuild(pkg)).toBeNull();
    buildFolder(pkg, "linux-x64", {}, true);
    buildFolder(pkg, "linux-x64-tuned", { GGML_NATIVE: "ON" }, true);
    buildFolder(pkg, "linux-x64-odd", { [CPU_KERNELS_OPTION]: "../../etc" }, true);
    const name = `linux-x64-${cmakeOptionsFolderHash(cpuKernelsCmakeOptions("haswell"))}`;
    buildFolder(pkg, name, cpuKernelsCmakeOptions("haswell"), false);
    expect(findCpuKernelsBuild(pkg)).toBeNull();
    writeFileSync(join(pkg, "llama", "localBuilds", name, "buildDone.status"), "");
    expect(findCpuKernelsBuild(pkg)).toEqual({ folder: join(pkg, "llama", "localBuilds", name), variant: "haswell" });
  });

  it("names the folder as node-llama-cpp does for its build options", () => {
    // node-llama-cpp's getBuildFolderNameForBuildOptions: SHA-1 of "KEY=value" pairs, bytes in base 36.
    expect(cmakeOptionsFolderHash(cpuKernelsCmakeOptions("haswell"))).toBe("3n5q3y5j324y6x4c1l541c16445m4v383v6hg26");
  });

  it("reads the distribution as node-llama-cpp records it in build metadata", () => {
    const file = join(dir, "os-release");
    writeFileSync(file, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n');
    expect(linuxPlatformInfo([join(dir, "missing"), file])).toEqual({ name: "Debian GNU/Linux", version: "12" });
    expect(linuxPlatformInfo([join(dir, "missing")])).toEqual({ name: "", version: "" });
  });
});
