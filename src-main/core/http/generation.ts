import type { FastifyReply, FastifyRequest } from "fastify";
import { sseData } from "../dialects/sse.js";
import type { Operation } from "../domain/usage.js";
import { isAbortError } from "../errors.js";
import { foldEvents, type GenerationEvent, type GenerationResult, type GenerationStream } from "../inference/types.js";
import { assertRouteAllowed } from "./auth.js";
import type { ServerDeps } from "./context.js";
import { toApiError } from "./errors.js";
import { logRequestLine } from "./requestLog.js";
import { openSse } from "./sseWriter.js";

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function clientSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** How long a stream may stay silent before a keep-alive goes out. */
const KEEPALIVE_MS = 5000;

export interface GenerationPlan {
  operation: Operation;
  /** The model that runs it. */
  model: string;
  /** The name the client asked for (a route), when it differs from the model. */
  route?: string;
  stream: boolean;
  /** Starts the engine; resolves once a sequence is held. */
  start: (signal: AbortSignal) => Promise<GenerationStream>;
  /** Stream: payloads sent before the first event. */
  opening?: (stream: GenerationStream) => object[];
  /** Stream: how a payload is framed (default: a `data:` line; Anthropic names its events). */
  frame?: (payload: object) => string;
  /** Stream: sent when nothing else went out for a while (a long prompt, a slow model). */
  keepAlive?: string;
  /** Stream: payloads for one event. */
  encode: (event: GenerationEvent) => object[];
  /** Non-stream: the response body from the folded events (and the events themselves). */
  fold: (result: GenerationResult, events: readonly GenerationEvent[]) => object;
  /** Stream: the payload(s) of an error that happens after headers went out. */
  streamError: (error: ReturnType<typeof toApiError>) => object | object[];
  /** Called once when the generation finished normally (both modes), before the last byte goes out. */
  onComplete?: (result: GenerationResult) => void;
  /** Stream: the final line (OpenAI's `[DONE]`). */
  closing?: string;
}

/**
 * Runs one generation for any dialect's endpoint, streamed or not, and
 * records its usage. Errors before the first byte become normal error responses
 * (thrown to the error handler); later ones are sent in-stream.
 */
export async function runGeneration(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply, plan: GenerationPlan) {
  const started = performance.now();
  const signal = clientSignal(reply);
  let firstTokenAt: number | null = null;
  let result: GenerationResult | null = null;
  let status = 200;
  request.logInfo.model = plan.model;
  const record = () => {
    deps.usage.record({
      requestId: request.id,
      apiKeyId: request.apiKey?.id ?? null,
      route: plan.route ?? plan.model,
      model: plan.model,
      operation: plan.operation,
      promptTokens: result?.usage.promptTokens ?? 0,
      completionTokens: result?.usage.completionTokens ?? 0,
      cachedTokens: result?.usage.cachedTokens ?? 0,
      ttftMs: firstTokenAt === null ? null : Math.round(firstTokenAt - started),
      durationMs: Math.round(performance.now() - started),
      status,
    });
    request.logInfo.status = status;
    if (result) {
      request.logInfo.promptTokens = result.usage.promptTokens;
      request.logInfo.completionTokens = result.usage.completionTokens;
      request.logInfo.cachedTokens = result.usage.cachedTokens ?? 0;
    }
    // A client that went away never lets the response finish, so Fastify writes no line for it.
    if (status === 499) logRequestLine(request, status, performance.now() - started);
  };

  let events: GenerationStream;
  try {
    assertRouteAllowed(request, plan.route ?? plan.model);
    events = await plan.start(signal);
  } catch (error) {
    status = isAbortError(error, signal) ? 499 : toApiError(error).status;
    record();
    throw error;
  }

  const seen: GenerationEvent[] = [];
  if (!plan.stream) {
    try {
      for await (const event of events) {
        if (firstTokenAt === null && event.type !== "done") firstTokenAt = performance.now();
        seen.push(event);
      }
      result = foldEvents(seen);
      const body = plan.fold(result, seen);
      plan.onComplete?.(result);
      record();
      return reply.send(body);
    } catch (error) {
      status = isAbortError(error, signal) ? 499 : toApiError(error).status;
      record();
      // The client is gone; there is nobody to answer, but the reply must still finish.
      if (status === 499) return reply.status(499).send();
      throw error;
    }
  }

  const writer = openSse(request, reply);
  const frame = plan.frame ?? sseData;
  for (const payload of plan.opening?.(events) ?? []) writer.write(frame(payload));
  let lastWrite = performance.now();
  const keepAlive = plan.keepAlive;
  const timer = keepAlive
    ? setInterval(() => {
        if (performance.now() - lastWrite >= KEEPALIVE_MS - 50) writer.write(keepAlive);
      }, KEEPALIVE_MS)
    : null;
  try {
    for await (const event of events) {
      if (firstTokenAt === null && event.type !== "done") firstTokenAt = performance.now();
      seen.push(event);
      for (const payload of plan.encode(event)) writer.write(frame(payload));
      lastWrite = performance.now();
    }
    result = foldEvents(seen);
    plan.onComplete?.(result);
    if (plan.closing) writer.write(plan.closing);
  } catch (error) {
    if (isAbortError(error, signal)) status = 499;
    else {
      const apiError = toApiError(error);
      status = apiError.status;
      for (const payload of [plan.streamError(apiError)].flat()) writer.write(frame(payload));
    }
    result = foldEvents(seen);
    // Cut before its end, the stream has no usage yet; its prompt was counted up front.
    if (result.usage.promptTokens === 0) result.usage = { ...result.usage, promptTokens: events.promptTokens };
  } finally {
    if (timer) clearInterval(timer);
    writer.end();
    record();
  }
  return reply;
}
