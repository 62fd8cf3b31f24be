// The CPU kernels build: node-llama-cpp's prebuilt engine, with the one CPU backend
// library llama.cpp picks for this CPU (`libggml-cpu-haswell.so`, …) compiled again
// here, from the same bundled source, by this machine's compiler.
//
// Why: the prebuilt libraries are compiled by GCC 11, and on an AMD EPYC (Zen 3) its
// F16 matrix kernel (llamafile's tinyBLAS, 72 % of prompt time) spills its accumulators
// to the stack on every loop iteration; GCC 12 keeps them in registers. Measured here,
// prompt evaluation went from ~155 to ~350 tok/s, as fast as the full tuned build
// (bench/RESULTS.md, 2026-12-03). Only that library is compiled (~50 s on 2 cores,
// against ~8 min for the full build), with the prebuilt's own cmake configuration but
// `-mtune=native`, so a fresh install leaves the slow kernel within a minute.
//
// The result is a node-llama-cpp local build folder whose build options carry one
// marker (`MAAS_CPU_KERNELS=<variant>`): the prebuilt files, hard-linked, with the
// rebuilt library in place of the prebuilt one. node-llama-cpp loads it like any local
// build (`engineBuildOptions()` in llama.ts); the marker is never passed to cmake.

import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

import {
  type BuildStepOptions,
  CPU_KERNELS_OPTION,
  cmakeOptionsFolderHash,
  nodeLlamaCppDir,
  prebuiltBeatsTunedBuild,
  runBuildStep,
} from "./engineInfo.js";

export { CPU_KERNELS_OPTION };

const require = createRequire(import.meta.url);
const run = promisify(execFile);

/** Where the kernels build applies: node-llama-cpp's prebuilt engine for Linux x64 ships CPU variants. */
export function cpuKernelsSupported(): boolean {
  return process.platform === "linux" && process.arch === "x64";
}

/** The finished CPU kernels build, or null. */
export function findCpuKernelsBuild(dir = safeNodeLlamaCppDir()): { folder: string; variant: string } | null {
  if (!dir) return null;
  const builds = join(dir, "llama", "localBuilds");
  let names: string[];
  try {
    names = readdirSync(builds);
  } catch {
    return null;
  }
  for (const name of names) {
    const folder = join(builds, name);
    if (!existsSync(join(folder, "buildDone.status"))) continue;
    try {
      const meta = JSON.parse(readFileSync(join(folder, "Release", "_nlcBuildMetadata.json"), "utf8"));
      const variant = meta?.buildOptions?.customCmakeOptions?.[CPU_KERNELS_OPTION];
      if (typeof variant === "string" && /^[a-z0-9_]+$/.test(variant)) return { folder, variant };
    } catch {
      // Not ours, or not finished.
    }
  }
  return null;
}

/** The `getLlama()` cmake options that name the kernels build for this variant. */
export function cpuKernelsCmakeOptions(variant: string): Record<string, string> {
  return { [CPU_KERNELS_OPTION]: variant };
}

function safeNodeLlamaCppDir(): string | null {
  try {
    return nodeLlamaCppDir();
  } catch {
    return null;
  }
}

/** The prebuilt engine's folder: `@node-llama-cpp/linux-x64/bins/linux-x64`. */
function prebuiltBinsDir(): string {
  const fromNodeLlamaCpp = createRequire(join(nodeLlamaCppDir(), "package.json"));
  const entry = fromNodeLlamaCpp.resolve("@node-llama-cpp/linux-x64");
  return join(dirname(entry), "..", "bins", "linux-x64");
}

/**
 * Loads the engine in a child process and says what it loaded: node-llama-cpp's build
 * type and the CPU backend library llama.cpp picked. `cmakeOptions` selects a local build.
 */
export async function probeEngine(cmakeOptions?: Record<string, string>): Promise<{ build: string; variant: string | null }> {
  const entry = pathToFileURL(require.resolve("node-llama-cpp")).href;
  const script = [
    `const { getLlama } = await import(${JSON.stringify(entry)});`,
    `const { readFileSync } = await import("node:fs");`,
    `const llama = await getLlama({ gpu: false, build: "never", ${cmakeOptions ? `cmakeOptions: ${JSON.stringify(cmakeOptions)}, ` : ""}});`,
    // The CPU library llama.cpp mapped (Linux; elsewhere null).
    `let maps = ""; try { maps = readFileSync("/proc/self/maps", "utf8"); } catch {}`,
    "const variant = /libggml-cpu-([a-z0-9_]+)\\.so/.exec(maps)?.[1] ?? null;",
    "process.stdout.write(JSON.stringify({ build: llama.buildType, variant }));",
    "process.exit(0);",
  ].join("\n");
  // A file, not `-e`: node-llama-cpp test-loads a prebuilt binary in a child forked with
  // this process's flags, and `--input-type` fails there.
  const dir = mkdtempSync(join(tmpdir(), "maas-engine-probe-"));
  try {
    const file = join(dir, "probe.mjs");
    writeFileSync(file, script);
    const { stdout } = await run(process.execPath, [file], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" },
      timeout: 120_000,
    });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "{}");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The distribution as node-llama-cpp names it in build metadata (os-release NAME and VERSION_ID). */
export function linuxPlatformInfo(files = ["/etc/os-release", "/usr/lib/os-release"]): { name: string; version: string } {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const values = new Map<string, string>();
    for (const line of text.split("\n")) {
      const at = line.indexOf("=");
      if (at < 1) continue;
      const value = line.slice(at + 1);
      values.set(line.slice(0, at).toLowerCase(), value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
    }
    return { name: values.get("name") ?? "", version: values.get("version_id") ?? values.get("version") ?? "" };
  }
  return { name: "", version: "" };
}

/** Hard-links a file (same filesystem), else copies it. */
function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/**
 * Builds the CPU kernels for this machine (see `CPU_KERNELS_OPTION`). Steps: ask the
 * prebuilt engine which CPU variant it loads here; clone the bundled llama.cpp source
 * into a temporary folder; configure it as node-llama-cpp's prebuilt is configured
 * (all CPU variants, backends loaded at run time, no OpenMP) and compile that one
 * variant; put it beside the prebuilt files in a local build folder; load it in a child
 * process to check that llama.cpp picks it. Only then is the folder marked done.
 * Resolves with 0 on success, non-zero otherwise (the reason in the lines).
 */
export async function buildCpuKernels(options: BuildStepOptions): Promise<number> {
  const say = options.onLine;
  if (!cpuKernelsSupported()) {
    say(`CPU kernels build: only for Linux x64 (this is ${process.platform} ${process.arch})`);
    return 1;
  }
  const amx = prebuiltBeatsTunedBuild();
  if (amx) {
    // The prebuilt library for such a CPU (sapphirerapids) is built with AMX.
    say(`CPU kernels build: not here, ${amx}`);
    return 1;
  }
  const nlc = nodeLlamaCppDir();
  // A marker no build folder has: node-llama-cpp falls back to its prebuilt engine.
  const prebuilt = await probeEngine(cpuKernelsCmakeOptions("none"));
  const variant = prebuilt.variant;
  if (prebuilt.build !== "prebuilt" || !variant) {
    say(`CPU kernels build: the prebuilt engine loads no CPU variant here (${JSON.stringify(prebuilt)})`);
    return 1;
  }
  say(`CPU kernels build: the prebuilt engine loads libggml-cpu-${variant}.so here; compiling it again`);
  const work = mkdtempSync(join(tmpdir(), "maas-cpu-kernels-"));
  let compiler: string | null = null;
  const options_ = {
    ...options,
    cwd: work,
    onLine: (line: string) => {
      compiler ??= /The CXX compiler identification is (.+)$/.exec(line)?.[1] ?? null;
      say(line);
    },
  };
  const folder = join(nlc, "llama", "localBuilds", `linux-x64-${cmakeOptionsFolderHash(cpuKernelsCmakeOptions(variant))}`);
  try {
    const source = join(work, "llama.cpp");
    // The source node-llama-cpp's prebuilt was made from. Its patches (llama/patches)
    // touch llama's model loader, not ggml's CPU backend.
    let code = await runBuildStep("git", ["clone", "-q", join(nlc, "llama", "gitRelease.bundle"), source], options_);
    if (code !== 0) return code;
    const build = join(work, "build");
    code = await runBuildStep(
      "cmake",
      [
        "-S",
        source,
        "-B",
        build,
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=ON",
        // The prebuilt libraries have unversioned sonames (libggml-base.so).
        "-DCMAKE_PLATFORM_NO_VERSIONED_SONAME=ON",
        "-DGGML_NATIVE=OFF",
        "-DGGML_CPU_ALL_VARIANTS=ON",
        "-DGGML_BACKEND_DL=ON",
        "-DGGML_OPENMP=OFF",
        "-DGGML_CCACHE=OFF",
        // The variant sets the instruction set; this machine's scheduling model is worth
        // another ~15 % of prompt speed on top of the newer compiler here.
        "-DCMAKE_C_FLAGS=-mtune=native",
        "-DCMAKE_CXX_FLAGS=-mtune=native",
        "-DLLAMA_CURL=OFF",
        "-DLLAMA_HTTPLIB=OFF",
        "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_TOOLS=OFF",
        "-DLLAMA_BUILD_SERVER=OFF",
      ],
      options_,
    );
    if (code !== 0) return code;
    // The prebuilt libraries are GCC 11's (see above): an older GCC gains nothing.
    const gcc = /^GNU (\d+)\./.exec(compiler ?? "");
    if (gcc && Number(gcc[1]) < 12) {
      say(`CPU kernels build: this machine's compiler is ${compiler}, not newer than the prebuilt engine's GCC 11`);
      return 1;
    }
    const target = `ggml-cpu-${variant}`;
    code = await runBuildStep(
      "cmake",
      ["--build", build, "--target", target, "--parallel", String(Math.max(1, cpus().length))],
      options_,
    );
    if (code !== 0) return code;
    const library = `lib${target}.so`;
    const built = join(build, "bin", library);
    if (!existsSync(built)) {
      say(`CPU kernels build: ${library} was not produced`);
      return 1;
    }

    rmSync(folder, { recursive: true, force: true });
    const release = join(folder, "Release");
    mkdirSync(release, { recursive: true });
    const bins = prebuiltBinsDir();
    for (const name of readdirSync(bins)) {
      // Only the rebuilt CPU library: another variant of equal score could win over it.
      if (/^libggml-cpu-.*\.so$/.test(name) || name === "_nlcBuildMetadata.json") continue;
      linkOrCopy(join(bins, name), join(release, name));
    }
    copyFileSync(built, join(release, library));
    const metadata = JSON.parse(readFileSync(join(bins, "_nlcBuildMetadata.json"), "utf8"));
    metadata.buildOptions.customCmakeOptions = cpuKernelsCmakeOptions(variant);
    // node-llama-cpp test-loads a local build in a child process first unless it was made on this distribution.
    metadata.buildOptions.platformInfo = linuxPlatformInfo();
    writeFileSync(join(release, "_nlcBuildMetadata.json"), JSON.stringify(metadata));
    writeFileSync(join(folder, "buildDone.status"), "");

    const loaded = await probeEngine(cpuKernelsCmakeOptions(variant)).catch((error: unknown) => ({
      build: `failed: ${String(error)}`,
      variant: null,
    }));
    if (loaded.build !== "localBuild" || loaded.variant !== variant) {
      rmSync(folder, { recursive: true, force: true });
      say(`CPU kernels build: the rebuilt library did not load (${JSON.stringify(loaded)}); the prebuilt engine stays in use`);
      return 1;
    }
    say(`CPU kernels build: done; engines load ${library} built here`);
    return 0;
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    say(`CPU kernels build: ${String(error)}`);
    return 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
