/**
 * Which compiled better-sqlite3 addon to load. `npm install` builds it for Node's ABI
 * into node_modules/better-sqlite3/build, and that build stays for the CLI and tests.
 * Electron needs a build for its own ABI, which `scripts/prepare-electron-native.mjs`
 * makes in a folder of its own (`native/electron`, shipped by `npm run dist` as
 * `resources/native/electron`); inside Electron this points better-sqlite3's
 * `nativeBinding` option at it. The core never imports `electron`: it reads
 * `process.versions.electron` and `process.resourcesPath`.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const BINDING_FILE = "better_sqlite3.node";
/** Written beside the addon by the prepare script: what it was built for. */
export const BINDING_META_FILE = "build.json";

export interface BindingMeta {
  electron: string;
  platform: string;
  arch: string;
  /** `prebuilt` (downloaded for Electron's ABI) or `compiled` (node-gyp against Electron's headers). */
  method?: string;
}

export interface Runtime {
  versions: Partial<Record<string, string>>;
  platform: string;
  arch: string;
  /** Electron's resources folder (set in Electron only). */
  resourcesPath?: string;
  env: Record<string, string | undefined>;
}

export class MissingElectronBindingError extends Error {
  override readonly name = "MissingElectronBindingError";
}

/** The folder a source checkout keeps the Electron build in (`<app root>/native/electron`). */
export function checkoutBindingDir(appRoot: string): string {
  return join(appRoot, "native", "electron");
}

/** Walks up from `start` to the folder holding package.json (works from sources, out/main and app.asar). */
export function findAppRoot(start: string, exists: (path: string) => boolean = existsSync): string | null {
  let dir = start;
  for (;;) {
    if (exists(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The addon path for `new Database(file, { nativeBinding })`, or `undefined` under Node
 * (better-sqlite3 then finds its own build). Inside Electron: `MAAS_BASE_NATIVE_DIR`, then
 * the packaged app's resources, then the checkout's `native/electron`; the first folder
 * holding an addon wins, and it must have been built for this Electron, platform and arch.
 */
export function chooseNativeBinding(
  runtime: Runtime,
  appRoot: string | null,
  readFile: (path: string) => string | null = readIfExists,
): string | undefined {
  const electron = runtime.versions.electron;
  if (!electron) return undefined;
  const folders = [
    runtime.env.MAAS_BASE_NATIVE_DIR,
    runtime.resourcesPath ? join(runtime.resourcesPath, "native", "electron") : undefined,
    appRoot ? checkoutBindingDir(appRoot) : undefined,
  ].filter((dir): dir is string => Boolean(dir));
  const want = `Electron ${electron} (${runtime.platform}-${runtime.arch})`;
  for (const dir of folders) {
    const metaText = readFile(join(dir, BINDING_META_FILE));
    if (metaText === null) continue;
    let meta: Partial<BindingMeta>;
    try {
      meta = JSON.parse(metaText) as Partial<BindingMeta>;
    } catch {
      continue;
    }
    if (meta.electron !== electron || meta.platform !== runtime.platform || meta.arch !== runtime.arch) {
      throw new MissingElectronBindingError(
        `The better-sqlite3 build in ${dir} is for Electron ${meta.electron} (${meta.platform}-${meta.arch}), not ${want}. ` +
          "Run `npm start` (or `node scripts/prepare-electron-native.mjs`) to prepare it again.",
      );
    }
    return join(dir, BINDING_FILE);
  }
  throw new MissingElectronBindingError(
    `No better-sqlite3 build for ${want} (looked in ${folders.join(", ") || "no folder"}). ` +
      "Run `npm start` (or `node scripts/prepare-electron-native.mjs`) to prepare it.",
  );
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** The options to give better-sqlite3 in this process. */
export function sqliteNativeOptions(): { nativeBinding?: string } {
  const runtime: Runtime = {
    versions: process.versions,
    platform: process.platform,
    arch: process.arch,
    env: process.env,
    ...((process as { resourcesPath?: string }).resourcesPath
      ? { resourcesPath: (process as { resourcesPath?: string }).resourcesPath }
      : {}),
  };
  if (!runtime.versions.electron) return {};
  const binding = chooseNativeBinding(runtime, findAppRoot(import.meta.dirname));
  return binding ? { nativeBinding: binding } : {};
}
