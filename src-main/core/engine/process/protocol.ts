/**
 * The messages between the server process (supervisor) and an engine or
 * inspector process. Plain JSON: they cross `child_process` IPC or Electron's
 * structured clone alike.
 */
import { AbortedError, ApiError, type ErrorKind, ServerError } from "../../errors.js";
import type { GenerationEvent, ModelInfo } from "../../inference/types.js";
import type { PrefixCacheOptions } from "../prefixStore.js";

/** What an engine process needs to know about the server's engine settings. */
export interface EngineProcessOptions {
  gpu: "auto" | false;
  /** Load node-llama-cpp's prebuilt engine even where a local build exists (a model that crashed on the local build). */
  prebuiltEngine?: boolean;
  threads?: number | undefined;
  parallel: number;
  maxQueue: number;
  contextSize: number;
  defaultTtlMinutes?: number;
  /** The prompt prefix store (engine/prefixStore.ts); none = off. */
  prefixCache?: PrefixCacheOptions;
  logLevel: string;
  /** How often the engine says it is alive (and sends its stats), in ms. */
  heartbeatMs: number;
}

export type EngineMethod =
  | "load"
  | "chat"
  | "complete"
  | "embed"
  | "rerank"
  | "countChatTokens"
  | "tokenize"
  | "stats"
  // inspector
  | "warmup"
  | "inspect"
  | "fit"
  | "describe";

export type ToEngine =
  | { type: "init"; options: EngineProcessOptions }
  /** `model`: the model's current library record (settings may have changed since load). */
  | { type: "call"; id: number; method: EngineMethod; args: unknown[]; model?: ModelInfo }
  | { type: "abort"; id: number }
  | { type: "shutdown" }
  /**
   * Everything the server sent in one tick, in order: requests that arrive together reach
   * the engine together, so their prompts go in the same first decode step.
   */
  | { type: "batch"; messages: ToEngine[] };

/** A schema keyword the grammar does not enforce, and where (the compiler's SchemaIssue). */
export interface SchemaIssueWire {
  keyword: string;
  path: string;
  reason: string;
}

export interface SerializedError {
  name: string;
  message: string;
  status?: number;
  kind?: ErrorKind;
  options?: { param?: string | null; code?: string | null; retryAfterSeconds?: number };
}

export type FromEngine =
  | { type: "heartbeat"; stats?: unknown; rss: number }
  | { type: "result"; id: number; value: unknown }
  | { type: "error"; id: number; error: SerializedError }
  /** `schemaIgnored`: keywords of the request's schemas the grammar leaves out (not strict). */
  | { type: "stream-start"; id: number; promptTokens: number; schemaIgnored?: SchemaIssueWire[] }
  /** Events of the streams, everything that was ready in the same tick (one decode step: a token per stream). */
  | { type: "events"; batches: Array<{ id: number; events: GenerationEvent[] }> }
  | { type: "stream-end"; id: number }
  | { type: "log"; level: string; line: string };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof ApiError) {
    return { name: error.name, message: error.message, status: error.status, kind: error.kind, options: error.options };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

export function deserializeError(error: SerializedError): Error {
  if (error.name === "AbortedError" || error.name === "AbortError") return new AbortedError();
  if (error.status !== undefined && error.kind) {
    const rebuilt = new ApiError(error.status, error.kind, error.message, error.options ?? {});
    rebuilt.name = error.name;
    return rebuilt;
  }
  return new ServerError(error.message);
}
