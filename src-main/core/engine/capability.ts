import { InvalidRequestError, ModelNotFoundError } from "../errors.js";
import type { ModelCapability, ModelInfo } from "../inference/types.js";

/** The model's record if it can do `capability`; the request's 404 or 400 otherwise. */
export function requireCapability(
  id: string,
  info: ModelInfo | undefined,
  capability: ModelCapability,
  param = "model",
): ModelInfo {
  if (!info) throw new ModelNotFoundError(id);
  if (!info.capabilities.includes(capability)) {
    const what = { chat: "chat or text completion", embedding: "embeddings", rerank: "reranking" }[capability];
    throw new InvalidRequestError(
      `Model '${id}' does not support ${what}; it supports: ${info.capabilities.join(", ") || "nothing this server can run"}.`,
      param,
      "model_not_supported",
    );
  }
  return info;
}
