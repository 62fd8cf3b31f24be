/**
 * The app's name and data folder, set before anything reads `userData`: under
 * `npm start` and `npm run dev` Electron would otherwise name the folder after
 * package.json's `name` (maas-base-desktop), while the packaged app and the CLI use
 * MaaS-Base. One function (config.ts `defaultDataDir`) computes it for every shell.
 */
import { defaultDataDir, PRODUCT_NAME } from "../core/config.js";

export interface AppIdentityTarget {
  setName(name: string): void;
  setPath(name: "userData", path: string): void;
}

/** The `userData` folder of the desktop app: the same as the CLI's `--data-dir` default. */
export function desktopDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home?: string,
): string {
  return home === undefined ? defaultDataDir(env, platform) : defaultDataDir(env, platform, home);
}

/** Names the app and pins its data folder; returns the folder. */
export function applyAppIdentity(app: AppIdentityTarget, dataDir: string = desktopDataDir()): string {
  app.setName(PRODUCT_NAME);
  app.setPath("userData", dataDir);
  return dataDir;
}
