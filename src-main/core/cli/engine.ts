import type { Command } from "commander";
import pino from "pino";
import { buildEngine, describeEngine, missingBuildTools } from "../engine/engineInfo.js";

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
    .action(async (opts: { cpu?: boolean }) => {
      const missing = missingBuildTools();
      if (missing.length > 0) {
        process.stderr.write(`cannot build here: missing ${missing.join(", ")}. The prebuilt engine stays in use.\n`);
        process.exit(1);
      }
      const started = Date.now();
      const code = await buildEngine({ gpu: opts.cpu ? false : "auto", onLine: (line) => process.stderr.write(`${line}\n`) });
      if (code !== 0) {
        process.stderr.write(`engine build failed (exit ${code}); the prebuilt engine stays in use.\n`);
        process.exit(1);
      }
      const { loadLlama } = await import("../engine/llama.js");
      const llama = await loadLlama({ gpu: opts.cpu ? false : "auto", logger: pino({ level: "silent" }) });
      const info = await describeEngine(llama);
      await llama.dispose();
      process.stdout.write(
        `engine built in ${Math.round((Date.now() - started) / 1000)} s; in use: ${info.build} ${info.backend}` +
          `${info.cpuVariant ? ` (cpu ${info.cpuVariant})` : ""}, llama.cpp ${info.source}\n`,
      );
    });
}
