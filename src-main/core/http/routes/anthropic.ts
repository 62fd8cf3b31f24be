import type { FastifyInstance } from "fastify";
import { toAnthropicError } from "../../dialects/anthropic/errors.js";
import { parseCountTokens, parseMessages, toAnthropicMessage } from "../../dialects/anthropic/messages.js";
import { AnthropicStreamEncoder } from "../../dialects/anthropic/stream.js";
import { sseEvent } from "../../dialects/sse.js";
import { routeThenParse } from "../../proxy/forwarder.js";
import { assertRouteAllowed, requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";
import { runGeneration } from "../generation.js";
import { checkChatSchemas } from "../schemaCheck.js";

const PING = sseEvent("ping", { type: "ping" });

/** The Anthropic-compatible surface: `/v1/messages` and `/v1/messages/count_tokens` (any query, e.g. `?beta=true`). */
export async function anthropicRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "inference"));

  app.post("/v1/messages", async (request, reply) => {
    const routed = await routeThenParse(deps, request, reply, "messages", parseMessages, (p) => p.request.model);
    if ("forwarded" in routed) return routed.forwarded;
    const { parsed, modelId, routeName } = routed;
    const meta = { id: `msg_${request.id.replace(/^req_/, "")}`, model: routeName };
    const encoder = new AnthropicStreamEncoder(meta);
    return runGeneration(deps, request, reply, {
      operation: "messages",
      model: modelId,
      route: routeName,
      stream: parsed.stream,
      start: (signal) => {
        checkChatSchemas(parsed.request, reply, {
          responseFormat: "output_format.schema",
          tool: (i) => `tools[${i}].input_schema`,
        });
        return deps.engine.chat({ ...parsed.request, model: modelId }, signal);
      },
      opening: (stream) => encoder.start(stream.promptTokens),
      encode: (event) => encoder.encode(event),
      fold: (result) => toAnthropicMessage(result, meta),
      frame: (payload) => sseEvent((payload as { type: string }).type, payload),
      keepAlive: PING,
      streamError: (error) => toAnthropicError(error, request.id),
    });
  });

  app.post("/v1/messages/count_tokens", async (request, reply) => {
    const routed = await routeThenParse(deps, request, reply, "messages", parseCountTokens, (c) => c.model);
    if ("forwarded" in routed) return routed.forwarded;
    const { parsed: chat, modelId } = routed;
    request.logInfo.model = chat.model;
    assertRouteAllowed(request, chat.model);
    return { input_tokens: await deps.engine.countChatTokens({ ...chat, model: modelId }) };
  });
}
