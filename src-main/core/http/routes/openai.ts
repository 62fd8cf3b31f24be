import type { FastifyInstance } from "fastify";
import { toAnthropicModel, toAnthropicModelList } from "../../dialects/anthropic/models.js";
import { ChatChunkEncoder, parseChatCompletion, toChatCompletion } from "../../dialects/openai/chat.js";
import { CompletionChunkEncoder, parseCompletion, toTextCompletion } from "../../dialects/openai/completions.js";
import { parseEmbedding, toEmbeddingResponse } from "../../dialects/openai/embeddings.js";
import { toOpenAIError } from "../../dialects/openai/errors.js";
import { toOpenAIModel, toOpenAIModelList } from "../../dialects/openai/models.js";
import { SSE_KEEPALIVE, sseData } from "../../dialects/sse.js";
import { ModelNotFoundError } from "../../errors.js";
import { assertRouteAllowed, requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";
import { speaksAnthropic } from "../dialect.js";
import { runGeneration } from "../generation.js";
import { metered } from "../metered.js";
import { routeThenParse } from "../router.js";
import { checkChatSchemas } from "../schemaCheck.js";

function responseMeta(prefix: string, requestId: string, model: string) {
  return { id: `${prefix}-${requestId.replace(/^req_/, "")}`, created: Math.floor(Date.now() / 1000), model };
}

/** The OpenAI-compatible surface: models, chat completions, completions, embeddings. */
export async function openaiRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "inference"));

  // The Anthropic SDK lists models on the same path; it says so with `anthropic-version`.
  app.get("/v1/models", async (request) => {
    const allowed = request.apiKey?.allowedRoutes;
    const models = deps.models.list().filter((m) => !allowed || allowed.includes(m.id));
    return speaksAnthropic(request) ? toAnthropicModelList(models) : toOpenAIModelList(models);
  });

  app.get<{ Params: { id: string } }>("/v1/models/:id", async (request) => {
    const model = deps.models.get(request.params.id);
    if (!model) throw new ModelNotFoundError(request.params.id);
    assertRouteAllowed(request, model.id);
    return speaksAnthropic(request) ? toAnthropicModel(model) : toOpenAIModel(model);
  });

  app.post("/v1/chat/completions", async (request, reply) => {
    const routed = await routeThenParse(deps, request, reply, "chat", parseChatCompletion, (p) => p.request.model);
    if ("forwarded" in routed) return routed.forwarded;
    const { parsed, modelId, routeName } = routed;
    const meta = responseMeta("chatcmpl", request.id, routeName);
    const encoder = new ChatChunkEncoder(meta, parsed.includeUsage);
    return runGeneration(deps, request, reply, {
      operation: "chat",
      model: modelId,
      route: routeName,
      stream: parsed.stream,
      start: (signal) => {
        checkChatSchemas(parsed.request, reply, {
          responseFormat: "response_format.json_schema.schema",
          tool: (i) => `tools[${i}].function.parameters`,
        });
        return deps.engine.chat({ ...parsed.request, model: modelId }, signal);
      },
      opening: () => [encoder.start()],
      encode: (event) => encoder.encode(event),
      fold: (result) => toChatCompletion(result, meta),
      streamError: toOpenAIError,
      keepAlive: SSE_KEEPALIVE,
      closing: sseData("[DONE]"),
    });
  });

  app.post("/v1/completions", async (request, reply) => {
    const routed = await routeThenParse(deps, request, reply, "completion", parseCompletion, (p) => p.request.model);
    if ("forwarded" in routed) return routed.forwarded;
    const { parsed, modelId, routeName } = routed;
    const meta = responseMeta("cmpl", request.id, routeName);
    const encoder = new CompletionChunkEncoder(meta, parsed.includeUsage);
    const prefix = parsed.echo ? parsed.request.prompt : "";
    return runGeneration(deps, request, reply, {
      operation: "completion",
      model: modelId,
      route: routeName,
      stream: parsed.stream,
      start: (signal) => deps.engine.complete({ ...parsed.request, model: modelId }, signal),
      opening: () => (prefix ? [encoder.chunk(prefix)] : []),
      encode: (event) => encoder.encode(event),
      fold: (result) => toTextCompletion(result, meta, prefix),
      streamError: toOpenAIError,
      keepAlive: SSE_KEEPALIVE,
      closing: sseData("[DONE]"),
    });
  });

  app.post("/v1/embeddings", async (request, reply) => {
    const routed = await routeThenParse(deps, request, reply, "embedding", parseEmbedding, (p) => p.request.model);
    if ("forwarded" in routed) return routed.forwarded;
    const { parsed, modelId, routeName } = routed;
    return metered(deps, request, reply, { operation: "embedding", model: modelId, route: routeName }, async (signal) => {
      const result = await deps.engine.embed({ ...parsed.request, model: modelId }, signal);
      return { body: toEmbeddingResponse(result, parsed, routeName), promptTokens: result.promptTokens };
    });
  });
}
