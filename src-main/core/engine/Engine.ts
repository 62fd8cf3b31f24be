import { randomBytes } from "node:crypto";
import {
  type ChatModelFunctions,
  JinjaTemplateChatWrapper,
  type Llama,
  LlamaChat,
  LlamaCompletion,
  type LlamaGrammar,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import type { Logger } from "pino";
import { AbortedError, InvalidRequestError, ModelNotFoundError, ServerError } from "../errors.js";
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  FinishReason,
  GenerationEvent,
  GenerationStream,
  ModelCapability,
  ModelInfo,
  RerankRequest,
  RerankResult,
  SamplingOptions,
  ToolDefinition,
} from "../inference/types.js";
import { requireCapability } from "./capability.js";
import { EventChannel } from "./EventChannel.js";
import { toChatHistory } from "./history.js";
import { toGrammarSchema } from "./jsonSchema.js";
import { loadLlama } from "./llama.js";
import { type LoadedModel, ModelPool, type PoolOptions, type SequenceLease } from "./ModelPool.js";

export interface EngineOptions extends PoolOptions {
  gpu: "auto" | false;
  logger: Logger;
  /** Looks a model id up in the library; `undefined` means unknown. */
  resolveModel: (id: string) => ModelInfo | undefined;
}

/** llama-server's defaults, used when a request leaves a sampling field out. */
const SAMPLING_DEFAULTS = { temperature: 0.8, topP: 0.95, topK: 40, minP: 0.05 } as const;

export function newToolCallId(): string {
  return `call_${randomBytes(12).toString("hex")}`;
}

type GenerationStop = { finishReason: FinishReason; stopSequence?: string };

function mapStopReason(metadata: { stopReason: string; customStopTrigger?: readonly (string | Token)[] }): GenerationStop {
  switch (metadata.stopReason) {
    case "maxTokens":
      return { finishReason: "length" };
    case "functionCalls":
      return { finishReason: "tool_calls" };
    case "customStopTrigger":
      return {
        finishReason: "stop_sequence",
        stopSequence: (metadata.customStopTrigger ?? []).filter((t) => typeof t === "string").join(""),
      };
    default:
      return { finishReason: "stop" };
  }
}

/**
 * The one engine every dialect drives. `chat` and `complete` resolve once the
 * request holds a sequence (so errors such as a full queue surface before any
 * response is sent), then yield events; a finished or abandoned stream releases
 * the sequence at once.
 */
export class Engine {
  private readonly grammarCache = new Map<string, Promise<LlamaGrammar>>();

  private constructor(
    readonly llama: Llama,
    readonly pool: ModelPool,
    private readonly options: EngineOptions,
  ) {}

  static async create(options: EngineOptions): Promise<Engine> {
    const llama = await loadLlama({ gpu: options.gpu, maxThreads: options.threads, logger: options.logger });
    return new Engine(llama, new ModelPool(llama, options, options.logger), options);
  }

  private resolve(id: string, capability: ModelCapability, param = "model"): ModelInfo {
    return requireCapability(id, this.options.resolveModel(id), capability, param);
  }

  private async grammarForSchema(schema: unknown, param: string): Promise<LlamaGrammar> {
    const converted = toGrammarSchema(schema, param);
    const key = JSON.stringify(converted);
    let grammar = this.grammarCache.get(key);
    if (!grammar) {
      grammar = this.llama.createGrammarForJsonSchema(converted as never) as Promise<LlamaGrammar>;
      this.grammarCache.set(key, grammar);
      grammar.catch(() => this.grammarCache.delete(key));
      if (this.grammarCache.size > 64) {
        const oldest = this.grammarCache.keys().next().value;
        if (oldest !== undefined) this.grammarCache.delete(oldest);
      }
    }
    try {
      return await grammar;
    } catch (error) {
      throw new InvalidRequestError(`Cannot enforce this JSON schema: ${(error as Error).message}`, param);
    }
  }

  /** The request's sampling, else the model's own defaults (its settings), else llama-server's. */
  private samplingOptions(sampling: SamplingOptions, info: ModelInfo) {
    const own = info.settings?.sampling ?? {};
    const penalties =
      sampling.presencePenalty || sampling.frequencyPenalty || (sampling.repeatPenalty && sampling.repeatPenalty !== 1);
    return {
      temperature: sampling.temperature ?? own.temperature ?? SAMPLING_DEFAULTS.temperature,
      topP: sampling.topP ?? own.topP ?? SAMPLING_DEFAULTS.topP,
      topK: sampling.topK ?? own.topK ?? SAMPLING_DEFAULTS.topK,
      minP: sampling.minP ?? own.minP ?? SAMPLING_DEFAULTS.minP,
      ...(sampling.seed !== undefined ? { seed: sampling.seed } : {}),
      repeatPenalty: penalties
        ? {
            penalty: sampling.repeatPenalty ?? 1,
            presencePenalty: sampling.presencePenalty ?? 0,
            frequencyPenalty: sampling.frequencyPenalty ?? 0,
            lastTokens: 64,
          }
        : (false as const),
      ...(sampling.stop?.length ? { customStopTriggers: sampling.stop } : {}),
    };
  }

  /** Caps max tokens by what is left of the sequence's context after the prompt. */
  private budget(lease: SequenceLease, promptTokens: number, requested: number | undefined): number {
    const contextSize = lease.sequence.contextSize;
    if (promptTokens >= contextSize) {
      throw new InvalidRequestError(
        `The prompt is ${promptTokens} tokens long, but the model's context holds ${contextSize} tokens.`,
        "messages",
        "context_length_exceeded",
      );
    }
    return Math.max(1, Math.min(requested ?? Number.POSITIVE_INFINITY, contextSize - promptTokens));
  }

  /**
   * Runs `generate` in the background on a leased sequence, bridging its callbacks
   * into an event stream. Abandoning the stream aborts the generation.
   */
  private stream(
    lease: SequenceLease,
    callerSignal: AbortSignal | undefined,
    promptTokens: number,
    generate: (
      push: (event: GenerationEvent) => void,
      signal: AbortSignal,
      countTokens: (n: number) => void,
    ) => Promise<GenerationStop>,
  ): GenerationStream {
    const controller = new AbortController();
    const onCallerAbort = () => controller.abort();
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    const channel = new EventChannel<GenerationEvent>();
    let completionTokens = 0;
    const logger = this.options.logger;
    const run = (async () => {
      try {
        const stop = await generate(
          (event) => channel.push(event),
          controller.signal,
          (n) => {
            completionTokens += n;
          },
        );
        if (controller.signal.aborted) {
          channel.fail(new AbortedError());
          return;
        }
        channel.push({
          type: "done",
          ...stop,
          usage: { promptTokens, completionTokens },
        });
        channel.close();
      } catch (error) {
        if (controller.signal.aborted) channel.fail(new AbortedError());
        else {
          logger.error({ err: error, model: lease.loaded.info.id }, "generation failed");
          channel.fail(new ServerError(`Generation failed: ${(error as Error).message ?? String(error)}`));
        }
      } finally {
        callerSignal?.removeEventListener("abort", onCallerAbort);
        lease.release();
      }
    })();
    return {
      promptTokens,
      async *[Symbol.asyncIterator]() {
        let finished = false;
        try {
          for await (const event of channel) {
            yield event;
            if (event.type === "done") finished = true;
          }
        } finally {
          if (!finished) {
            controller.abort();
            await run;
          }
        }
      },
    };
  }

  /** The model's chat wrapper; resolving it parses the Jinja template, so it is done once per model. */
  private chatWrapper(loaded: LoadedModel) {
    const template = loaded.info.settings?.chatTemplate;
    loaded.chatWrapper ??= template
      ? new JinjaTemplateChatWrapper({ template, tokenizer: loaded.model.tokenizer })
      : resolveChatWrapper(loaded.model);
    return loaded.chatWrapper;
  }

  private promptTokens(loaded: LoadedModel, history: ReturnType<typeof toChatHistory>, functions?: ChatModelFunctions): number {
    return this.chatWrapper(loaded)
      .generateContextState({ chatHistory: history, availableFunctions: functions, documentFunctionParams: true })
      .contextText.tokenize(loaded.model.tokenizer).length;
  }

  /** Everything a chat request needs before it holds a sequence; throws the request's 400s and 404s. */
  private async prepareChat(request: ChatRequest) {
    const info = this.resolve(request.model, "chat");
    const tools = request.toolChoice === "none" ? [] : (request.tools ?? []);
    const forced = tools.length > 0 && request.toolChoice !== undefined && request.toolChoice !== "auto";
    let forcedTools = tools;
    if (typeof request.toolChoice === "object") {
      const name = request.toolChoice.name;
      forcedTools = tools.filter((t) => t.name === name);
      if (forcedTools.length === 0) {
        throw new InvalidRequestError(`tool_choice names '${name}', which is not in tools.`, "tool_choice");
      }
    }
    const functions: ChatModelFunctions | undefined =
      tools.length > 0 && !forced
        ? Object.fromEntries(
            tools.map((t, i) => [
              t.name,
              {
                ...(t.description ? { description: t.description } : {}),
                ...(t.parameters ? { params: toGrammarSchema(t.parameters, `tools[${i}].function.parameters`) } : {}),
              },
            ]),
          )
        : undefined;
    let grammar: LlamaGrammar | undefined;
    let messages = request.messages;
    if (forced) {
      grammar = await this.grammarForSchema(forcedCallSchema(forcedTools), "tools");
      messages = [{ role: "system", content: describeTools(forcedTools) }, ...messages];
    } else if (!functions && request.responseFormat?.type === "json_object") {
      grammar = await this.llama.getGrammarFor("json");
    } else if (!functions && request.responseFormat?.type === "json_schema") {
      grammar = await this.grammarForSchema(request.responseFormat.schema, "response_format.json_schema.schema");
    }
    return { info, functions, grammar, forced, history: toChatHistory(messages) };
  }

  /** The prompt's length in tokens, as `chat` would feed it (Anthropic's count_tokens). */
  async countChatTokens(request: ChatRequest): Promise<number> {
    const { info, functions, history } = await this.prepareChat(request);
    const loaded = await this.pool.get(info);
    return this.promptTokens(loaded, history, functions);
  }

  async chat(request: ChatRequest, signal?: AbortSignal): Promise<GenerationStream> {
    const { info, functions, grammar, forced, history } = await this.prepareChat(request);
    const loaded = await this.pool.get(info);
    const lease = await loaded.acquireSequence(signal);
    let chat: LlamaChat;
    let maxTokens: number;
    let promptTokens: number;
    try {
      chat = new LlamaChat({ contextSequence: lease.sequence, chatWrapper: this.chatWrapper(loaded) });
      promptTokens = this.promptTokens(loaded, history, functions);
      maxTokens = this.budget(lease, promptTokens, request.sampling.maxTokens);
    } catch (error) {
      lease.release();
      throw error;
    }
    const sampling = this.samplingOptions(request.sampling, info);
    return this.stream(lease, signal, promptTokens, async (push, abortSignal, countTokens) => {
      const started = new Set<number>();
      const callIds: string[] = [];
      let forcedText = "";
      try {
        const common = {
          ...sampling,
          maxTokens,
          signal: abortSignal,
          stopOnAbortSignal: true,
          onResponseChunk: (chunk: { type: "segment" | undefined; segmentType?: string; text: string; tokens: Token[] }) => {
            countTokens(chunk.tokens.length);
            if (!chunk.text) return;
            if (chunk.type === "segment") {
              if (chunk.segmentType === "thought") push({ type: "reasoning", text: chunk.text });
            } else if (forced) forcedText += chunk.text;
            else push({ type: "text", text: chunk.text });
          },
        };
        const response = functions
          ? await chat.generateResponse(history, {
              ...common,
              functions,
              documentFunctionParams: true,
              onFunctionCallParamsChunk: (chunk) => {
                if (!started.has(chunk.callIndex)) {
                  started.add(chunk.callIndex);
                  callIds[chunk.callIndex] = newToolCallId();
                  push({
                    type: "tool_call_start",
                    index: chunk.callIndex,
                    id: callIds[chunk.callIndex] ?? newToolCallId(),
                    name: chunk.functionName,
                  });
                }
                if (chunk.paramsChunk) {
                  // Function-call tokens do not pass through onResponseChunk; count them from the text.
                  countTokens(loaded.model.tokenize(chunk.paramsChunk).length);
                  push({ type: "tool_call_delta", index: chunk.callIndex, arguments: chunk.paramsChunk });
                }
              },
            })
          : await chat.generateResponse(history, { ...common, ...(grammar ? { grammar } : {}) });
        // Calls whose parameters were not streamed (no params) still need announcing.
        response.functionCalls?.forEach((call, index) => {
          if (started.has(index)) return;
          push({ type: "tool_call_start", index, id: newToolCallId(), name: call.functionName });
          push({ type: "tool_call_delta", index, arguments: JSON.stringify(call.params ?? {}) });
        });
        const stop = mapStopReason(response.metadata);
        if (forced) return emitForcedCall(forcedText, stop, push);
        return stop;
      } finally {
        chat.dispose({ disposeSequence: false });
      }
    });
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<GenerationStream> {
    const info = this.resolve(request.model, "chat");
    const loaded = await this.pool.get(info);
    const lease = await loaded.acquireSequence(signal);
    let maxTokens: number;
    let promptTokens: number;
    try {
      promptTokens = loaded.model.tokenize(request.prompt).length;
      if (promptTokens === 0) throw new InvalidRequestError("The prompt is empty.", "prompt");
      maxTokens = this.budget(lease, promptTokens, request.sampling.maxTokens ?? 16);
    } catch (error) {
      lease.release();
      throw error;
    }
    const sampling = this.samplingOptions(request.sampling, info);
    return this.stream(lease, signal, promptTokens, async (push, abortSignal, countTokens) => {
      const completion = new LlamaCompletion({ contextSequence: lease.sequence });
      try {
        const response = await completion.generateCompletionWithMeta(request.prompt, {
          ...sampling,
          maxTokens,
          signal: abortSignal,
          stopOnAbortSignal: true,
          onToken: (tokens) => countTokens(tokens.length),
          onTextChunk: (text) => {
            if (text) push({ type: "text", text });
          },
        });
        return mapStopReason(response.metadata);
      } finally {
        completion.dispose({ disposeSequence: false });
      }
    });
  }

  async embed(request: EmbeddingRequest, signal?: AbortSignal): Promise<EmbeddingResult> {
    const info = this.resolve(request.model, "embedding");
    const loaded = await this.pool.get(info);
    const vocabularySize = loaded.model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
    // Validate and tokenize everything first, so a bad input fails the request before any work.
    const inputs = request.inputs.map((input, i) => {
      if (typeof input === "string") {
        const tokens = loaded.model.tokenize(input);
        if (tokens.length === 0) throw new InvalidRequestError("Input must not be empty.", `input[${i}]`);
        return tokens;
      }
      if (input.length === 0) throw new InvalidRequestError("Input must not be empty.", `input[${i}]`);
      const bad = input.find((t) => !Number.isInteger(t) || t < 0 || (vocabularySize !== undefined && t >= vocabularySize));
      if (bad !== undefined) throw new InvalidRequestError(`Token id ${bad} is outside the model's vocabulary.`, `input[${i}]`);
      return input as Token[];
    });
    const vectors = await loaded.embedding.map(signal, inputs, async (context, tokens, i) => {
      try {
        return normalize((await context.getEmbeddingFor(tokens)).vector);
      } catch (error) {
        // node-llama-cpp checks the length against the context it made (special tokens included).
        if (/longer than the usable context/i.test((error as Error).message ?? "")) {
          throw new InvalidRequestError(
            `Input ${i} is ${tokens.length} tokens long, more than the model's context holds.`,
            `input[${i}]`,
            "context_length_exceeded",
          );
        }
        throw error;
      }
    });
    return { vectors, promptTokens: inputs.reduce((n, t) => n + t.length, 0) };
  }

  /**
   * Scores each document against the query with the model's rank head. A document
   * too long for the context is cut to fit (its index is reported in `truncated`);
   * a query that leaves no room for any document is a 400.
   */
  async rerank(request: RerankRequest, signal?: AbortSignal): Promise<RerankResult> {
    const info = this.resolve(request.model, "rerank");
    const loaded = await this.pool.get(info);
    const tokenizer = loaded.model.tokenizer;
    const query = tokenizer(request.query, false, "trimLeadingSpace");
    if (query.length === 0) throw new InvalidRequestError("query must not be empty.", "query");
    const documents = request.documents.map((d) => tokenizer(d, false, "trimLeadingSpace"));
    const truncated: number[] = [];
    let promptTokens = 0;
    const scores = await loaded.ranking.map(signal, documents, async (context, document, i) => {
      // The input is query and document with the model's special tokens around them.
      const overhead = context.calculateInputLength(query, []);
      const room = context.contextSize - 1 - overhead;
      if (room <= 0) {
        throw new InvalidRequestError(
          `The query is ${query.length} tokens long and leaves no room for documents in the model's context of ${context.contextSize}.`,
          "query",
          "context_length_exceeded",
        );
      }
      let tokens = document;
      if (tokens.length > room) {
        tokens = tokens.slice(0, room);
        truncated.push(i);
      }
      promptTokens += context.calculateInputLength(query, tokens);
      return context.rank(query, tokens);
    });
    return { scores, promptTokens, truncated: truncated.sort((a, b) => a - b) };
  }

  async tokenize(modelId: string, text: string): Promise<number[]> {
    const info = this.options.resolveModel(modelId);
    if (!info) throw new ModelNotFoundError(modelId);
    const loaded = await this.pool.get(info);
    return loaded.model.tokenize(text);
  }

  async dispose(): Promise<void> {
    await this.pool.dispose();
    await this.llama.dispose();
  }
}

function normalize(vector: readonly number[]): number[] {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum);
  return norm > 0 ? vector.map((v) => v / norm) : [...vector];
}

/** The grammar for a call the client demands: `{"name": …, "arguments": {…}}`. */
function forcedCallSchema(tools: readonly ToolDefinition[]) {
  const variants = tools.map((t) => ({
    type: "object",
    properties: {
      name: { const: t.name },
      arguments: t.parameters ?? { type: "object", properties: {} },
    },
    required: ["name", "arguments"],
  }));
  return variants.length === 1 ? variants[0] : { oneOf: variants };
}

function describeTools(tools: readonly ToolDefinition[]): string {
  const list = tools.map((t) => ({ name: t.name, description: t.description ?? "", parameters: t.parameters ?? {} }));
  return `Call one of these tools. Answer only with JSON of the form {"name": <tool name>, "arguments": <object>}.\nTools: ${JSON.stringify(list)}`;
}

function emitForcedCall(text: string, stop: GenerationStop, push: (event: GenerationEvent) => void): GenerationStop {
  try {
    const call = JSON.parse(text) as { name: string; arguments: unknown };
    push({ type: "tool_call_start", index: 0, id: newToolCallId(), name: call.name });
    push({ type: "tool_call_delta", index: 0, arguments: JSON.stringify(call.arguments ?? {}) });
    return { finishReason: "tool_calls" };
  } catch {
    // Cut off by max_tokens before the call was complete: nothing usable to return.
    return stop.finishReason === "stop" ? { finishReason: "length" } : stop;
  }
}
