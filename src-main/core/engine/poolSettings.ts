/**
 * The pool's options and the settings a model gets from them: pure, so the server process
 * (supervisor, library routes) can use them without importing ModelPool, which loads
 * node-llama-cpp (engine processes only).
 */
import { ApiError } from "../errors.js";
import type { ModelInfo } from "../inference/types.js";
import { contextBounds } from "./contextSize.js";
import type { PrefixCacheOptions } from "./prefixStore.js";

export interface PoolOptions {
  /** Threads per context; `undefined` = llama.cpp's count of physical cores. */
  threads?: number | undefined;
  /** Parallel sequences per chat model (continuous batching across them). */
  parallel: number;
  /** Requests that may wait for a free sequence before new ones get 429. */
  maxQueue: number;
  /** Upper bound on each sequence's context, in tokens. */
  contextSize: number;
  /** Models kept in memory at once; loading one more evicts the least recently used idle one. */
  maxLoadedModels?: number;
  /** Minutes without requests before a model is unloaded (per-model settings override; 0 = never). */
  defaultTtlMinutes?: number;
  /** RAM the loaded models may take together, in bytes; `undefined` = what is free. */
  ramBudgetBytes?: number | undefined;
  /** Unload idle models after their TTL (false inside engine processes: the supervisor decides). Defaults to true. */
  idleUnload?: boolean;
  /** Long prompt prefixes saved to disk when their sequence is reused, restored when they return (prefixStore.ts); none = off. */
  prefixCache?: PrefixCacheOptions | undefined;
}

/** The memory check said no, even after evicting what could be evicted. */
export class InsufficientMemoryError extends ApiError {
  constructor(model: string, needed: number, available: number, what: "RAM" | "VRAM") {
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
    super(
      503,
      "server",
      `Model '${model}' needs about ${gib(needed)} of ${what} with its settings, but ${gib(available)} is available. ` +
        "Unload other models, lower its context size or GPU layers, or pick a smaller quantization.",
      { code: "insufficient_memory" },
    );
  }
}

/** A model's effective settings: its own, else the server's. */
export function effectiveSettings(info: ModelInfo, options: PoolOptions) {
  const own = info.settings ?? {};
  const context = contextBounds({ explicit: own.contextSize, cap: options.contextSize, trainContextSize: info.contextLength });
  return {
    parallel: own.parallel ?? options.parallel,
    /** The largest context asked for; node-llama-cpp gives what free memory allows, down to `contextMin`. */
    contextSize: context.max,
    contextMin: context.min,
    threads: own.threads ?? options.threads,
    gpuLayers: own.gpuLayers ?? ("auto" as const),
    ttlMinutes: own.ttlMinutes ?? options.defaultTtlMinutes ?? 15,
  };
}
