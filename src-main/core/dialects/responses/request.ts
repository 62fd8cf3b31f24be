import { z } from "zod";
import { InvalidRequestError } from "../../errors.js";
import type { ChatMessage, ResponseFormat, SamplingOptions, ToolChoice, ToolDefinition } from "../../inference/types.js";
import { parseBody } from "../validation.js";
import { flatToolName, type ToolOrigin, toEngineTools } from "./tools.js";

const ContentPart = z.object({ type: z.string() }).loose();
const MessageItem = z
  .object({
    type: z.literal("message").optional(),
    role: z.enum(["user", "assistant", "system", "developer"]),
    content: z.union([z.string(), z.array(ContentPart)]),
  })
  .loose();
const FunctionCallItem = z
  .object({
    type: z.literal("function_call"),
    call_id: z.string(),
    name: z.string(),
    namespace: z.string().nullish(),
    arguments: z.string(),
  })
  .loose();
const CustomToolCallItem = z
  .object({ type: z.literal("custom_tool_call"), call_id: z.string(), name: z.string(), input: z.string() })
  .loose();
const CustomToolCallOutputItem = z
  .object({
    type: z.literal("custom_tool_call_output"),
    call_id: z.string(),
    output: z.union([z.string(), z.array(ContentPart)]),
  })
  .loose();
const FunctionCallOutputItem = z
  .object({
    type: z.literal("function_call_output"),
    call_id: z.string(),
    output: z.union([z.string(), z.array(ContentPart)]),
  })
  .loose();
const OtherItem = z.object({ type: z.string() }).loose();
const InputItem = z.union([MessageItem, FunctionCallItem, FunctionCallOutputItem, OtherItem]);
export type ResponsesInputItem = z.infer<typeof InputItem>;

const TextFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z
    .object({
      type: z.literal("json_schema"),
      name: z.string().optional(),
      schema: z.record(z.string(), z.unknown()),
      strict: z.boolean().nullish(),
      description: z.string().optional(),
    })
    .loose(),
]);

export const ResponsesSchema = z
  .object({
    model: z.string().min(1),
    input: z.union([z.string(), z.array(InputItem)]),
    instructions: z.string().nullish(),
    max_output_tokens: z.number().int().min(1).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    tools: z.array(z.object({ type: z.string() }).loose()).nullish(),
    // Other choices (`allowed_tools`, a hosted tool such as `{type:"web_search"}`) fall back to `auto`.
    tool_choice: z
      .union([
        z.enum(["auto", "none", "required"]),
        z.object({ type: z.literal("function"), name: z.string(), namespace: z.string().nullish() }).loose(),
        z.object({ type: z.string() }).loose(),
      ])
      .nullish(),
    text: z.object({ format: TextFormat.optional() }).loose().nullish(),
    reasoning: z
      .object({ effort: z.enum(["none", "minimal", "low", "medium", "high", "xhigh"]).nullish(), summary: z.string().nullish() })
      .loose()
      .nullish(),
    store: z.boolean().nullish(),
    stream: z.boolean().nullish(),
    previous_response_id: z.string().nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    user: z.string().nullish(),
    prompt_cache_key: z.string().max(1024).nullish(),
  })
  .loose();

export type ResponsesBody = z.infer<typeof ResponsesSchema>;

export interface ParsedResponses {
  body: ResponsesBody;
  /** The request's own input, as items (a string input becomes one user message). */
  inputItems: ResponsesInputItem[];
  /** The new turns from this request, without instructions. */
  messages: ChatMessage[];
  tools: ToolDefinition[];
  /** Model-visible tool name → what the client expects in `function_call` items. */
  toolOrigins: Map<string, ToolOrigin>;
  /** Tool types the local engine dropped (hosted tools), for a response header. */
  droppedTools: string[];
  toolChoice: ToolChoice | undefined;
  responseFormat: ResponseFormat | undefined;
  sampling: SamplingOptions;
  stream: boolean;
  store: boolean;
  /** `prompt_cache_key`: the engine's affinity hint for a resent prefix (Codex sends its session id). */
  cacheKey: string | undefined;
}

function partsText(parts: string | Array<{ type: string }>, param: string, allowed: readonly string[]): string {
  if (typeof parts === "string") return parts;
  return parts
    .map((part, i) => {
      if (allowed.includes(part.type)) return String((part as { text?: unknown }).text ?? "");
      throw new InvalidRequestError(
        `Content type '${part.type}' is not supported by the local engine; it reads ${allowed.join(", ")}.`,
        `${param}[${i}].type`,
      );
    })
    .join("");
}

const HOSTED_HISTORY_ITEMS = new Set([
  "web_search_call",
  "file_search_call",
  "code_interpreter_call",
  "image_generation_call",
  "computer_call",
  "computer_call_output",
  "local_shell_call",
  "local_shell_call_output",
  "mcp_call",
  "mcp_list_tools",
  "mcp_approval_request",
  "mcp_approval_response",
  "tool_search_call",
  "tool_search_output",
  "compaction",
  "compaction_summary",
  "ghost_snapshot",
]);

/** Input items → chat turns. Consecutive function calls join one assistant turn. */
export function toMessages(items: ResponsesInputItem[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  items.forEach((raw, i) => {
    const param = `input[${i}]`;
    const item = raw as Record<string, unknown> & { type?: string };
    if (item.type === undefined || item.type === "message") {
      const message = MessageItem.parse(item);
      const text = partsText(message.content, `${param}.content`, ["input_text", "output_text", "text"]);
      if (message.role === "assistant") out.push({ role: "assistant", content: text });
      else if (message.role === "user") out.push({ role: "user", content: text });
      else out.push({ role: "system", content: text });
      return;
    }
    if (item.type === "function_call" || item.type === "custom_tool_call") {
      const toolCall =
        item.type === "function_call"
          ? (() => {
              const call = FunctionCallItem.parse(item);
              const name = call.namespace ? flatToolName(call.namespace, call.name) : call.name;
              return { id: call.call_id, name, arguments: call.arguments };
            })()
          : (() => {
              const call = CustomToolCallItem.parse(item);
              return { id: call.call_id, name: call.name, arguments: JSON.stringify({ input: call.input }) };
            })();
      const last = out.at(-1);
      if (last?.role === "assistant") last.toolCalls = [...(last.toolCalls ?? []), toolCall];
      else out.push({ role: "assistant", content: "", toolCalls: [toolCall] });
      return;
    }
    if (item.type === "function_call_output" || item.type === "custom_tool_call_output") {
      const result = (item.type === "function_call_output" ? FunctionCallOutputItem : CustomToolCallOutputItem).parse(item);
      out.push({
        role: "tool",
        toolCallId: result.call_id,
        content: partsText(result.output, `${param}.output`, ["input_text", "output_text", "text"]),
      });
      return;
    }
    // Reasoning items carry the model's earlier thoughts; the local chat template re-derives them.
    if (item.type === "reasoning") return;
    // Calls of hosted tools (and Codex's own bookkeeping items) in a resent history: the
    // local model never made them and cannot read them; dropping them keeps the turn going.
    if (HOSTED_HISTORY_ITEMS.has(item.type)) return;
    throw new InvalidRequestError(`Input item type '${item.type}' is not supported by the local engine.`, `${param}.type`);
  });
  return out;
}

/** Responses request → what the engine and the conversation store need. */
export function parseResponses(raw: unknown): ParsedResponses {
  const body = parseBody(ResponsesSchema, raw);
  const inputItems: ResponsesInputItem[] =
    typeof body.input === "string" ? [{ type: "message", role: "user", content: body.input }] : body.input;
  const { definitions: tools, origins: toolOrigins, dropped: droppedTools } = toEngineTools(body.tools ?? []);
  const choice = body.tool_choice;
  const toolChoice: ToolChoice | undefined =
    choice == null
      ? undefined
      : typeof choice === "string"
        ? choice
        : choice.type === "function" && typeof choice.name === "string"
          ? {
              name:
                typeof choice.namespace === "string" && choice.namespace
                  ? flatToolName(choice.namespace, choice.name)
                  : choice.name,
            }
          : "auto";
  const format = body.text?.format;
  const responseFormat: ResponseFormat | undefined =
    format === undefined || format.type === "text"
      ? undefined
      : format.type === "json_object"
        ? { type: "json_object" }
        : { type: "json_schema", schema: format.schema, ...(format.strict ? { strict: true } : {}) };
  const sampling: SamplingOptions = {};
  if (body.max_output_tokens != null) sampling.maxTokens = body.max_output_tokens;
  if (body.temperature != null) sampling.temperature = body.temperature;
  if (body.top_p != null) sampling.topP = body.top_p;
  return {
    body,
    inputItems,
    messages: toMessages(inputItems),
    tools,
    toolOrigins,
    droppedTools,
    toolChoice,
    responseFormat,
    sampling,
    stream: body.stream ?? false,
    store: body.store ?? true,
    cacheKey: body.prompt_cache_key ?? undefined,
  };
}
