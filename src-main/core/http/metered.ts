import type { FastifyReply, FastifyRequest } from "fastify";
import type { Operation } from "../domain/usage.js";
import { isAbortError } from "../errors.js";
import { assertRouteAllowed } from "./auth.js";
import type { ServerDeps } from "./context.js";
import { toApiError } from "./errors.js";
import { clientSignal } from "./generation.js";
import { logRequestLine } from "./requestLog.js";

/**
 * Runs a one-shot (non-generating) operation such as embeddings or rerank and
 * records one usage row for it, whatever the outcome.
 */
export async function metered<T>(
  deps: ServerDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  what: { operation: Operation; model: string; route?: string },
  run: (signal: AbortSignal) => Promise<{ body: T; promptTokens: number }>,
): Promise<T> {
  const started = performance.now();
  const signal = clientSignal(reply);
  request.logInfo.model = what.model;
  let status = 200;
  let promptTokens = 0;
  try {
    assertRouteAllowed(request, what.route ?? what.model);
    const result = await run(signal);
    promptTokens = result.promptTokens;
    return result.body;
  } catch (error) {
    status = isAbortError(error, signal) ? 499 : toApiError(error).status;
    throw error;
  } finally {
    request.logInfo.promptTokens = promptTokens;
    deps.usage.record({
      requestId: request.id,
      apiKeyId: request.apiKey?.id ?? null,
      route: what.route ?? what.model,
      model: what.model,
      operation: what.operation,
      promptTokens,
      completionTokens: 0,
      ttftMs: null,
      durationMs: Math.round(performance.now() - started),
      status,
    });
    if (status === 499) {
      request.logInfo.status = status;
      logRequestLine(request, status, performance.now() - started);
    }
  }
}
