import { createHash } from "node:crypto";
import { z } from "zod";
import { InvalidRequestError } from "../../errors.js";
import type {
  ChatMessage,
  ChatRequest,
  FinishReason,
  GenerationResult,
  SamplingOptions,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from "../../inference/types.js";
import { parseBody } from "../validation.js";

// Blocks are loose objects: Claude Code sends `cache_control`, `citations` and other
// fields the local engine has no use for; they are ignored, never rejected.
const TextBlock = z.object({ type: z.literal("text"), text: z.string() }).loose();
const ToolUseBlock = z
  .object({ type: z.literal("tool_use"), id: z.string(), name: z.string(), input: z.unknown().optional() })
  .loose();
const ToolResultBlock = z
  .object({
    type: z.literal("tool_result"),
    tool_use_id: z.string(),
    content: z.union([z.string(), z.array(z.object({ type: z.string() }).loose())]).optional(),
    is_error: z.boolean().optional(),
  })
  .loose();
const ThinkingBlock = z.object({ type: z.literal("thinking"), thinking: z.string() }).loose();
const OtherBlock = z.object({ type: z.string() }).loose();
const Block = z.union([TextBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, OtherBlock]);
type BlockT = z.infer<typeof Block>;

const SystemSchema = z.union([z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() }).loose())]);

const MessageSchema = z.object({
  role: z.enum(["user", "assistant", "system"]),
  content: z.union([z.string(), z.array(Block)]),
});

const ToolSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,128}$/, "Tool names may hold letters, digits, _ and - (128 at most)."),
    description: z.string().optional(),
    input_schema: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
    type: z.string().nullish(),
  })
  .loose();

const ToolChoiceSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("auto"), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal("any"), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal("tool"), name: z.string(), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal("none") }),
]);

const PromptFields = {
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1, "messages must contain at least one message."),
  system: SystemSchema.optional(),
  tools: z.array(ToolSchema).optional(),
  tool_choice: ToolChoiceSchema.optional(),
};

export const MessagesSchema = z.object({
  ...PromptFields,
  max_tokens: z.number().int().min(1),
  stop_sequences: z.array(z.string()).max(16).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stream: z.boolean().optional(),
  metadata: z.object({ user_id: z.string().nullish() }).loose().optional(),
});

export const CountTokensSchema = z.object(PromptFields);

export interface ParsedMessages {
  request: ChatRequest;
  stream: boolean;
}

function systemText(system: z.infer<typeof SystemSchema> | undefined): string {
  if (system === undefined) return "";
  if (typeof system === "string") return system;
  return system.map((b) => (b.type === "text" ? (b.text ?? "") : "")).join("\n");
}

const UNSUPPORTED_BLOCKS = new Set(["image", "document", "search_result", "container_upload"]);

/** Tool ids: the engine makes `call_…`, Anthropic clients expect `toolu_…`. */
export const toAnthropicToolId = (id: string) => (id.startsWith("call_") ? `toolu_${id.slice(5)}` : id);

function toolResultText(block: z.infer<typeof ToolResultBlock>, param: string): string {
  const content = block.content;
  const text =
    content === undefined
      ? ""
      : typeof content === "string"
        ? content
        : content
            .map((part, i) => {
              if (part.type === "text") return String((part as { text?: unknown }).text ?? "");
              throw new InvalidRequestError(
                `Content block type '${part.type}' inside a tool_result is not supported by the local engine; only 'text' is.`,
                `${param}.content[${i}].type`,
              );
            })
            .join("\n");
  return block.is_error ? `Error: ${text}` : text;
}

/** Anthropic turns → internal messages: a user turn's tool_result blocks become tool messages, in order. */
export function toChatMessages(messages: z.infer<typeof MessageSchema>[], system: string): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (system) out.push({ role: "system", content: system });
  messages.forEach((message, i) => {
    const blocks: BlockT[] = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    const param = (j: number) => `messages[${i}].content[${j}]`;
    for (const [j, block] of blocks.entries()) {
      if (UNSUPPORTED_BLOCKS.has(block.type)) {
        throw new InvalidRequestError(
          `Content block type '${block.type}' is not supported by the local engine; it reads text only.`,
          `${param(j)}.type`,
        );
      }
    }
    if (message.role === "system") {
      const text = blocks.map((b) => (b.type === "text" ? (b as { text: string }).text : "")).join("\n");
      out.push({ role: "system", content: text });
      return;
    }
    if (message.role === "assistant") {
      let content = "";
      let reasoning = "";
      const toolCalls: ToolCall[] = [];
      for (const block of blocks) {
        if (block.type === "text") content += (block as { text: string }).text;
        else if (block.type === "thinking") reasoning += (block as { thinking: string }).thinking;
        else if (block.type === "tool_use") {
          const use = block as z.infer<typeof ToolUseBlock>;
          toolCalls.push({ id: use.id, name: use.name, arguments: JSON.stringify(use.input ?? {}) });
        }
      }
      out.push({
        role: "assistant",
        content,
        ...(reasoning ? { reasoning } : {}),
        ...(toolCalls.length ? { toolCalls } : {}),
      });
      return;
    }
    // A user turn: text pieces are joined; each tool_result is its own tool message, in place.
    let text: string[] = [];
    const flush = () => {
      if (text.length) out.push({ role: "user", content: text.join("\n") });
      text = [];
    };
    for (const [j, block] of blocks.entries()) {
      if (block.type === "text") text.push((block as { text: string }).text);
      else if (block.type === "tool_result") {
        flush();
        const result = block as z.infer<typeof ToolResultBlock>;
        out.push({ role: "tool", toolCallId: result.tool_use_id, content: toolResultText(result, param(j)) });
      }
    }
    flush();
  });
  return out;
}

function toTools(tools: z.infer<typeof ToolSchema>[] | undefined): ToolDefinition[] | undefined {
  if (!tools) return undefined;
  // Server tools (web search, code execution…) run at Anthropic; a local model cannot call them.
  return tools
    .filter((t) => !t.type || t.type === "custom")
    .map((t) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      ...(t.input_schema ? { parameters: t.input_schema } : {}),
      ...(t.strict ? { strict: true } : {}),
    }));
}

function toToolChoice(choice: z.infer<typeof ToolChoiceSchema> | undefined): ToolChoice | undefined {
  switch (choice?.type) {
    case undefined:
      return undefined;
    case "auto":
      return "auto";
    case "any":
      return "required";
    case "none":
      return "none";
    case "tool":
      return { name: choice.name };
  }
}

/**
 * A `cache_control` mark says "this prefix comes back": the system prompt (plus tools)
 * up to the first marked block names the client's cached prefix, and becomes the
 * engine's affinity hint (engine/sequenceChoice.ts). Unmarked requests get none.
 */
function cacheKeyOf(body: z.infer<typeof CountTokensSchema>): string | undefined {
  const marked = (blocks: unknown): boolean =>
    Array.isArray(blocks) && blocks.some((b) => typeof b === "object" && b !== null && "cache_control" in b);
  const anyMark =
    marked(body.system) || marked(body.tools) || body.messages.some((m) => marked((m as { content?: unknown }).content));
  if (!anyMark) return undefined;
  const prefix = JSON.stringify([systemText(body.system), (body.tools ?? []).map((t) => (t as { name?: string }).name)]);
  return `anthropic:${createHash("sha256").update(prefix).digest("hex").slice(0, 32)}`;
}

function toRequest(body: z.infer<typeof CountTokensSchema>, sampling: SamplingOptions): ChatRequest {
  const tools = toTools(body.tools);
  const toolChoice = toToolChoice(body.tool_choice);
  const cacheKey = cacheKeyOf(body);
  return {
    model: body.model,
    messages: toChatMessages(body.messages, systemText(body.system)),
    ...(tools?.length ? { tools } : {}),
    ...(toolChoice && tools?.length ? { toolChoice } : {}),
    sampling,
    ...(cacheKey ? { cacheKey } : {}),
  };
}

/** Anthropic Messages request → internal chat request. */
export function parseMessages(body: unknown): ParsedMessages {
  const parsed = parseBody(MessagesSchema, body);
  const sampling: SamplingOptions = { maxTokens: parsed.max_tokens };
  if (parsed.temperature !== undefined) sampling.temperature = parsed.temperature;
  if (parsed.top_p !== undefined) sampling.topP = parsed.top_p;
  if (parsed.top_k !== undefined) sampling.topK = parsed.top_k;
  const stop = parsed.stop_sequences?.filter((s) => s.length > 0);
  if (stop?.length) sampling.stop = stop;
  return { request: toRequest(parsed, sampling), stream: parsed.stream ?? false };
}

/** `count_tokens` request → the chat request whose prompt is counted. */
export function parseCountTokens(body: unknown): ChatRequest {
  return toRequest(parseBody(CountTokensSchema, body), {});
}

export type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use";

export function toStopReason(reason: FinishReason): StopReason {
  switch (reason) {
    case "length":
      return "max_tokens";
    case "tool_calls":
      return "tool_use";
    case "stop_sequence":
      return "stop_sequence";
    default:
      return "end_turn";
  }
}

export interface MessageMeta {
  id: string;
  model: string;
}

/** Anthropic counts cached prompt tokens apart: `input_tokens` are only those evaluated anew. */
export function toAnthropicUsage(usage: { promptTokens: number; completionTokens: number; cachedTokens?: number }) {
  const cached = Math.min(usage.cachedTokens ?? 0, usage.promptTokens);
  return {
    input_tokens: usage.promptTokens - cached,
    output_tokens: usage.completionTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

function parseInput(args: string): unknown {
  try {
    return JSON.parse(args || "{}");
  } catch {
    return {};
  }
}

/** Folded engine result → Anthropic `message` object. */
export function toAnthropicMessage(result: GenerationResult, meta: MessageMeta) {
  const content: object[] = [];
  if (result.reasoning) content.push({ type: "thinking", thinking: result.reasoning, signature: "" });
  if (result.text || (content.length === 0 && result.toolCalls.length === 0)) content.push({ type: "text", text: result.text });
  for (const call of result.toolCalls) {
    content.push({ type: "tool_use", id: toAnthropicToolId(call.id), name: call.name, input: parseInput(call.arguments) });
  }
  return {
    id: meta.id,
    type: "message" as const,
    role: "assistant" as const,
    model: meta.model,
    content,
    stop_reason: toStopReason(result.finishReason),
    stop_sequence: result.finishReason === "stop_sequence" ? (result.stopSequence ?? null) : null,
    usage: toAnthropicUsage(result.usage),
  };
}
