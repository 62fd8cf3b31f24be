import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import type { Logger } from "pino";
import { tunedBuildOptions } from "./engineInfo.js";

export interface LlamaOptions {
  /** `false` forces the CPU backend; `"auto"` lets node-llama-cpp pick CUDA, Vulkan or Metal. */
  gpu: "auto" | false;
  /** Upper bound on threads any context uses. */
  maxThreads?: number | undefined;
  logger: Logger;
}

/** Loads the llama.cpp binding once, routing its log lines into our logger. */
export async function loadLlama(options: LlamaOptions): Promise<Llama> {
  const log = options.logger.child({ component: "llama.cpp" });
  return getLlama({
    gpu: options.gpu,
    ...(options.maxThreads ? { maxThreads: options.maxThreads } : {}),
    build: "never",
    // Our tuned local build (`maas-base engine build`, or the background build) once it is finished.
    ...tunedBuildOptions(),
    logLevel: LlamaLogLevel.warn,
    logger(level, message) {
      const text = message.trim();
      if (!text) return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) log.error(text);
      else if (level === LlamaLogLevel.warn) log.warn(text);
      else log.debug(text);
    },
  });
}
