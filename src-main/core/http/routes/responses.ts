import type { FastifyInstance, FastifyRequest } from "fastify";
import { newId, ResponsesEncoder } from "../../dialects/responses/encoder.js";
import { parseResponses } from "../../dialects/responses/request.js";
import { SSE_KEEPALIVE, sseEvent } from "../../dialects/sse.js";
import type { StoredResponse } from "../../domain/responses.js";
import { NotFoundError } from "../../errors.js";
import type { ChatMessage, ChatRequest, GenerationResult } from "../../inference/types.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";
import { type LocalTarget, modelEndpoint } from "../pipeline.js";
import { checkChatSchemas } from "../schemaCheck.js";

function assistantTurn(result: GenerationResult): ChatMessage {
  return {
    role: "assistant",
    content: result.text,
    ...(result.reasoning ? { reasoning: result.reasoning } : {}),
    ...(result.toolCalls.length ? { toolCalls: result.toolCalls } : {}),
  };
}

/** Lists the `tools` entries the local engine dropped (hosted tools such as `web_search`). */
export const DROPPED_TOOLS_HEADER = "x-maas-dropped-tools";

/** A stored response the caller's key may see (its own, or any with a management key). */
function owned(deps: ServerDeps, request: FastifyRequest, id: string, param: string | null = null): StoredResponse {
  const stored = deps.responses.get(id);
  const key = request.apiKey;
  if (!stored || (key?.scope !== "management" && stored.apiKeyId !== (key?.id ?? null))) {
    throw new NotFoundError(`No response with id '${id}' was found.`, param, "response_not_found");
  }
  return stored;
}

/** OpenAI's stored responses (`POST /v1/responses` is declared below and run by the pipeline). */
export async function responsesRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "inference"));

  app.get<{ Params: { id: string } }>("/v1/responses/:id", async (request) => owned(deps, request, request.params.id).response);

  app.delete<{ Params: { id: string } }>("/v1/responses/:id", async (request) => {
    owned(deps, request, request.params.id);
    deps.responses.delete(request.params.id);
    return { id: request.params.id, object: "response", deleted: true };
  });

  app.get<{ Params: { id: string }; Querystring: { order?: string; limit?: string; after?: string } }>(
    "/v1/responses/:id/input_items",
    async (request) => {
      const items = [...owned(deps, request, request.params.id).inputItems];
      if (request.query.order !== "asc") items.reverse();
      const afterIndex = request.query.after ? items.findIndex((item) => item.id === request.query.after) + 1 : 0;
      const limit = Math.min(100, Math.max(1, Number(request.query.limit ?? 20) || 20));
      const page = items.slice(afterIndex, afterIndex + limit);
      return {
        object: "list",
        data: page,
        first_id: page[0]?.id ?? null,
        last_id: page.at(-1)?.id ?? null,
        has_more: afterIndex + limit < items.length,
      };
    },
  );
}

/** `POST /v1/responses`. */
export const createResponse = (deps: ServerDeps) =>
  modelEndpoint({
    operation: "responses",
    parse: parseResponses,
    local: (parsed, { modelId, model }: LocalTarget, request, reply) => {
      const { body } = parsed;
      const previous = body.previous_response_id
        ? owned(deps, request, body.previous_response_id, "previous_response_id")
        : undefined;
      const conversation = [...(previous?.conversation ?? []), ...parsed.messages];
      const messages: ChatMessage[] = body.instructions
        ? [{ role: "system", content: body.instructions }, ...conversation]
        : conversation;
      const meta = {
        id: newId("resp"),
        createdAt: Math.floor(Date.now() / 1000),
        model: body.model,
        body,
        toolOrigins: parsed.toolOrigins,
      };
      // Hosted tools the local engine dropped, so a client can tell why the model never used them.
      if (parsed.droppedTools.length) reply.header(DROPPED_TOOLS_HEADER, parsed.droppedTools.join(", "));
      const encoder = new ResponsesEncoder(meta);
      return {
        generate: {
          stream: parsed.stream,
          start: (signal) => {
            const chat: ChatRequest = {
              model: modelId,
              messages,
              ...(parsed.tools.length ? { tools: parsed.tools } : {}),
              ...(parsed.toolChoice ? { toolChoice: parsed.toolChoice } : {}),
              ...(parsed.responseFormat ? { responseFormat: parsed.responseFormat } : {}),
              sampling: parsed.sampling,
              ...(parsed.cacheKey ? { cacheKey: `responses:${parsed.cacheKey}` } : {}),
            };
            return checkChatSchemas(
              chat,
              reply,
              { responseFormat: "text.format.schema", tool: (i) => `tools[${i}].parameters` },
              () => deps.engine.chat(chat, signal, model),
            );
          },
          opening: () => encoder.start(),
          encode: (event) => encoder.encode(event),
          fold: (_result, events) => {
            for (const event of events) encoder.encode(event);
            return encoder.response();
          },
          frame: (payload) => sseEvent((payload as { type: string }).type, payload),
          keepAlive: SSE_KEEPALIVE,
          streamError: (error) => encoder.fail(error),
          onComplete: (result) => {
            if (!parsed.store) return;
            deps.responses.save({
              id: meta.id,
              apiKeyId: request.apiKey?.id ?? null,
              model: body.model,
              previousResponseId: body.previous_response_id ?? null,
              response: encoder.response(),
              inputItems: parsed.inputItems.map((item) => ({ id: newId("item"), ...item })),
              conversation: [...conversation, assistantTurn(result)],
            });
          },
        },
      };
    },
  });
