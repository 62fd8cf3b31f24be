import type { FastifyRequest } from "fastify";
import type { Operation, UsageService } from "../domain/usage.js";

/** The operation an inference path is (a failed request is logged under it); null for other paths. */
export function operationOfPath(url: string): Operation | null {
  const path = url.split("?")[0] ?? "";
  if (path.startsWith("/model/proxy")) return "proxy";
  if (path === "/rerank" || path === "/v1/rerank") return "rerank";
  if (!path.startsWith("/v1/")) return null;
  if (path === "/v1/chat/completions") return "chat";
  if (path === "/v1/completions") return "completion";
  if (path === "/v1/embeddings") return "embedding";
  if (path === "/v1/messages/count_tokens") return "count_tokens";
  if (path === "/v1/messages") return "messages";
  if (path.startsWith("/v1/responses")) return "responses";
  if (path.startsWith("/v1/models")) return "models";
  return "proxy";
}

/**
 * Called by the error handler for every failed request. An inference request refused
 * before any handler recorded it (a missing or wrong key: 401; a body that is not
 * JSON or fails validation: 400) gets its usage row here, so the request log shows
 * it; a row written already gets the error text its caller received.
 */
export function recordFailedRequest(usage: UsageService, request: FastifyRequest, status: number, message: string): void {
  const operation = operationOfPath(request.url);
  if (!operation) return;
  if (usage.recorded(request.id)) {
    usage.noteError(request.id, message);
    return;
  }
  const body = request.body as { model?: unknown } | null | undefined;
  const model = body && typeof body === "object" && typeof body.model === "string" ? body.model.slice(0, 200) : null;
  usage.record({
    requestId: request.id,
    // A 401 has no key: the request is logged without one.
    apiKeyId: request.apiKey?.id ?? null,
    route: model,
    model,
    operation,
    promptTokens: 0,
    completionTokens: 0,
    ttftMs: null,
    durationMs: 0,
    status,
    error: message,
  });
}
