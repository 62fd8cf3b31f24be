import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  CPU_KERNELS_OPTION,
  cpuKernelsCmakeOptions,
  findCpuKernelsBuild,
  KERNELS_REVISION,
  KERNELS_REVISION_FILE,
  PORTABLE,
} from "./cpuKernels.js";
import { cmakeOptionsFolderHash, nodeLlamaCppDir } from "./engineInfo.js";

const dir = mkdtempSync(join(tmpdir(), "maas-cpu-kernels-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A local build folder as node-llama-cpp lays it out, with these build options (and our kernels revision file). */
function buildFolder(
  pkg: string,
  name: string,
  customCmakeOptions: Record<string, string>,
  done: boolean,
  revision: number | null = KERNELS_REVISION,
): void {
  const release = join(pkg, "llama", "localBuilds", name, "Release");
  mkdirSync(release, { recursive: true });
  writeFileSync(join(release, "_nlcBuildMetadata.json"), JSON.stringify({ buildOptions: { customCmakeOptions } }));
  if (done) writeFileSync(join(release, "..", "buildDone.status"), "");
  if (revision !== null) writeFileSync(join(release, "..", KERNELS_REVISION_FILE), JSON.stringify({ revision }));
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

  it("passes over a kernels build of an older revision (before OpenMP), so it is built again", () => {
    const pkg = join(dir, "pkg-old");
    const builds = join(pkg, "llama", "localBuilds");
    buildFolder(pkg, "linux-x64-first", cpuKernelsCmakeOptions("zen4"), true, null);
    buildFolder(pkg, "linux-x64-older", cpuKernelsCmakeOptions("zen4"), true, KERNELS_REVISION - 1);
    expect(findCpuKernelsBuild(pkg)).toBeNull();
    writeFileSync(join(builds, "linux-x64-older", KERNELS_REVISION_FILE), "not json");
    expect(findCpuKernelsBuild(pkg)).toBeNull();
    writeFileSync(join(builds, "linux-x64-older", KERNELS_REVISION_FILE), JSON.stringify({ revision: KERNELS_REVISION }));
    expect(findCpuKernelsBuild(pkg)).toEqual({ folder: join(builds, "linux-x64-older"), variant: "zen4" });
  });

  it("names the folder as node-llama-cpp does for its build options", async () => {
    // node-llama-cpp's getBuildFolderNameForBuildOptions: its hashString of "KEY=value" pairs.
    const { hashString } = (await import(pathToFileURL(join(nodeLlamaCppDir(), "dist", "utils", "hashString.js")).href)) as {
      hashString: (text: string) => Promise<string>;
    };
    for (const marker of ["haswell", PORTABLE]) {
      expect(cmakeOptionsFolderHash(cpuKernelsCmakeOptions(marker))).toBe(await hashString(`${CPU_KERNELS_OPTION}=${marker}`));
    }
    // The portable folder electron-builder.yml ships.
    expect(cmakeOptionsFolderHash(cpuKernelsCmakeOptions(PORTABLE))).toBe("6r505d2g2b148665r255t14656q2m321323r37");
  });

  it("prefers a build for this machine to a portable one, and never picks one still being checked", () => {
    const pkg = join(dir, "pkg-portable");
    const builds = join(pkg, "llama", "localBuilds");
    buildFolder(pkg, "linux-x64-staging", cpuKernelsCmakeOptions("haswell_staging"), true);
    expect(findCpuKernelsBuild(pkg)).toBeNull();
    buildFolder(pkg, "linux-x64-portable", cpuKernelsCmakeOptions(PORTABLE), true);
    expect(findCpuKernelsBuild(pkg)).toEqual({ folder: join(builds, "linux-x64-portable"), variant: PORTABLE });
    buildFolder(pkg, "linux-x64-zen4", cpuKernelsCmakeOptions("zen4"), true);
    expect(findCpuKernelsBuild(pkg)).toEqual({ folder: join(builds, "linux-x64-zen4"), variant: "zen4" });
  });
});
