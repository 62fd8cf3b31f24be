/**
 * The internal request and event types. Every dialect translates its wire
 * format into these and back; the engine only ever sees these.
 */

export type JsonSchema = { [key: string]: unknown };

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments, as the model wrote it. */
  arguments: string;
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; reasoning?: string; toolCalls?: ToolCall[] }
  | { role: "tool"; toolCallId: string; content: string };

export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: JsonSchema;
  /** Refuse (400) a schema keyword the grammar cannot enforce instead of leaving it out. */
  strict?: boolean;
}

export type ToolChoice = "auto" | "none" | "required" | { name: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | {
      type: "json_schema";
      schema: JsonSchema;
      /** Refuse (400) a schema keyword the grammar cannot enforce instead of leaving it out. */
      strict?: boolean;
    };

export interface SamplingOptions {
  /** Upper bound on generated tokens; the engine caps it by the context size. */
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repeatPenalty?: number;
  stop?: string[];
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  responseFormat?: ResponseFormat;
  sampling: SamplingOptions;
  /**
   * A client's hint that requests share a prompt prefix (OpenAI `prompt_cache_key`, the
   * prefix an Anthropic `cache_control` mark closes): the engine prefers the sequence
   * that served the same key (engine/sequenceChoice.ts).
   */
  cacheKey?: string;
}

export interface CompletionRequest {
  model: string;
  prompt: string;
  sampling: SamplingOptions;
}

export interface EmbeddingRequest {
  model: string;
  /** Text or already-tokenized input. */
  inputs: Array<string | number[]>;
}

export interface EmbeddingResult {
  vectors: number[][];
  promptTokens: number;
}

export interface RerankRequest {
  model: string;
  query: string;
  documents: string[];
}

export interface RerankResult {
  /** One relevance score per document, in the documents' order. */
  scores: number[];
  promptTokens: number;
  /** Indexes of documents cut to fit the model's context. */
  truncated: number[];
}

export type FinishReason = "stop" | "length" | "tool_calls" | "stop_sequence";

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /**
   * Of `promptTokens`, those read from the sequence's cache instead of evaluated
   * (OpenAI `cached_tokens`, Anthropic `cache_read_input_tokens`); absent = 0.
   */
  cachedTokens?: number;
}

/** What a generation yields, in order. A stream always ends with exactly one `done`. */
export type GenerationEvent =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "tool_call_start"; index: number; id: string; name: string }
  | { type: "tool_call_delta"; index: number; arguments: string }
  | { type: "done"; finishReason: FinishReason; stopSequence?: string; usage: Usage };

/** A running generation: its events, and the prompt's length known before the first one. */
export interface GenerationStream extends AsyncIterable<GenerationEvent> {
  promptTokens: number;
  /** Keywords of the request's JSON schemas the grammar leaves out (not strict), for `x-maas-schema-ignored`. */
  schemaIgnored?: ReadonlyArray<{ keyword: string; path: string; reason: string }>;
}

/** The result of folding a whole event stream. */
export interface GenerationResult {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  stopSequence?: string;
  usage: Usage;
}

export function foldEvents(events: Iterable<GenerationEvent>): GenerationResult {
  const result: GenerationResult = {
    text: "",
    reasoning: "",
    toolCalls: [],
    finishReason: "stop",
    usage: { promptTokens: 0, completionTokens: 0 },
  };
  const calls = new Map<number, ToolCall>();
  for (const event of events) {
    switch (event.type) {
      case "text":
        result.text += event.text;
        break;
      case "reasoning":
        result.reasoning += event.text;
        break;
      case "tool_call_start":
        calls.set(event.index, { id: event.id, name: event.name, arguments: "" });
        break;
      case "tool_call_delta": {
        const call = calls.get(event.index);
        if (call) call.arguments += event.arguments;
        break;
      }
      case "done":
        result.finishReason = event.finishReason;
        if (event.stopSequence !== undefined) result.stopSequence = event.stopSequence;
        result.usage = event.usage;
        break;
    }
  }
  result.toolCalls = [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, call]) => call);
  return result;
}

/** What the model registry knows about a model, as the API shows it. */
export interface ModelInfo {
  id: string;
  path: string;
  sizeBytes: number;
  architecture: string | null;
  contextLength: number | null;
  capabilities: ModelCapability[];
  createdAt: number;
  quantization?: string | null;
  parameterCount?: number | null;
  sha256?: string | null;
  hasChatTemplate?: boolean;
  /** Files the model spans (multi-part GGUF). */
  parts?: number;
  /** `local` (imported or found in the models folder) or `huggingface`. */
  source?: string;
  hfRepo?: string | null;
  hfFile?: string | null;
  settings?: ModelSettings;
}

/** Per-model settings; anything left out uses the server's defaults. */
export interface ModelSettings {
  contextSize?: number;
  gpuLayers?: "auto" | "max" | number;
  parallel?: number;
  /** Minutes without requests before the model is unloaded; 0 keeps it loaded. */
  ttlMinutes?: number;
  threads?: number;
  sampling?: { temperature?: number; topP?: number; topK?: number; minP?: number };
  /** A Jinja chat template that replaces the one in the GGUF. */
  chatTemplate?: string;
}

export type ModelCapability = "chat" | "embedding" | "rerank";
