import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { setPriority } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import type { Llama } from "node-llama-cpp";

import type { EngineDescription } from "../inference/engineReport.js";

export type { EngineDescription } from "../inference/engineReport.js";

const require = createRequire(import.meta.url);

/** The build option that marks the CPU kernels build (cpuKernels.ts). */
export const CPU_KERNELS_OPTION = "MAAS_CPU_KERNELS";
/**
 * Its value for the portable kernels build (`--portable`): every CPU variant rebuilt, for an
 * installer (electron-builder.yml ships its folder); llama.cpp picks among the rebuilt
 * libraries as among the prebuilt ones.
 */
export const PORTABLE = "portable";

export async function describeEngine(llama: Llama): Promise<EngineDescription> {
  const gpu = llama.gpu;
  const names = gpu === false ? [] : await llama.getGpuDeviceNames().catch(() => []);
  const vram = gpu === false ? null : await llama.getVramState().catch(() => null);
  const ram = await llama.getRamState();
  return {
    backend: gpu === false ? "cpu" : gpu,
    build: llama.buildType,
    cpuKernels:
      llama.buildType === "prebuilt"
        ? "prebuilt"
        : !(CPU_KERNELS_OPTION in llama.cmakeOptions)
          ? "native"
          : llama.cmakeOptions[CPU_KERNELS_OPTION] === PORTABLE
            ? "portable"
            : "rebuilt",
    source: llama.llamaCppRelease.release,
    // A local build may link its CPU backend into the addon itself; it is built for this CPU either way.
    cpuVariant: loadedCpuVariant() ?? (llama.buildType === "localBuild" ? "native" : null),
    cpuMathCores: llama.cpuMathCores,
    // node-llama-cpp reports VRAM for all devices of the backend together; it is split evenly here.
    devices: names.map((name) => ({
      name,
      vramTotal: vram ? Math.round(vram.total / names.length) : 0,
      vramFree: vram ? Math.round(vram.free / names.length) : 0,
    })),
    ram: { total: ram.total, free: ram.free },
  };
}

/**
 * The CPU backend library mapped into this process. The prebuilt package ships one
 * `libggml-cpu-<variant>.so` per CPU family and dlopens the best match at run time;
 * a local build links a single `libggml-cpu.so` compiled with `-march=native`.
 */
export function loadedCpuVariant(maps = "/proc/self/maps"): string | null {
  if (process.platform !== "linux") return null;
  let text: string;
  try {
    text = readFileSync(maps, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const file = basename(line.trim().split(/\s+/).pop() ?? "");
    const variant = /^libggml-cpu-([\w]+)\.so/.exec(file)?.[1];
    if (variant) return variant;
    if (/^libggml-cpu\.so/.test(file)) return "native";
  }
  return null;
}

/**
 * The folder node-llama-cpp is installed in. Its `exports` do not list
 * `package.json`, so resolve the package entry and walk up to the folder whose
 * package.json names it.
 */
export function nodeLlamaCppDir(): string {
  let dir = dirname(require.resolve("node-llama-cpp"));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === "node-llama-cpp") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("node-llama-cpp is not installed (no package folder above its entry)");
    dir = parent;
  }
}

/**
 * `-march=native` turns on AMX on Intel CPUs that have it (Sapphire Rapids and later), and
 * GCC 12 (Debian 12's compiler) miscompiles llama.cpp's AMX kernels: it drops the stores of
 * the tile shapes before `ldtilecfg` (its `_tile_loadconfig` in amxtileintrin.h gives the asm
 * an 8-byte operand for the 64-byte configuration, so the dead-store pass deletes the rest;
 * `-fno-dse` keeps them, but slowed F16 decode by a quarter), so the first quantized matrix
 * multiply faults (SIGILL/SIGSEGV in `ggml_backend_amx_mul_mat`) and every Q4/Q8 model crashed its engine
 * process once the tuned build was in use (bench/RESULTS.md, 2026-12-03). The tuned build
 * therefore leaves AMX out; its AVX-512/VNNI paths remain. The prebuilt binary keeps AMX
 * (its compiler builds it correctly), which is why `serve` builds no tuned engine on a
 * CPU with AMX (`prebuiltBeatsTunedBuild`). Changing these flags changes the build's
 * folder, so an older tuned build (with AMX) is no longer used.
 * They go into the Release flags (with CMake's own -O3 -DNDEBUG) because cmake-js sets
 * CMAKE_CXX_FLAGS itself.
 */
const NO_AMX = "-O3 -DNDEBUG -mno-amx-tile -mno-amx-int8 -mno-amx-bf16";

/**
 * The cmake options our engine builds are made with. `GGML_NATIVE=ON` is llama.cpp's
 * default for a local build anyway; naming it gives the build a folder of its own
 * (`localBuilds/linux-x64-<hash>`): node-llama-cpp holds a lock on a build folder while
 * it compiles, and every `getLlama()` that looks in that folder waits for the lock. With
 * the folder of its own, engines keep loading the prebuilt binary during the build, and
 * load the tuned one (`engineBuildOptions()`) once it is done.
 */
export const TUNED_BUILD_CMAKE_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  GGML_NATIVE: "ON",
  ...(process.arch === "x64" && process.platform !== "win32"
    ? { CMAKE_C_FLAGS_RELEASE: NO_AMX, CMAKE_CXX_FLAGS_RELEASE: NO_AMX }
    : {}),
});

/**
 * Why the prebuilt engine is faster here than a tuned build, or null. On a CPU with AMX
 * the prebuilt binary loads its `sapphirerapids` variant, which uses AMX for quantized
 * models, and a tuned build must leave AMX out (NO_AMX): measured here with Q4_K_M, the
 * prebuilt engine decoded 8 streams at 242 tok/s and the tuned build at 135, with half the
 * time to first token (bench/RESULTS.md, 2026-12-03). The CPU kernels build does not help
 * either: `sapphirerapids` rebuilt by GCC 12 with AMX kept (the tile stores fixed) decoded
 * Q4_K_M at 0.7–0.8 of the prebuilt library and F16 at 1.0 (bench/RESULTS.md, 2026-12-03,
 * fourth session). `maas-base engine build` still builds when asked.
 */
export function prebuiltBeatsTunedBuild(cpuinfo = "/proc/cpuinfo"): string | null {
  if (process.arch !== "x64" || process.platform !== "linux") return null;
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync(cpuinfo, "utf8"))?.[1] ?? "";
    if (/\bamx_int8\b/.test(flags)) {
      return "this CPU has AMX: the prebuilt engine uses it for quantized models, and a local build must leave it out (GCC 12 miscompiles it)";
    }
  } catch {
    // No cpuinfo: nothing known against a build.
  }
  return null;
}

/** The suffix node-llama-cpp gives a build folder for these cmake options (its own hash: SHA-1, bytes in base 36). */
export function cmakeOptionsFolderHash(options: Readonly<Record<string, string>>): string {
  const text = Object.keys(options)
    .sort()
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(options[key] ?? "")}`)
    .join(";");
  return Array.from(createHash("sha1").update(text).digest(), (byte) => byte.toString(36)).join("");
}

/** Whether our tuned build is finished (node-llama-cpp marks a finished build with `buildDone.status`). */
export function hasTunedBuild(dir = nodeLlamaCppDir()): boolean {
  const builds = join(dir, "llama", "localBuilds");
  const suffix = `-${cmakeOptionsFolderHash(TUNED_BUILD_CMAKE_OPTIONS)}`;
  try {
    return readdirSync(builds).some((name) => name.endsWith(suffix) && existsSync(join(builds, name, "buildDone.status")));
  } catch {
    return false;
  }
}

/** node-llama-cpp's own CLI script (`node-llama-cpp source download …`). */
export function nodeLlamaCppCli(): string {
  return join(nodeLlamaCppDir(), "dist", "cli", "cli.js");
}

function onPath(command: string): boolean {
  const exts = process.platform === "win32" ? (process.env.PATHEXT ?? ".EXE").split(";") : [""];
  return (process.env.PATH ?? "").split(delimiter).some((dir) => dir && exts.some((ext) => existsSync(join(dir, command + ext))));
}
/** The tools a local build needs that are missing here (an empty list means it can build). */
export function missingBuildTools(): string[] {
  const missing: string[] = [];
  if (!onPath("cmake")) missing.push("cmake");
  if (process.platform === "win32") {
    if (!onPath("cl") && !onPath("clang-cl")) missing.push("a C++ compiler (Visual Studio Build Tools)");
  } else if (!onPath("c++") && !onPath("g++") && !onPath("clang++")) missing.push("a C++ compiler (g++ or clang++)");
  if (!onPath("git")) missing.push("git");
  return missing;
}

/**
 * Builds node-llama-cpp's native binary from the llama.cpp source it bundles,
 * offline, for this machine's CPU (and GPU when `gpu` is "auto"). From then on
 * node-llama-cpp loads that build instead of the prebuilt one. Progress lines go
 * to `onLine`; resolves with the exit code.
 */
export function buildEngine(options: BuildStepOptions & { gpu: "auto" | false }): Promise<number> {
  return runBuildStep(
    process.execPath,
    [nodeLlamaCppCli(), "source", "download", "--gpu", options.gpu === false ? "false" : "auto"],
    {
      ...options,
      env: {
        CI: "true",
        ...Object.fromEntries(Object.entries(TUNED_BUILD_CMAKE_OPTIONS).map(([k, v]) => [`NODE_LLAMA_CPP_CMAKE_OPTION_${k}`, v])),
      },
    },
  );
}

export interface BuildStepOptions {
  onLine: (line: string) => void;
  /** Aborting kills the build (a server shutting down); resolves with a non-zero code. */
  signal?: AbortSignal;
  /** Run the compilers at the lowest CPU priority, so a build in the background does not slow serving. */
  lowPriority?: boolean;
}

/**
 * Runs one command of a build (node-llama-cpp's CLI, git, cmake), its output lines to
 * `onLine`; resolves with the exit code.
 */
export function runBuildStep(
  command: string,
  args: string[],
  options: BuildStepOptions & { env?: Record<string, string>; cwd?: string },
): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    if (options.signal?.aborted) {
      resolvePromise(1);
      return;
    }
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.cwd ? { cwd: options.cwd } : {}),
      // Under Electron, process.execPath is the app: run it as Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: "1", ...options.env },
      // With an abort signal (the background build), a process group of its own, so an abort
      // stops the compilers cmake started too; without one (the CLI), Ctrl-C reaches them all.
      detached: Boolean(options.signal) && process.platform !== "win32",
    });
    const abort = () => {
      try {
        if (child.pid) process.kill(process.platform === "win32" ? child.pid : -child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    };
    options.signal?.addEventListener("abort", abort, { once: true });
    // Children (cmake, the compilers) inherit the niceness.
    if (options.lowPriority && child.pid) {
      try {
        setPriority(child.pid, 19);
      } catch {
        // Not allowed here: build at normal priority.
      }
    }
    /** Whole lines only: output arrives in chunks that may end mid-line. */
    const lines = () => {
      let rest = "";
      return (chunk: Buffer | null) => {
        const text = rest + (chunk ? chunk.toString() : "");
        const parts = text.split(/[\r\n]+/);
        rest = chunk ? (parts.pop() ?? "") : "";
        // node-llama-cpp redraws its progress line with ANSI codes; keep the plain text of each line.
        for (const line of parts) {
          const plain = stripVTControlCharacters(line).trim();
          if (plain) options.onLine(plain);
        }
      };
    };
    const out = lines();
    const err = lines();
    child.stdout.on("data", out);
    child.stderr.on("data", err);
    child.on("error", (error) => (options.signal?.aborted ? resolvePromise(1) : reject(error)));
    child.on("close", (code) => {
      options.signal?.removeEventListener("abort", abort);
      out(null);
      err(null);
      resolvePromise(options.signal?.aborted ? 1 : (code ?? 1));
    });
  });
}
