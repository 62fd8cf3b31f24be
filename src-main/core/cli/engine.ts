import type { Command } from "commander";
import pino from "pino";
import { buildCpuKernels, cpuKernelsSupported } from "../engine/cpuKernels.js";
import { buildEngine, describeEngine, type EngineDescription, missingBuildTools } from "../engine/engineInfo.js";

/** How the CLI names the engine in use, e.g. `localBuild cpu (cpu haswell, kernels rebuilt), llama.cpp b1234`. */
function engineInUse(info: EngineDescription): string {
  const cpu = [
    info.cpuVariant ? `cpu ${info.cpuVariant}` : null,
    info.cpuKernels === "rebuilt" || info.cpuKernels === "portable" ? `kernels ${info.cpuKernels}` : null,
  ]
    .filter(Boolean)
    .join(", ");
  return `${info.build} ${info.backend}${cpu ? ` (${cpu})` : ""}, llama.cpp ${info.source}`;
}

/**
 * `maas-base engine …`: the llama.cpp engine binary. node-llama-cpp is imported only
 * when a subcommand needs it (it costs ~1 s and ~50 MB to load).
 */
export function registerEngineCommand(program: Command): void {
  const engine = program.command("engine").description("the llama.cpp engine binary");
  engine
    .command("build")
    .description("build an optimized engine for this machine from node-llama-cpp's bundled llama.cpp source (offline)")
    .option("--cpu", "build for the CPU only, without GPU backends")
    .option(
      "--cpu-kernels",
      "compile only the CPU library the prebuilt engine loads here, with this machine's compiler (about a minute; Linux x64)",
    )
    .option(
      "--portable",
      "with --cpu-kernels: every CPU variant the prebuilt engine ships, for any x86-64 CPU (for an installer: npm run dist)",
    )
    .action(async (opts: { cpu?: boolean; cpuKernels?: boolean; portable?: boolean }) => {
      const missing = missingBuildTools();
      if (missing.length > 0) {
        process.stderr.write(`cannot build here: missing ${missing.join(", ")}. The prebuilt engine stays in use.\n`);
        process.exit(1);
      }
      if (opts.cpu && opts.cpuKernels) {
        process.stderr.write("choose --cpu (the full build) or --cpu-kernels.\n");
        process.exit(1);
      }
      if (opts.portable && !opts.cpuKernels) {
        process.stderr.write("--portable goes with --cpu-kernels.\n");
        process.exit(1);
      }
      if (opts.cpuKernels && !cpuKernelsSupported()) {
        process.stderr.write(`--cpu-kernels is for Linux x64 (this is ${process.platform} ${process.arch}); try --cpu.\n`);
        process.exit(1);
      }
      const started = Date.now();
      const onLine = (line: string) => process.stderr.write(`${line}\n`);
      const code = opts.cpuKernels
        ? await buildCpuKernels({ onLine, portable: opts.portable === true })
        : await buildEngine({ gpu: opts.cpu ? false : "auto", onLine });
      if (code !== 0) {
        process.stderr.write(`engine build failed (exit ${code}); the prebuilt engine stays in use.\n`);
        process.exit(1);
      }
      const gpu = opts.cpu || opts.cpuKernels ? false : "auto";
      const { loadLlama } = await import("../engine/llama.js");
      const llama = await loadLlama({ gpu, logger: pino({ level: "silent" }) });
      const info = await describeEngine(llama);
      await llama.dispose();
      const what = opts.cpuKernels ? "CPU kernels" : "engine";
      process.stdout.write(`${what} built in ${Math.round((Date.now() - started) / 1000)} s; in use: ${engineInUse(info)}\n`);
    });
}
