import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  chooseNativeBinding,
  findAppRoot,
  MissingElectronBindingError,
  type Runtime,
  sqliteNativeOptions,
} from "./nativeBinding.js";

const meta = (electron: string, platform = "linux", arch = "x64") => JSON.stringify({ electron, platform, arch });
const files = (map: Record<string, string>) => (path: string) => map[path] ?? null;
const electron = (extra: Partial<Runtime> = {}): Runtime => ({
  versions: { node: "24.0.0", electron: "41.7.1" },
  platform: "linux",
  arch: "x64",
  env: {},
  ...extra,
});

describe("the better-sqlite3 binding each runtime loads", () => {
  it("under Node: none given, so better-sqlite3 loads the build npm install made", () => {
    expect(
      chooseNativeBinding({ versions: { node: "20.20.2" }, platform: "linux", arch: "x64", env: {} }, "/app"),
    ).toBeUndefined();
    expect(sqliteNativeOptions()).toEqual({});
  });

  it("in Electron from a checkout: the prepared build in native/electron", () => {
    const read = files({ [join("/repo", "native", "electron", "build.json")]: meta("41.7.1") });
    expect(chooseNativeBinding(electron(), "/repo", read)).toBe(join("/repo", "native", "electron", "better_sqlite3.node"));
  });

  it("in the packaged app: the build shipped in resources, ahead of anything else", () => {
    const read = files({
      [join("/opt/MaaS-Base/resources", "native", "electron", "build.json")]: meta("41.7.1"),
      [join("/repo", "native", "electron", "build.json")]: meta("40.0.0"),
    });
    expect(chooseNativeBinding(electron({ resourcesPath: "/opt/MaaS-Base/resources" }), "/repo", read)).toBe(
      join("/opt/MaaS-Base/resources", "native", "electron", "better_sqlite3.node"),
    );
  });

  it("MAAS_BASE_NATIVE_DIR wins; Electron's own resources folder without a build is skipped", () => {
    const read = files({
      [join("/x", "build.json")]: meta("41.7.1"),
      [join("/repo", "native", "electron", "build.json")]: meta("41.7.1"),
    });
    expect(chooseNativeBinding(electron({ env: { MAAS_BASE_NATIVE_DIR: "/x" } }), "/repo", read)).toBe(
      join("/x", "better_sqlite3.node"),
    );
    expect(chooseNativeBinding(electron({ resourcesPath: "/node_modules/electron/dist/resources" }), "/repo", read)).toBe(
      join("/repo", "native", "electron", "better_sqlite3.node"),
    );
  });

  it("says what to run when there is no build, or one for another Electron, platform or arch", () => {
    expect(() => chooseNativeBinding(electron(), "/repo", files({}))).toThrow(MissingElectronBindingError);
    expect(() => chooseNativeBinding(electron(), "/repo", files({}))).toThrow(
      /No better-sqlite3 build for Electron 41\.7\.1 .*npm start/,
    );
    for (const stale of [meta("40.1.0"), meta("41.7.1", "darwin"), meta("41.7.1", "linux", "arm64")]) {
      const read = files({ [join("/repo", "native", "electron", "build.json")]: stale });
      expect(() => chooseNativeBinding(electron(), "/repo", read)).toThrow(
        /not Electron 41\.7\.1 \(linux-x64\).*prepare it again/,
      );
    }
    const corrupt = files({ [join("/repo", "native", "electron", "build.json")]: "{nope" });
    expect(() => chooseNativeBinding(electron(), "/repo", corrupt)).toThrow(/No better-sqlite3 build/);
  });

  it("finds the app root from the sources, the bundle and an asar", () => {
    const has = (paths: string[]) => (p: string) => paths.includes(p);
    expect(findAppRoot(join("/repo", "src-main", "core", "db"), has([join("/repo", "package.json")]))).toBe("/repo");
    expect(findAppRoot(join("/app.asar", "out", "main"), has([join("/app.asar", "package.json")]))).toBe("/app.asar");
    expect(findAppRoot("/nowhere", has([]))).toBeNull();
  });
});
