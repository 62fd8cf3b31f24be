import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import type { Llama } from "node-llama-cpp";

const require = createRequire(import.meta.url);

/** What `maas-base gpus --json` and `GET /api/admin/engine` report about the engine in use. */
export interface EngineDescription {
  backend: "cpu" | "cuda" | "vulkan" | "metal";
  /** `localBuild`: compiled on this machine by `maas-base engine build`; `prebuilt`: shipped with node-llama-cpp. */
  build: "localBuild" | "prebuilt";
  /** The llama.cpp release the binary was built from. */
  source: string;
  cpuMathCores: number;
  devices: Array<{ name: string; vramTotal: number; vramFree: number }>;
  ram: { total: number; free: number };
}

export async function describeEngine(llama: Llama): Promise<EngineDescription> {
  const gpu = llama.gpu;
  const names = gpu === false ? [] : await llama.getGpuDeviceNames().catch(() => []);
  const vram = gpu === false ? null : await llama.getVramState().catch(() => null);
  const ram = await llama.getRamState();
  return {
    backend: gpu === false ? "cpu" : gpu,
    build: llama.buildType,
    source: llama.llamaCppRelease.release,
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
export function buildEngine(options: { gpu: "auto" | false; onLine: (line: string) => void }): Promise<number> {
  const cli = join(require.resolve("node-llama-cpp/package.json"), "..", "dist", "cli", "cli.js");
  const args = [cli, "source", "download", "--gpu", options.gpu === false ? "false" : "auto"];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "true" } });
    const forward = (chunk: Buffer) => {
      // node-llama-cpp redraws its progress line with ANSI codes; keep the plain text of each line.
      for (const line of stripVTControlCharacters(chunk.toString()).split(/[\r\n]+/)) {
        if (line.trim()) options.onLine(line.trim());
      }
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    child.on("error", reject);
    child.on("exit", (code) => resolvePromise(code ?? 1));
  });
}
