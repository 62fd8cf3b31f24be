import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import type { Logger } from "pino";
import { engineBuildOptions } from "./cpuKernels.js";

export interface LlamaOptions {
  /** `false` forces the CPU backend; `"auto"` lets node-llama-cpp pick CUDA, Vulkan or Metal. */
  gpu: "auto" | false;
  /** Upper bound on threads any context uses. */
  maxThreads?: number | undefined;
  /** node-llama-cpp's prebuilt engine even where one of our builds exists. */
  prebuilt?: boolean;
  logger: Logger;
}

/** llama.cpp's latest warning and error lines: a failed load's reason is among them. */
const said: Array<{ at: number; text: string }> = [];
const SAID_LINES = 12;

/**
 * The warning and error lines llama.cpp logged since `since` (ms), e.g.
 * `llama_model_load: error loading model: missing tensor 'output_norm.weight'`;
 * node-llama-cpp's own error says only "Failed to load model".
 */
export function llamaSaidSince(since: number): string[] {
  return said.filter((line) => line.at >= since).map((line) => line.text);
}

/** Loads the llama.cpp binding once, routing its log lines into our logger. */
export async function loadLlama(options: LlamaOptions): Promise<Llama> {
  const log = options.logger.child({ component: "llama.cpp" });
  return getLlama({
    gpu: options.gpu,
    ...(options.maxThreads ? { maxThreads: options.maxThreads } : {}),
    build: "never",
    ...(options.prebuilt ? {} : engineBuildOptions()),
    logLevel: LlamaLogLevel.warn,
    logger(level, message) {
      const text = message.trim();
      if (!text) return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal || level === LlamaLogLevel.warn) {
        said.push({ at: Date.now(), text });
        if (said.length > SAID_LINES) said.splice(0, said.length - SAID_LINES);
      }
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) log.error(text);
      else if (level === LlamaLogLevel.warn) log.warn(text);
      else log.debug(text);
    },
  });
}
