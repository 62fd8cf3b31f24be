import { toAnthropicError } from "../../dialects/anthropic/errors.js";
import { parseCountTokens, parseMessages, toAnthropicMessage } from "../../dialects/anthropic/messages.js";
import { AnthropicStreamEncoder } from "../../dialects/anthropic/stream.js";
import { sseEvent } from "../../dialects/sse.js";
import type { ServerDeps } from "../context.js";
import { type LocalTarget, modelEndpoint } from "../pipeline.js";
import { checkChatSchemas } from "../schemaCheck.js";

const PING = sseEvent("ping", { type: "ping" });

/** `POST /v1/messages` (any query, e.g. `?beta=true`). */
export const messages = (deps: ServerDeps) =>
  modelEndpoint({
    operation: "messages",
    parse: parseMessages,
    local: (parsed, { modelId, routeName, model }: LocalTarget, request, reply) => {
      const meta = { id: `msg_${request.id.replace(/^req_/, "")}`, model: routeName };
      const encoder = new AnthropicStreamEncoder(meta);
      return {
        generate: {
          stream: parsed.stream,
          start: (signal) =>
            checkChatSchemas(
              parsed.request,
              reply,
              { responseFormat: "output_format.schema", tool: (i) => `tools[${i}].input_schema` },
              () => deps.engine.chat({ ...parsed.request, model: modelId }, signal, model),
            ),
          opening: (stream) => encoder.start(stream.promptTokens),
          encode: (event) => encoder.encode(event),
          fold: (result) => toAnthropicMessage(result, meta),
          frame: (payload) => sseEvent((payload as { type: string }).type, payload),
          keepAlive: PING,
          streamError: (error) => toAnthropicError(error, request.id),
        },
      };
    },
  });

/** `POST /v1/messages/count_tokens`: free, but logged like any request (a usage row with no tokens). */
export const countTokens = (deps: ServerDeps) =>
  modelEndpoint({
    operation: "count_tokens",
    parse: parseCountTokens,
    local: (chat, { modelId, model }: LocalTarget) => ({
      call: async () => ({
        body: { input_tokens: await deps.engine.countChatTokens({ ...chat, model: modelId }, model) },
        promptTokens: 0,
      }),
    }),
  });
