#!/usr/bin/env node
// Prepares better-sqlite3 for the installed Electron, beside (never over) the Node build
// that `npm install` made: a prebuilt addon for Electron's ABI where one can be fetched,
// else a compile against Electron's headers with node-gyp. Both work on a copy of the
// package in a temporary folder, so node_modules/better-sqlite3/build is never touched.
// The result: native/electron/better_sqlite3.node + build.json (what it was built for),
// loaded through better-sqlite3's `nativeBinding` option (src-main/core/db/nativeBinding.ts).
//
//   node scripts/prepare-electron-native.mjs      one line of progress, exit 0 when ready
//
// Overrides (tests, mirrors): MAAS_BASE_NATIVE_DIR (output folder),
// MAAS_BASE_PREBUILT_HOST (where prebuilt addons are downloaded from),
// MAAS_BASE_ELECTRON_HEADERS_URL (node-gyp's --dist-url), MAAS_BASE_NATIVE_NO_COMPILE=1.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { join, sep } from "node:path";
import { pathToFileURL } from "node:url";

const root = join(import.meta.dirname, "..");
const require = createRequire(join(root, "package.json"));

const BINDING_FILE = "better_sqlite3.node";
const META_FILE = "build.json";

/** Where the Electron build goes. */
export function nativeDir(env = process.env) {
  return env.MAAS_BASE_NATIVE_DIR || join(root, "native", "electron");
}

function packageVersion(name) {
  return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
}

/** What the build must match: the installed Electron, this platform and arch. */
export function wanted() {
  const electron = packageVersion("electron");
  return {
    electron,
    abi: require("node-abi").getAbi(electron, "electron"),
    sqlite: packageVersion("better-sqlite3"),
    platform: process.platform,
    arch: process.arch,
  };
}

/** True when the folder holds an addon built for `want`. */
export function isPrepared(dir, want) {
  try {
    const meta = JSON.parse(readFileSync(join(dir, META_FILE), "utf8"));
    return (
      existsSync(join(dir, BINDING_FILE)) &&
      meta.electron === want.electron &&
      meta.sqlite === want.sqlite &&
      meta.platform === want.platform &&
      meta.arch === want.arch
    );
  } catch {
    return false;
  }
}

/** The last line of a tool's output that says something (for the one-line reason). */
function lastWords(output) {
  const lines = String(output ?? "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  // node-gyp's cause is the first `Error:` of its stack; prebuild-install's, its last warning.
  const cause = lines.find((l) => /^gyp ERR! stack \w*Error: /.test(l));
  if (cause) return cause.replace(/^gyp ERR! stack /, "");
  const telling = lines.filter((l) => /error|ERR!|fail|refused|ENOTFOUND|EAI_AGAIN|timed out|404|not found/i.test(l));
  return (telling.at(-1) ?? lines.at(-1) ?? "no output").replace(/^(gyp ERR!|prebuild-install (warn|info|err!?))\s*/i, "");
}

/**
 * The environment for the build tools without the npm_config_* values that would point
 * them elsewhere: under `npm run`/`npx`, npm sets e.g. npm_config_nodedir to Node's own
 * headers, and node-gyp would then compile for Node while we asked for Electron.
 */
function toolEnv(env) {
  const steering =
    /^npm_config_(nodedir|target|runtime|arch|platform|disturl|dist_url|build_from_source|node_gyp|devdir|libc|download)$/i;
  return Object.fromEntries(Object.entries(env).filter(([key]) => !steering.test(key)));
}

/**
 * A build for Electron's ABI cannot load under Node, and says for which ABI it was made:
 * that is the proof it is not Node's build under another name.
 */
function builtFor(addon, abi) {
  const probe = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(addon)})`], { encoding: "utf8", timeout: 30_000 });
  if (probe.status === 0) return `it loads under Node ${process.versions.node}: a Node build, not Electron's`;
  if (!new RegExp(`NODE_MODULE_VERSION ${abi}\\b`).test(probe.stderr))
    return `not built for ABI ${abi}: ${lastWords(probe.stderr)}`;
  return null;
}

function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.error) return { ok: false, output, reason: result.error.code === "ETIMEDOUT" ? "timed out" : result.error.message };
  return { ok: result.status === 0, output, reason: result.status === 0 ? "" : lastWords(output) };
}

/**
 * Prepares the Electron build if it is missing or stale. Returns
 * `{ ok: true, method }` or `{ ok: false, reason }` (one line); never throws for a
 * failed download or compile, and leaves no half-written addon behind.
 */
export function prepareElectronSqlite({ env = process.env, log = () => {} } = {}) {
  const dir = nativeDir(env);
  const want = wanted();
  if (isPrepared(dir, want)) return { ok: true, method: "cached", dir, want };
  const work = mkdtempSync(join(tmpdir(), "maas-electron-sqlite-"));
  const logFile = join(dir, "..", "prepare-electron-native.log");
  const transcript = [];
  try {
    // A copy of the package: its own build/ folder is the only one these tools write.
    const source = join(root, "node_modules", "better-sqlite3");
    const copy = join(work, "better-sqlite3");
    const ownBuild = join(source, "build");
    cpSync(source, copy, { recursive: true, filter: (path) => path !== ownBuild && !path.startsWith(`${ownBuild}${sep}`) });
    const built = join(copy, "build", "Release", BINDING_FILE);
    let method = null;
    let reason = "";

    const host = env.MAAS_BASE_PREBUILT_HOST || "https://github.com/WiseLibs/better-sqlite3/releases/download";
    const asset = `better-sqlite3-v${want.sqlite}-electron-v${want.abi}-${want.platform}-${want.arch}.tar.gz`;
    log(`fetching a prebuilt better-sqlite3 for Electron ${want.electron} (ABI ${want.abi})`);
    const prebuilt = run(
      process.execPath,
      [
        require.resolve("prebuild-install/bin.js"),
        "--runtime=electron",
        `--target=${want.electron}`,
        `--arch=${want.arch}`,
        `--platform=${want.platform}`,
        `--download=${host}/v${want.sqlite}/${asset}`,
        "--verbose",
      ],
      { cwd: copy, timeout: 120_000, env: toolEnv(env) },
    );
    transcript.push("$ prebuild-install", prebuilt.output);
    if (prebuilt.ok && existsSync(built)) method = "prebuilt";
    else reason = `no prebuilt addon (${prebuilt.reason})`;

    if (!method && env.MAAS_BASE_NATIVE_NO_COMPILE !== "1") {
      log(`compiling better-sqlite3 against Electron ${want.electron}'s headers`);
      const compiled = run(
        process.execPath,
        [
          require.resolve("node-gyp/bin/node-gyp.js"),
          "rebuild",
          "--release",
          `--target=${want.electron}`,
          `--arch=${want.arch}`,
          `--dist-url=${env.MAAS_BASE_ELECTRON_HEADERS_URL || "https://electronjs.org/headers"}`,
          `--devdir=${join(homedir(), ".electron-gyp")}`,
        ],
        { cwd: copy, timeout: 20 * 60_000, env: toolEnv(env) },
      );
      transcript.push("$ node-gyp rebuild", compiled.output);
      if (compiled.ok && existsSync(built)) method = "compiled";
      else reason = `${reason}; no compile (${compiled.reason})`;
    }
    if (!method) return { ok: false, reason, dir, want, logFile: writeLog(logFile, transcript) };
    const wrong = builtFor(built, want.abi);
    if (wrong)
      return {
        ok: false,
        reason: `the ${method} addon is unusable: ${wrong}`,
        dir,
        want,
        logFile: writeLog(logFile, transcript),
      };

    // Into place in one rename, so a reader never sees half an addon.
    mkdirSync(dir, { recursive: true });
    const staged = join(dir, `.${BINDING_FILE}.${process.pid}`);
    cpSync(built, staged);
    renameSync(staged, join(dir, BINDING_FILE));
    writeFileSync(
      join(dir, META_FILE),
      `${JSON.stringify({ electron: want.electron, abi: want.abi, sqlite: want.sqlite, platform: want.platform, arch: want.arch, method }, null, 2)}\n`,
    );
    return { ok: true, method, dir, want };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error), dir, want };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function writeLog(file, transcript) {
  try {
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, transcript.join("\n"));
    return file;
  } catch {
    return null;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const want = wanted();
  process.stdout.write(`Preparing better-sqlite3 for Electron ${want.electron} (ABI ${want.abi})… `);
  const result = prepareElectronSqlite();
  if (result.ok) process.stdout.write(`ready (${result.method}) in ${result.dir}\n`);
  else {
    process.stdout.write(`failed: ${result.reason}${result.logFile ? ` (details: ${result.logFile})` : ""}\n`);
    process.exit(1);
  }
}
