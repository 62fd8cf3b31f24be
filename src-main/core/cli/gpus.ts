import type { Command } from "commander";
import pino from "pino";
import { engineBuildLabel } from "../contract/engine.js";
import { describeEngine } from "../engine/engineInfo.js";
import { print } from "./common.js";

/** `maas-base gpus`. */
export function registerGpus(program: Command): void {
  program
    .command("gpus")
    .description("the inference backend, its devices and memory, and which engine build is in use")
    .option("--cpu", "describe the CPU backend even when a GPU is found")
    .option("--json", "machine-readable output")
    .action(async (opts) => {
      const { loadLlama } = await import("../engine/llama.js");
      const llama = await loadLlama({ gpu: opts.cpu ? false : "auto", logger: pino({ level: "silent" }) });
      try {
        const info = await describeEngine(llama);
        const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
        print(Boolean(opts.json), { engine: info, devices: info.devices }, () =>
          [
            `backend: ${info.backend} (${engineBuildLabel(info)}${info.cpuVariant ? `, cpu ${info.cpuVariant}` : ""}, llama.cpp ${info.source})`,
            ...info.devices.map((d) => `device: ${d.name}, ${gib(d.vramFree)} free of ${gib(d.vramTotal)}`),
            `cpu: ${info.cpuMathCores} math cores; ram: ${gib(info.ram.free)} free of ${gib(info.ram.total)}`,
          ].join("\n"),
        );
      } finally {
        await llama.dispose();
      }
    });
}
