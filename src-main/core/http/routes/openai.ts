import type { FastifyInstance } from "fastify";
import { toAnthropicAlias, toAnthropicModel, toAnthropicModelList } from "../../dialects/anthropic/models.js";
import { ChatChunkEncoder, parseChatCompletion, toChatCompletion } from "../../dialects/openai/chat.js";
import { CompletionChunkEncoder, parseCompletion, toTextCompletion } from "../../dialects/openai/completions.js";
import { parseEmbedding, toEmbeddingResponse } from "../../dialects/openai/embeddings.js";
import { toOpenAIError } from "../../dialects/openai/errors.js";
import { type ModelAlias, toOpenAIAlias, toOpenAIModel, toOpenAIModelList } from "../../dialects/openai/models.js";
import { SSE_KEEPALIVE, sseData } from "../../dialects/sse.js";
import type { Route } from "../../domain/routes.js";
import { ModelNotFoundError } from "../../errors.js";
import { assertRouteAllowed, keyMayUseRoute, requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";
import { speaksAnthropic } from "../dialect.js";
import { type LocalTarget, modelEndpoint } from "../pipeline.js";
import { checkChatSchemas } from "../schemaCheck.js";

function responseMeta(prefix: string, requestId: string, model: string) {
  return { id: `${prefix}-${requestId.replace(/^req_/, "")}`, created: Math.floor(Date.now() / 1000), model };
}

function aliasOf(deps: ServerDeps, route: Route, name = route.name): ModelAlias {
  const primary = route.targets.find((t) => !t.fallback);
  const target = primary?.kind === "model" && primary.modelId ? (deps.models.get(primary.modelId) ?? null) : null;
  return { name, createdAt: route.createdAt, target, upstreamModel: primary?.upstreamModel ?? null };
}

/** The routes a user made (enabled, not glob patterns): names clients can put in `model`. */
function listAliases(deps: ServerDeps): ModelAlias[] {
  return deps.routes
    .list()
    .filter((r) => !r.auto && r.enabled && !r.name.includes("*"))
    .map((r) => aliasOf(deps, r));
}

/** A name that a user route answers, exactly or through a glob alias (`claude-*`); not a bare model id. */
function aliasNamed(deps: ServerDeps, name: string): ModelAlias | undefined {
  const exact = deps.routes.byName(name);
  if (exact) return exact.auto || !exact.enabled ? undefined : aliasOf(deps, exact);
  if (deps.models.get(name)) return undefined;
  const glob = deps.routes.byGlob(name);
  return glob?.enabled ? aliasOf(deps, glob, name) : undefined;
}

/** The OpenAI-compatible model list (the inference endpoints are declared below and run by the pipeline). */
export async function openaiRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "inference"));

  // The Anthropic SDK lists models on the same path; it says so with `anthropic-version`.
  app.get("/v1/models", async (request) => {
    const visible = (name: string) => keyMayUseRoute(request.apiKey, name);
    const aliases = listAliases(deps).filter((a) => visible(a.name));
    const named = new Set(aliases.map((a) => a.name));
    const models = deps.models.list().filter((m) => visible(m.id) && !named.has(m.id));
    if (speaksAnthropic(request)) {
      const list = toAnthropicModelList(models);
      const data = [...list.data, ...aliases.map(toAnthropicAlias)];
      return { ...list, data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
    }
    const list = toOpenAIModelList(models);
    return { ...list, data: [...list.data, ...aliases.map(toOpenAIAlias)] };
  });

  app.get<{ Params: { id: string } }>("/v1/models/:id", async (request) => {
    const name = request.params.id;
    const alias = aliasNamed(deps, name);
    const model = alias ? undefined : deps.models.get(name);
    if (!alias && !model) throw new ModelNotFoundError(name);
    assertRouteAllowed(request, name);
    if (alias) return speaksAnthropic(request) ? toAnthropicAlias(alias) : toOpenAIAlias(alias);
    if (!model) throw new ModelNotFoundError(name);
    return speaksAnthropic(request) ? toAnthropicModel(model) : toOpenAIModel(model);
  });
}

/** `POST /v1/chat/completions`. */
export const chatCompletions = (deps: ServerDeps) =>
  modelEndpoint({
    operation: "chat",
    parse: parseChatCompletion,
    local: (parsed, { modelId, routeName, model }: LocalTarget, request, reply) => {
      const meta = responseMeta("chatcmpl", request.id, routeName);
      const encoder = new ChatChunkEncoder(meta, parsed.includeUsage);
      return {
        generate: {
          stream: parsed.stream,
          start: (signal) =>
            checkChatSchemas(
              parsed.request,
              reply,
              { responseFormat: "response_format.json_schema.schema", tool: (i) => `tools[${i}].function.parameters` },
              () => deps.engine.chat({ ...parsed.request, model: modelId }, signal, model),
            ),
          opening: () => [encoder.start()],
          encode: (event) => encoder.encode(event),
          fold: (result) => toChatCompletion(result, meta),
          streamError: toOpenAIError,
          keepAlive: SSE_KEEPALIVE,
          closing: sseData("[DONE]"),
        },
      };
    },
  });

/** `POST /v1/completions`. */
export const completions = (deps: ServerDeps) =>
  modelEndpoint({
    operation: "completion",
    parse: parseCompletion,
    local: (parsed, { modelId, routeName, model }: LocalTarget, request) => {
      const meta = responseMeta("cmpl", request.id, routeName);
      const encoder = new CompletionChunkEncoder(meta, parsed.includeUsage);
      const prefix = parsed.echo ? parsed.request.prompt : "";
      return {
        generate: {
          stream: parsed.stream,
          start: (signal) => deps.engine.complete({ ...parsed.request, model: modelId }, signal, model),
          opening: () => (prefix ? [encoder.chunk(prefix)] : []),
          encode: (event) => encoder.encode(event),
          fold: (result) => toTextCompletion(result, meta, prefix),
          streamError: toOpenAIError,
          keepAlive: SSE_KEEPALIVE,
          closing: sseData("[DONE]"),
        },
      };
    },
  });

/** `POST /v1/embeddings`. */
export const embeddings = (deps: ServerDeps) =>
  modelEndpoint({
    operation: "embedding",
    parse: parseEmbedding,
    local: (parsed, { modelId, routeName, model }: LocalTarget) => ({
      call: async (signal) => {
        const result = await deps.engine.embed({ ...parsed.request, model: modelId }, signal, model);
        return { body: toEmbeddingResponse(result, parsed, routeName), promptTokens: result.promptTokens };
      },
    }),
  });
