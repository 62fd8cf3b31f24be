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
// It is compiled with OpenMP, which the prebuilt engine lacks. Without it, and with no ggml
// threadpool attached (node-llama-cpp attaches none), every graph computation with two or
// more threads creates its worker threads and joins them again. Measured on an AMD EPYC
// (Zen 4, 2 cores), Q4_K_M, 2 threads, one stream through the API, three runs each way:
// 92–111 tok/s without OpenMP, 157–206 with it; llama-server (OpenMP) 188–235 in the same
// runs (bench/RESULTS.md, 2026-12-04). The OpenMP runtime it links (libgomp) is copied
// beside it, so the folder also loads where GCC's runtime is not installed.
//
// The result is a node-llama-cpp local build folder whose build options carry one
// marker (`MAAS_CPU_KERNELS=<variant>`): the prebuilt files, hard-linked, with the
// rebuilt library in place of the prebuilt one. node-llama-cpp loads it like any local
// build (`engineBuildOptions()` in llama.ts); the marker is never passed to cmake. A file
// of ours in the folder (`KERNELS_REVISION_FILE`) says how it was built: a build made
// before OpenMP is not used, so `serve` builds it again in the background.

import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";

import { writeTinyLlama } from "../fixtures/tinyModels.js";
import {
  type BuildStepOptions,
  CPU_KERNELS_OPTION,
  cmakeOptionsFolderHash,
  hasTunedBuild,
  nodeLlamaCppDir,
  PORTABLE,
  prebuiltBeatsTunedBuild,
  runBuildStep,
  TUNED_BUILD_CMAKE_OPTIONS,
} from "./engineInfo.js";

export { CPU_KERNELS_OPTION, PORTABLE };

const require = createRequire(import.meta.url);
const run = promisify(execFile);

/** Where the kernels build applies: node-llama-cpp's prebuilt engine for Linux x64 ships CPU variants. */
export function cpuKernelsSupported(): boolean {
  return process.platform === "linux" && process.arch === "x64";
}

/** The marker's suffix while a build is checked before use: such a folder is never picked. */
const STAGING = "_staging";

/**
 * How the kernels are built, bumped when that changes what engines get: 2 is OpenMP. A
 * folder without this revision in `KERNELS_REVISION_FILE` is an older build, not used.
 */
export const KERNELS_REVISION = 2;
export const KERNELS_REVISION_FILE = "maasCpuKernels.json";

function kernelsRevision(folder: string): number | null {
  try {
    const revision = JSON.parse(readFileSync(join(folder, KERNELS_REVISION_FILE), "utf8"))?.revision;
    return typeof revision === "number" ? revision : null;
  } catch {
    return null;
  }
}

/** The finished CPU kernels build, or null; one made for this machine before a portable one. */
export function findCpuKernelsBuild(dir = safeNodeLlamaCppDir()): { folder: string; variant: string } | null {
  if (!dir) return null;
  const builds = join(dir, "llama", "localBuilds");
  let names: string[];
  try {
    names = readdirSync(builds);
  } catch {
    return null;
  }
  let portable: { folder: string; variant: string } | null = null;
  for (const name of names) {
    const folder = join(builds, name);
    if (!existsSync(join(folder, "buildDone.status")) || kernelsRevision(folder) !== KERNELS_REVISION) continue;
    try {
      const meta = JSON.parse(readFileSync(join(folder, "Release", "_nlcBuildMetadata.json"), "utf8"));
      const variant = meta?.buildOptions?.customCmakeOptions?.[CPU_KERNELS_OPTION];
      if (typeof variant !== "string" || !/^[a-z0-9_]+$/.test(variant) || variant.endsWith(STAGING)) continue;
      if (variant !== PORTABLE) return { folder, variant };
      portable = { folder, variant };
    } catch {
      // Not ours, or not finished.
    }
  }
  return portable;
}

/** Our local engine builds here: the full tuned build, and the CPU kernels build's marker (a variant, or `portable`). */
export function localEngineBuilds(): { tuned: boolean; kernels: string | null } {
  // node-llama-cpp missing: none (getLlama() will say so).
  const dir = safeNodeLlamaCppDir();
  return { tuned: dir !== null && hasTunedBuild(dir), kernels: findCpuKernelsBuild(dir)?.variant ?? null };
}

/**
 * The `getLlama()` options that load the build engines use (and the bench's node-llama-cpp
 * sides, so they measure the same binary): the full tuned build
 * (`maas-base engine build`) once it is finished, else the CPU kernels build (the
 * background build of `serve`, or `--cpu-kernels`), else none: node-llama-cpp's prebuilt engine.
 */
export function engineBuildOptions(): { cmakeOptions?: Record<string, string> } {
  const builds = localEngineBuilds();
  if (builds.tuned) return { cmakeOptions: { ...TUNED_BUILD_CMAKE_OPTIONS } };
  return builds.kernels ? { cmakeOptions: cpuKernelsCmakeOptions(builds.kernels) } : {};
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

/** What `probeEngine` saw: node-llama-cpp's build type, the CPU library mapped, and each model's greedy tokens. */
export interface EngineProbe {
  build: string;
  variant: string | null;
  /** The OpenMP runtime mapped (its path), or null. */
  openmp?: string | null;
  decoded?: number[][];
}

/**
 * Loads the engine in a child process and says what it loaded: node-llama-cpp's build
 * type and the CPU backend library llama.cpp picked. `cmakeOptions` selects a local build.
 * With `models`, it also decodes each (a prompt of several tokens, so llama.cpp's batched
 * kernels run, then four greedy tokens): a library that faults there fails the probe.
 */
export async function probeEngine(
  cmakeOptions?: Record<string, string>,
  signal?: AbortSignal,
  models: readonly string[] = [],
): Promise<EngineProbe> {
  const entry = pathToFileURL(require.resolve("node-llama-cpp")).href;
  const script = [
    `const { getLlama } = await import(${JSON.stringify(entry)});`,
    `const { readFileSync } = await import("node:fs");`,
    `const llama = await getLlama({ gpu: false, build: "never", ${cmakeOptions ? `cmakeOptions: ${JSON.stringify(cmakeOptions)}, ` : ""}});`,
    // The CPU library llama.cpp mapped (Linux; elsewhere null).
    `let maps = ""; try { maps = readFileSync("/proc/self/maps", "utf8"); } catch {}`,
    "const variant = /libggml-cpu-([a-z0-9_]+)\\.so/.exec(maps)?.[1] ?? null;",
    "const openmp = /\\s(\\/\\S*\\/libgomp\\.so\\.1)$/m.exec(maps)?.[1] ?? null;",
    "const decoded = [];",
    `for (const modelPath of ${JSON.stringify(models)}) {`,
    "  const model = await llama.loadModel({ modelPath });",
    "  const context = await model.createContext({ contextSize: 256 });",
    "  const tokens = [];",
    `  for await (const token of context.getSequence().evaluate(model.tokenize(${JSON.stringify(PROBE_PROMPT)}), { temperature: 0 })) {`,
    "    tokens.push(token);",
    "    if (tokens.length >= 4) break;",
    "  }",
    "  decoded.push(tokens);",
    "  await context.dispose();",
    "  await model.dispose();",
    "}",
    "process.stdout.write(JSON.stringify({ build: llama.buildType, variant, openmp, decoded }));",
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
      ...(signal ? { signal } : {}),
    });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "{}");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Several tokens, so the probe's prompt runs llama.cpp's batched kernels (tinyBLAS for F16, AMX's tiles for Q8_0). */
const PROBE_PROMPT = "The quick brown fox jumps over the lazy dog.";

/**
 * Tiny random-weight llamas, F16 and Q8_0, for the build's check: a rebuilt library must
 * decode both (a miscompiled AMX kernel faults on Q8_0's first batched multiply).
 */
function writeProbeModels(dir: string): string[] {
  return (["f16", "q8_0"] as const).map((type) => {
    const path = join(dir, `probe-${type}.gguf`);
    writeTinyLlama(path, { type, vocabulary: "ascii" });
    return path;
  });
}

/**
 * The platform as node-llama-cpp records it in build metadata, by its own function: a local
 * build made on another distribution is test-loaded in a child process before each use.
 */
async function platformInfo(): Promise<{ name: string; version: string }> {
  const file = join(nodeLlamaCppDir(), "dist", "bindings", "utils", "getPlatformInfo.js");
  const { getPlatformInfo } = (await import(pathToFileURL(file).href)) as {
    getPlatformInfo: () => Promise<{ name: string; version: string }>;
  };
  return getPlatformInfo();
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
 * Builds the CPU kernels (see the top of this file). Steps: ask the prebuilt engine
 * which CPU variant it loads here; clone the bundled llama.cpp source into a temporary
 * folder; configure it as node-llama-cpp's prebuilt is configured (all CPU variants,
 * backends loaded at run time), but with OpenMP, and compile that one variant; put it and
 * its OpenMP runtime beside the prebuilt files in a local build folder, under a staging
 * marker; load it in a child process to check that llama.cpp picks it, with that runtime.
 * Only then does it take the build's place.
 *
 * `portable` (for an installer): every variant the prebuilt engine ships instead, with
 * the compiler's generic tuning, except those with AMX (GCC 12 miscompiles them: the
 * prebuilt ones stay). Resolves with 0 on success, non-zero otherwise (the reason in the lines).
 */
export async function buildCpuKernels(options: BuildStepOptions & { portable?: boolean }): Promise<number> {
  const say = options.onLine;
  const portable = options.portable === true;
  if (!cpuKernelsSupported()) {
    say(`CPU kernels build: only for Linux x64 (this is ${process.platform} ${process.arch})`);
    return 1;
  }
  const amx = portable ? null : prebuiltBeatsTunedBuild();
  if (amx) {
    // The prebuilt library for such a CPU (sapphirerapids) is built with AMX.
    say(`CPU kernels build: not here, ${amx}`);
    return 1;
  }
  const nlc = nodeLlamaCppDir();
  const bins = prebuiltBinsDir();
  // A marker no build folder has: node-llama-cpp falls back to its prebuilt engine.
  const prebuilt = await probeEngine(cpuKernelsCmakeOptions("none"), options.signal);
  if (prebuilt.build !== "prebuilt" || !prebuilt.variant) {
    say(`CPU kernels build: the prebuilt engine loads no CPU variant here (${JSON.stringify(prebuilt)})`);
    return 1;
  }
  const shipped = readdirSync(bins).flatMap((name) => /^libggml-cpu-([a-z0-9_]+)\.so$/.exec(name)?.[1] ?? []);
  const marker = portable ? PORTABLE : prebuilt.variant;
  say(
    portable
      ? `CPU kernels build: compiling the prebuilt engine's ${shipped.length} CPU libraries again, for any x86-64 CPU`
      : `CPU kernels build: the prebuilt engine loads libggml-cpu-${prebuilt.variant}.so here; compiling it again`,
  );
  const work = mkdtempSync(join(tmpdir(), "maas-cpu-kernels-"));
  const probeDir = mkdtempSync(join(tmpdir(), "maas-cpu-kernels-probe-"));
  let compiler: string | null = null;
  /** Each variant's compiler flags, as ggml's cmake prints them. */
  const variantFlags = new Map<string, string>();
  const options_ = {
    ...options,
    cwd: work,
    onLine: (line: string) => {
      compiler ??= /The CXX compiler identification is (.+)$/.exec(line)?.[1] ?? null;
      const added = /Adding CPU backend variant ggml-cpu-([a-z0-9_]+):\s*(.*)$/.exec(line);
      if (added?.[1]) variantFlags.set(added[1], added[2] ?? "");
      say(line);
    },
  };
  const folder = join(nlc, "llama", "localBuilds", `linux-x64-${cmakeOptionsFolderHash(cpuKernelsCmakeOptions(marker))}`);
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
        // Found beside one another, as the prebuilt's are (not in this temporary folder).
        "-DCMAKE_BUILD_RPATH=$ORIGIN",
        "-DCMAKE_BUILD_RPATH_USE_ORIGIN=ON",
        "-DGGML_NATIVE=OFF",
        "-DGGML_CPU_ALL_VARIANTS=ON",
        "-DGGML_BACKEND_DL=ON",
        // Worker threads that persist between graph computations (see the top of this file).
        "-DGGML_OPENMP=ON",
        "-DGGML_CCACHE=OFF",
        // The variant sets the instruction set; this machine's scheduling model is worth
        // another ~15 % of prompt speed on top of the newer compiler here (not for others' CPUs).
        ...(portable ? [] : ["-DCMAKE_C_FLAGS=-mtune=native", "-DCMAKE_CXX_FLAGS=-mtune=native"]),
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
    const variants = portable
      ? shipped.filter((variant) => variantFlags.has(variant) && !/-mamx/.test(variantFlags.get(variant) ?? ""))
      : [prebuilt.variant];
    code = await runBuildStep(
      "cmake",
      [
        "--build",
        build,
        "--target",
        ...variants.map((variant) => `ggml-cpu-${variant}`),
        "--parallel",
        String(Math.max(1, cpus().length)),
      ],
      options_,
    );
    if (code !== 0) return code;
    const libraries = variants.map((variant) => `libggml-cpu-${variant}.so`);
    const missing = libraries.filter((library) => !existsSync(join(build, "bin", library)));
    if (missing.length > 0) {
      say(`CPU kernels build: ${missing.join(", ")} not produced`);
      return 1;
    }
    // The OpenMP runtime the libraries were linked with, copied beside them (their RUNPATH is
    // $ORIGIN). None when the compiler had no OpenMP: ggml then builds without it.
    const openmp = await linkedOpenMpRuntime(join(build, "bin", libraries[0] ?? ""));
    say(
      openmp
        ? `CPU kernels build: OpenMP from ${openmp}`
        : "CPU kernels build: the compiler has no OpenMP; each computation will start its threads",
    );

    if (portable) {
      // Made on this machine, loaded on others: it must not need a newer C or C++ runtime than the prebuilt engine.
      const newer = await newerRuntimeNeeds(
        [...libraries.map((library) => join(build, "bin", library)), ...(openmp ? [openmp] : [])],
        readdirSync(bins)
          .filter((name) => name.endsWith(".so") || name.endsWith(".node"))
          .map((name) => join(bins, name)),
      );
      if (newer) {
        say(
          `CPU kernels build: the rebuilt libraries need ${newer}, newer than the prebuilt engine; build on an older distribution`,
        );
        return 1;
      }
    }

    // Assembled and checked under a staging marker, so no engine loads it before the check;
    // then renamed into place (a build made before is replaced only by one that loads).
    const staging = join(
      nlc,
      "llama",
      "localBuilds",
      `linux-x64-${cmakeOptionsFolderHash(cpuKernelsCmakeOptions(`${marker}${STAGING}`))}`,
    );
    rmSync(staging, { recursive: true, force: true });
    const release = join(staging, "Release");
    mkdirSync(release, { recursive: true });
    for (const name of readdirSync(bins)) {
      // For this machine, the rebuilt CPU library and the prebuilt baseline only (another
      // variant of equal score could win over the rebuilt one; the baseline, which any x86-64
      // runs and every other variant outscores, serves if this CPU ever stops running it).
      // For any machine, the prebuilt libraries not rebuilt (those with AMX).
      const cpuLibrary = /^libggml-cpu-.*\.so$/.test(name);
      const replaced = libraries.includes(name) || (!portable && name !== "libggml-cpu-x64.so");
      if ((cpuLibrary && replaced) || name === "_nlcBuildMetadata.json") continue;
      linkOrCopy(join(bins, name), join(release, name));
    }
    for (const library of libraries) copyFileSync(join(build, "bin", library), join(release, library));
    if (openmp) copyFileSync(openmp, join(release, OPENMP_RUNTIME));
    writeFileSync(join(staging, KERNELS_REVISION_FILE), JSON.stringify({ revision: KERNELS_REVISION }));
    const metadata = JSON.parse(readFileSync(join(bins, "_nlcBuildMetadata.json"), "utf8"));
    metadata.buildOptions.platformInfo = await platformInfo();
    const writeMetadata = (value: string) => {
      metadata.buildOptions.customCmakeOptions = cpuKernelsCmakeOptions(value);
      writeFileSync(join(release, "_nlcBuildMetadata.json"), JSON.stringify(metadata));
    };
    writeMetadata(`${marker}${STAGING}`);
    writeFileSync(join(staging, "buildDone.status"), "");
    // The work folder goes first: the libraries must not need anything from it.
    rmSync(work, { recursive: true, force: true });

    const models = writeProbeModels(probeDir);
    const loaded = await probeEngine(cpuKernelsCmakeOptions(`${marker}${STAGING}`), options.signal, models).catch(
      (error: unknown): EngineProbe => ({ build: `failed: ${String(error)}`, variant: null }),
    );
    // Here llama.cpp must pick the variant the prebuilt engine picks, now from the rebuilt
    // libraries, and decode F16 and Q8_0 with it.
    const decodes = loaded.decoded?.length === models.length && loaded.decoded.every((tokens) => tokens.length > 0);
    // …with the OpenMP runtime copied into the folder, not one found elsewhere.
    const ownOpenMp =
      openmp === null || (loaded.openmp && realpathSync(loaded.openmp)) === realpathSync(join(release, OPENMP_RUNTIME));
    if (loaded.build !== "localBuild" || loaded.variant !== prebuilt.variant || !decodes || !ownOpenMp) {
      rmSync(staging, { recursive: true, force: true });
      say(
        `CPU kernels build: the rebuilt library did not load and decode F16 and Q8_0 with its own OpenMP runtime (${JSON.stringify(loaded)}); the prebuilt engine stays in use`,
      );
      return 1;
    }
    // For the log: the same greedy tokens as the prebuilt engine's (another compiler may round differently).
    const reference = await probeEngine(cpuKernelsCmakeOptions("none"), options.signal, models).catch(() => null);
    const same = JSON.stringify(reference?.decoded) === JSON.stringify(loaded.decoded);
    say(
      `CPU kernels build: decodes F16 and Q8_0 models${same ? ", token for token as the prebuilt engine does" : ` (greedy tokens ${JSON.stringify(loaded.decoded)}, prebuilt ${JSON.stringify(reference?.decoded ?? null)})`}`,
    );
    writeMetadata(marker);
    rmSync(folder, { recursive: true, force: true });
    renameSync(staging, folder);
    say(`CPU kernels build: done (${libraries.join(", ")}); engines here load libggml-cpu-${loaded.variant}.so from it`);
    return 0;
  } catch (error) {
    say(`CPU kernels build: ${String(error)}`);
    return 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
  }
}

/** The OpenMP runtime's file name, as the libraries name it. */
const OPENMP_RUNTIME = "libgomp.so.1";

/** The file `library` loads as its OpenMP runtime here (ldd, from glibc), or null if it needs none. */
async function linkedOpenMpRuntime(library: string): Promise<string | null> {
  const { stdout } = await run("ldd", [library]);
  const path = new RegExp(`^\\s*${OPENMP_RUNTIME.replaceAll(".", "\\.")} => (\\S+)`, "m").exec(stdout)?.[1];
  return path ? realpathSync(path) : null;
}

/**
 * The newest glibc, libstdc++ or libgcc symbol versions `built` needs beyond what any of
 * `reference` needs (objdump, from binutils, which GCC needs anyway), e.g. "GLIBC_2.38", or null.
 */
async function newerRuntimeNeeds(built: string[], reference: string[]): Promise<string | null> {
  const newest = async (files: string[]) => {
    const top = new Map<string, number[]>();
    for (const file of files) {
      const { stdout } = await run("objdump", ["-T", file], { maxBuffer: 64 * 1024 * 1024 });
      for (const [, lib, version] of stdout.matchAll(/\b(GLIBC|GLIBCXX|CXXABI|GCC)_([0-9]+(?:\.[0-9]+)*)\b/g)) {
        const parts = (version ?? "").split(".").map(Number);
        const known = top.get(lib ?? "");
        if (!known || compareVersions(parts, known) > 0) top.set(lib ?? "", parts);
      }
    }
    return top;
  };
  const [ours, theirs] = await Promise.all([newest(built), newest(reference)]);
  for (const [lib, version] of ours) {
    const limit = theirs.get(lib);
    if (!limit || compareVersions(version, limit) > 0) return `${lib}_${version.join(".")}`;
  }
  return null;
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
