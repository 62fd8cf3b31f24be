import { z } from "zod";
import { InvalidRequestError } from "../../errors.js";
import type {
  ChatMessage,
  ChatRequest,
  FinishReason,
  GenerationEvent,
  GenerationResult,
  ResponseFormat,
  SamplingOptions,
  ToolChoice,
  Usage,
} from "../../inference/types.js";
import { parseBody } from "../validation.js";

const TextPart = z.object({ type: z.literal("text"), text: z.string() });
const OtherPart = z.object({ type: z.string() }).loose();
const Content = z.union([z.string(), z.array(z.union([TextPart, OtherPart]))]).nullish();

const ToolCallSchema = z.object({
  id: z.string(),
  type: z.literal("function").optional(),
  function: z.object({ name: z.string(), arguments: z.string().default("") }),
});

const MessageSchema = z.discriminatedUnion("role", [
  z.object({ role: z.enum(["system", "developer"]), content: Content }),
  z.object({ role: z.literal("user"), content: Content }),
  z.object({
    role: z.literal("assistant"),
    content: Content,
    reasoning_content: z.string().nullish(),
    tool_calls: z.array(ToolCallSchema).nullish(),
  }),
  z.object({ role: z.literal("tool"), content: Content, tool_call_id: z.string() }),
]);

const StopSchema = z.union([z.string(), z.array(z.string()).max(16)]).nullish();

export const SamplingFields = {
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repeat_penalty: z.number().min(0).nullish(),
  stop: StopSchema,
  max_tokens: z.number().int().min(1).nullish(),
  n: z.number().int().min(1).max(1, "Only n=1 is supported.").nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
};

export const ChatCompletionSchema = z.object({
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1, "messages must contain at least one message."),
  max_completion_tokens: z.number().int().min(1).nullish(),
  prompt_cache_key: z.string().max(1024).nullish(),
  ...SamplingFields,
  tools: z
    .array(
      z.object({
        type: z.literal("function"),
        function: z.object({
          name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, "Tool names may hold letters, digits, _ . - (64 at most)."),
          description: z.string().nullish(),
          parameters: z.record(z.string(), z.unknown()).nullish(),
          strict: z.boolean().nullish(),
        }),
      }),
    )
    .nullish(),
  tool_choice: z
    .union([
      z.enum(["auto", "none", "required"]),
      z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
    ])
    .nullish(),
  response_format: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("text") }),
      z.object({ type: z.literal("json_object") }),
      z.object({
        type: z.literal("json_schema"),
        json_schema: z.object({
          name: z.string().optional(),
          schema: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullish(),
        }),
      }),
    ])
    .nullish(),
});

export type ParsedChatCompletion = { request: ChatRequest; stream: boolean; includeUsage: boolean };

function contentText(content: z.infer<typeof Content>, param: string): string {
  if (content == null) return "";
  if (typeof content === "string") return content;
  return content
    .map((part, i) => {
      if (part.type === "text" && typeof (part as { text?: unknown }).text === "string") return (part as { text: string }).text;
      throw new InvalidRequestError(
        `Content part type '${part.type}' is not supported by the local engine; only 'text' parts are.`,
        `${param}[${i}].type`,
      );
    })
    .join("");
}

export function samplingFrom(body: {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  repeat_penalty?: number | null;
  stop?: string | string[] | null;
  max_tokens?: number | null;
}): SamplingOptions {
  const sampling: SamplingOptions = {};
  if (body.max_tokens != null) sampling.maxTokens = body.max_tokens;
  if (body.temperature != null) sampling.temperature = body.temperature;
  if (body.top_p != null) sampling.topP = body.top_p;
  if (body.top_k != null) sampling.topK = body.top_k;
  if (body.min_p != null) sampling.minP = body.min_p;
  if (body.seed != null) sampling.seed = body.seed;
  if (body.presence_penalty != null) sampling.presencePenalty = body.presence_penalty;
  if (body.frequency_penalty != null) sampling.frequencyPenalty = body.frequency_penalty;
  if (body.repeat_penalty != null) sampling.repeatPenalty = body.repeat_penalty;
  if (body.stop != null) {
    const stop = (typeof body.stop === "string" ? [body.stop] : body.stop).filter((s) => s.length > 0);
    if (stop.length > 0) sampling.stop = stop;
  }
  return sampling;
}

/** OpenAI chat completion request → internal chat request. */
export function parseChatCompletion(body: unknown): ParsedChatCompletion {
  const parsed = parseBody(ChatCompletionSchema, body);
  const messages: ChatMessage[] = parsed.messages.map((m, i): ChatMessage => {
    const param = `messages[${i}].content`;
    switch (m.role) {
      case "system":
      case "developer":
        return { role: "system", content: contentText(m.content, param) };
      case "user":
        return { role: "user", content: contentText(m.content, param) };
      case "assistant": {
        const message: ChatMessage = { role: "assistant", content: contentText(m.content, param) };
        if (m.reasoning_content) message.reasoning = m.reasoning_content;
        if (m.tool_calls?.length) {
          message.toolCalls = m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
        }
        return message;
      }
      case "tool":
        return { role: "tool", toolCallId: m.tool_call_id, content: contentText(m.content, param) };
      default:
        throw new InvalidRequestError("Unknown message role.", `messages[${i}].role`);
    }
  });
  const sampling = samplingFrom(parsed);
  if (parsed.max_completion_tokens != null) sampling.maxTokens = parsed.max_completion_tokens;
  const request: ChatRequest = { model: parsed.model, messages, sampling };
  if (parsed.prompt_cache_key) request.cacheKey = `openai:${parsed.prompt_cache_key}`;
  if (parsed.tools?.length) {
    request.tools = parsed.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description ? { description: t.function.description } : {}),
      ...(t.function.parameters ? { parameters: t.function.parameters } : {}),
      ...(t.function.strict ? { strict: true } : {}),
    }));
  }
  if (parsed.tool_choice != null) {
    const choice: ToolChoice =
      typeof parsed.tool_choice === "string" ? parsed.tool_choice : { name: parsed.tool_choice.function.name };
    request.toolChoice = choice;
  }
  if (parsed.response_format) {
    let format: ResponseFormat;
    if (parsed.response_format.type === "json_schema") {
      const schema = parsed.response_format.json_schema.schema;
      if (!schema)
        throw new InvalidRequestError("response_format.json_schema.schema is required.", "response_format.json_schema.schema");
      format = { type: "json_schema", schema, ...(parsed.response_format.json_schema.strict ? { strict: true } : {}) };
    } else format = { type: parsed.response_format.type };
    request.responseFormat = format;
  }
  return { request, stream: parsed.stream ?? false, includeUsage: parsed.stream_options?.include_usage ?? false };
}

export function openAIFinishReason(reason: FinishReason): "stop" | "length" | "tool_calls" {
  return reason === "stop_sequence" ? "stop" : reason;
}

/** Internal usage → OpenAI's `usage` object. */
export function toOpenAIUsage(usage: Usage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    // Prompt tokens the engine reused from a sequence's cache (a resent prefix).
    prompt_tokens_details: { cached_tokens: usage.cachedTokens ?? 0 },
  };
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

/** Folded generation → `chat.completion` object. */
export function toChatCompletion(result: GenerationResult, meta: ResponseMeta) {
  const message: Record<string, unknown> = { role: "assistant", content: result.text };
  if (result.reasoning) message.reasoning_content = result.reasoning;
  if (result.toolCalls.length > 0) {
    message.tool_calls = result.toolCalls.map((c) => ({
      id: c.id,
      type: "function",
      function: { name: c.name, arguments: c.arguments },
    }));
    if (!result.text) message.content = null;
  }
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, finish_reason: openAIFinishReason(result.finishReason), logprobs: null }],
    usage: toOpenAIUsage(result.usage),
  };
}

/** Turns engine events into `chat.completion.chunk` objects, one stream at a time. */
export class ChatChunkEncoder {
  constructor(
    private readonly meta: ResponseMeta,
    private readonly includeUsage: boolean,
  ) {}

  private chunk(delta: Record<string, unknown>, finishReason: string | null = null) {
    return {
      id: this.meta.id,
      object: "chat.completion.chunk",
      created: this.meta.created,
      model: this.meta.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      ...(this.includeUsage ? { usage: null } : {}),
    };
  }

  /** The opening chunk, sent before any generated text. */
  start() {
    return this.chunk({ role: "assistant", content: "" });
  }

  encode(event: GenerationEvent): object[] {
    switch (event.type) {
      case "text":
        return [this.chunk({ content: event.text })];
      case "reasoning":
        return [this.chunk({ reasoning_content: event.text })];
      case "tool_call_start":
        return [
          this.chunk({
            tool_calls: [{ index: event.index, id: event.id, type: "function", function: { name: event.name, arguments: "" } }],
          }),
        ];
      case "tool_call_delta":
        return [this.chunk({ tool_calls: [{ index: event.index, function: { arguments: event.arguments } }] })];
      case "done": {
        const out: object[] = [this.chunk({}, openAIFinishReason(event.finishReason))];
        if (this.includeUsage) {
          out.push({
            id: this.meta.id,
            object: "chat.completion.chunk",
            created: this.meta.created,
            model: this.meta.model,
            choices: [],
            usage: toOpenAIUsage(event.usage),
          });
        }
        return out;
      }
    }
  }
}
