import { randomBytes, randomInt } from "node:crypto";
import {
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatWrapper,
  JinjaTemplateChatWrapper,
  type Llama,
  LlamaChat,
  LlamaCompletion,
  type LlamaGrammar,
  LlamaText,
  resolveChatWrapper,
  SpecialToken,
  type Token,
} from "node-llama-cpp";
import type { Logger } from "pino";
import { AbortedError, ContextExceededError, InvalidRequestError, ModelNotFoundError, ServerError } from "../errors.js";
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
import { contextExceededMessage } from "./contextSize.js";
import { EventChannel } from "./EventChannel.js";
import { anyJsonObjectGrammar, type CompiledSchema, compileSchema, SchemaCompileError } from "./grammar/index.js";
import { ForcedCallParser, type ForcedCallPlan, planForcedCall, type SyntaxPiece } from "./grammar/toolCall.js";
import { toChatHistory } from "./history.js";
import { toGrammarSchema } from "./jsonSchema.js";
import { loadLlama } from "./llama.js";
import { type LoadedModel, ModelPool, type PoolOptions, type SequenceLease } from "./ModelPool.js";
import { StopText } from "./stopText.js";

export interface EngineOptions extends PoolOptions {
  gpu: "auto" | false;
  /** node-llama-cpp's prebuilt engine even where a local build exists. */
  prebuiltEngine?: boolean;
  logger: Logger;
  /** Looks a model id up in the library; `undefined` means unknown. */
  resolveModel: (id: string) => ModelInfo | undefined;
  /** Compiles a JSON schema for a grammar (an engine process passes one that moves large schemas off its event loop). Defaults to the compiler, inline. */
  compileSchema?: (schema: unknown, strict: boolean) => Promise<CompiledSchema>;
}

/** llama-server's defaults, used when a request leaves a sampling field out. */
const SAMPLING_DEFAULTS = { temperature: 0.8, topP: 0.95, topK: 40, minP: 0.05 } as const;

export function newToolCallId(): string {
  return `call_${randomBytes(12).toString("hex")}`;
}

type GenerationStop = { finishReason: FinishReason; stopSequence?: string };

/**
 * How many of the tokens before a completion's new ones it is detokenized after (more than
 * node-llama-cpp looks at): the text of each piece as a continuation, not as a text's start.
 */
const PROMPT_TAIL_TOKENS = 8;

/** Extra tokens a chat may run past max_tokens so text held back as a possible stop sequence reaches us. */
const HOLD_BACK_SLACK = 8;

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
    const llama = await loadLlama({
      gpu: options.gpu,
      maxThreads: options.threads,
      logger: options.logger,
      ...(options.prebuiltEngine ? { prebuilt: true } : {}),
    });
    return new Engine(llama, new ModelPool(llama, options, options.logger), options);
  }

  private resolve(id: string, capability: ModelCapability, param = "model"): ModelInfo {
    return requireCapability(id, this.options.resolveModel(id), capability, param);
  }

  /** A compiled grammar for GBNF text, made once per text (llama.cpp parses it each time otherwise). */
  private grammarFor(gbnf: string): Promise<LlamaGrammar> {
    let grammar = this.grammarCache.get(gbnf);
    if (!grammar) {
      grammar = this.llama.createGrammar({ grammar: gbnf });
      this.grammarCache.set(gbnf, grammar);
      grammar.catch(() => this.grammarCache.delete(gbnf));
      if (this.grammarCache.size > 64) {
        const oldest = this.grammarCache.keys().next().value;
        if (oldest !== undefined) this.grammarCache.delete(oldest);
      }
    }
    return grammar;
  }

  /** The grammar of a JSON schema, compiled by our own compiler. */
  private async grammarForSchema(
    schema: unknown,
    param: string,
    strict: boolean,
    compile: () => string | Promise<string> = async () =>
      (this.options.compileSchema ? await this.options.compileSchema(schema, strict) : compileSchema(schema, { strict })).gbnf,
  ) {
    let gbnf: string;
    try {
      gbnf = await compile();
    } catch (error) {
      if (error instanceof SchemaCompileError) throw new InvalidRequestError(error.message, param);
      throw error;
    }
    try {
      return await this.grammarFor(gbnf);
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
      // Without a seed each request gets its own (node-llama-cpp would use the current second,
      // so requests in the same second would sample alike).
      seed: sampling.seed ?? randomInt(2 ** 31),
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
      throw new ContextExceededError(
        contextExceededMessage({
          model: lease.loaded.info.id,
          promptTokens,
          loaded: contextSize,
          trainContextSize: lease.loaded.model.trainContextSize,
          cap: this.options.contextSize,
          explicit: lease.loaded.info.settings?.contextSize,
        }),
        "messages",
        { promptTokens, loaded: contextSize },
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
          // LlamaChat evaluates only what follows the prefix the sequence already holds.
          usage: { promptTokens, completionTokens, cachedTokens: Math.min(lease.cachedTokens, Math.max(0, promptTokens - 1)) },
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
      : withoutUnwantedBos(resolveChatWrapper(loaded.model), loaded.model.tokens.shouldPrependBosToken);
    return loaded.chatWrapper;
  }

  private promptTokens(loaded: LoadedModel, history: ReturnType<typeof toChatHistory>, functions?: ChatModelFunctions): number {
    return this.promptTokenIds(loaded, history, functions).length;
  }

  /** The prompt as LlamaChat will evaluate it (the chat template applied), as token ids. */
  private promptTokenIds(
    loaded: LoadedModel,
    history: ReturnType<typeof toChatHistory>,
    functions?: ChatModelFunctions,
  ): Token[] {
    return this.chatWrapper(loaded)
      .generateContextState({ chatHistory: history, availableFunctions: functions, documentFunctionParams: true })
      .contextText.tokenize(loaded.model.tokenizer);
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
    let history = toChatHistory(request.messages);
    let forcedCall: ForcedCallParser | undefined;
    if (forced) {
      ({ grammar, history, parser: forcedCall } = await this.forcedCallSetup(info, forcedTools, history));
    } else if (!functions && request.responseFormat?.type === "json_object") {
      grammar = await this.grammarFor(anyJsonObjectGrammar());
    } else if (!functions && request.responseFormat?.type === "json_schema") {
      const { schema, strict } = request.responseFormat;
      grammar = await this.grammarForSchema(schema, "response_format.json_schema.schema", strict ?? false);
    }
    return { info, functions, grammar, forced, forcedCall, history };
  }

  /**
   * A forced call in the model's own call syntax: the tools are described the way its
   * chat wrapper describes them, the answer is prefilled with the call's opening, and
   * the grammar (our compiler's) constrains the rest to the tool's arguments.
   */
  private async forcedCallSetup(info: ModelInfo, tools: readonly ToolDefinition[], history: ChatHistoryItem[]) {
    const loaded = await this.pool.get(info);
    const wrapper = this.chatWrapper(loaded);
    const documented: ChatModelFunctions = Object.fromEntries(
      tools.map((t) => {
        let params: ReturnType<typeof toGrammarSchema> | undefined;
        try {
          params = t.parameters ? toGrammarSchema(t.parameters, "tools") : undefined;
        } catch {
          // Described by its description alone; the grammar still enforces the full schema.
        }
        return [t.name, { ...(t.description ? { description: t.description } : {}), ...(params ? { params } : {}) }];
      }),
    );
    const call = wrapper.settings.functions.call;
    const syntax = {
      prefix: callSyntaxPieces(loaded, call.prefix),
      paramsPrefix: callSyntaxPieces(loaded, call.paramsPrefix),
    };
    const description = wrapper.generateAvailableFunctionsSystemText(documented, { documentParams: true }).toString();
    const first = history[0];
    const withTools: ChatHistoryItem[] =
      first?.type === "system"
        ? [{ type: "system", text: `${description}\n\n${first.text}` }, ...history.slice(1)]
        : [{ type: "system", text: description }, ...history];
    let plan: ForcedCallPlan | undefined;
    const grammar = await this.grammarForSchema(tools, "tools", false, () => {
      try {
        plan = planForcedCall(tools, syntax);
        return plan.gbnf;
      } catch (error) {
        if (error instanceof SchemaCompileError) {
          const index = tools.findIndex((t) => {
            try {
              compileSchema(t.parameters ?? {}, { strict: t.strict ?? false });
              return false;
            } catch {
              return true;
            }
          });
          throw new SchemaCompileError(`tools[${Math.max(0, index)}]: ${error.message}`, error.keyword, error.path);
        }
        throw error;
      }
    });
    const { prefill, leads } = plan as ForcedCallPlan;
    const last = withTools[withTools.length - 1];
    if (last?.type === "model") withTools[withTools.length - 1] = { ...last, response: [...last.response, prefill] };
    else withTools.push({ type: "model", response: [prefill] });
    return { grammar, history: withTools, parser: new ForcedCallParser(tools, leads, newToolCallId) };
  }

  /** The prompt's length in tokens, as `chat` would feed it (Anthropic's count_tokens). */
  async countChatTokens(request: ChatRequest): Promise<number> {
    const { info, functions, history } = await this.prepareChat(request);
    const loaded = await this.pool.get(info);
    return this.promptTokens(loaded, history, functions);
  }

  async chat(request: ChatRequest, signal?: AbortSignal): Promise<GenerationStream> {
    const { info, functions, grammar, forced, forcedCall, history } = await this.prepareChat(request);
    const loaded = await this.pool.get(info);
    // The prompt's tokens pick the sequence whose cache shares the longest prefix (sequenceChoice.ts).
    const promptIds = this.promptTokenIds(loaded, history, functions);
    const lease = await loaded.acquireSequence(signal, { promptTokens: promptIds, affinityKey: request.cacheKey });
    let chat: LlamaChat;
    let maxTokens: number;
    let promptTokens: number;
    try {
      chat = new LlamaChat({ contextSequence: lease.sequence, chatWrapper: this.chatWrapper(loaded) });
      promptTokens = promptIds.length;
      maxTokens = this.budget(lease, promptTokens, request.sampling.maxTokens);
      // Drop the sequence's stale cache now, without waiting for the other streams (sequenceAlign.ts).
      await lease.align(promptIds);
    } catch (error) {
      lease.release();
      throw error;
    }
    const sampling = this.samplingOptions(request.sampling, info);
    // Room past max_tokens for text node-llama-cpp holds back as a possible stop sequence: it
    // drops such text when max_tokens ends the generation, so we stop at the limit ourselves.
    const slack = functions ? 0 : Math.max(0, Math.min(HOLD_BACK_SLACK, lease.sequence.contextSize - promptTokens - maxTokens));
    return this.stream(lease, signal, promptTokens, async (push, abortSignal, countTokens) => {
      const started = new Set<number>();
      const callIds: string[] = [];
      const limit = new AbortController();
      const stopAtLimit = () => limit.abort();
      abortSignal.addEventListener("abort", stopAtLimit, { once: true });
      let delivered = 0;
      const forcedTokens: Token[] = [];
      try {
        const common = {
          ...sampling,
          maxTokens: maxTokens + slack,
          signal: limit.signal,
          stopOnAbortSignal: true,
          onResponseChunk: (chunk: { type: "segment" | undefined; segmentType?: string; text: string; tokens: Token[] }) => {
            if (!functions && delivered >= maxTokens) return;
            let { text, tokens } = chunk;
            if (!functions && delivered + tokens.length > maxTokens) {
              tokens = tokens.slice(0, maxTokens - delivered);
              text = loaded.model.detokenize(tokens);
            }
            delivered += tokens.length;
            countTokens(tokens.length);
            if (!functions && delivered >= maxTokens) limit.abort();
            if (forcedCall && chunk.type !== "segment") {
              // Special tokens shown: a call syntax's special tokens are part of what the parser matches.
              const shown = loaded.model.detokenize(tokens, true, forcedTokens);
              forcedTokens.push(...tokens);
              for (const event of forcedCall.feed(shown)) push(event);
              return;
            }
            if (!text) return;
            if (chunk.type === "segment") {
              if (chunk.segmentType === "thought") push({ type: "reasoning", text });
            } else push({ type: "text", text });
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
        const stop: GenerationStop =
          !functions && delivered >= maxTokens && !abortSignal.aborted
            ? { finishReason: "length" }
            : mapStopReason(response.metadata);
        // A forced call the grammar finished is a call; one cut by max_tokens stays a partial call with "length".
        if (forced && forcedCall?.hasCall && stop.finishReason !== "length") return { finishReason: "tool_calls" };
        return stop;
      } finally {
        abortSignal.removeEventListener("abort", stopAtLimit);
        chat.dispose({ disposeSequence: false });
      }
    });
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<GenerationStream> {
    const info = this.resolve(request.model, "chat");
    const loaded = await this.pool.get(info);
    // The prompt as node-llama-cpp will feed it picks the sequence whose cache shares the longest prefix.
    const { input, text: promptText } = completionInput(loaded, request.prompt);
    if (promptText.length === 0) throw new InvalidRequestError("The prompt is empty.", "prompt");
    const lease = await loaded.acquireSequence(signal, { promptTokens: input });
    let maxTokens: number;
    let promptTokens: number;
    try {
      promptTokens = input.length;
      maxTokens = this.budget(lease, promptTokens, request.sampling.maxTokens ?? 16);
      await lease.align(input);
    } catch (error) {
      lease.release();
      throw error;
    }
    // Stop sequences are matched here, not by node-llama-cpp: its detector drops the text it
    // holds back as a possible stop sequence when max_tokens ends the generation.
    const { customStopTriggers: _, ...sampling } = this.samplingOptions(request.sampling, info);
    // Room past max_tokens for tokens node-llama-cpp holds back (an incomplete UTF-8 character);
    // we stop at the limit ourselves.
    const slack = Math.max(0, Math.min(HOLD_BACK_SLACK, lease.sequence.contextSize - promptTokens - maxTokens));
    return this.stream(lease, signal, promptTokens, async (push, abortSignal, countTokens) => {
      const completion = new LlamaCompletion({ contextSequence: lease.sequence });
      const limit = new AbortController();
      const stopAtLimit = () => limit.abort();
      abortSignal.addEventListener("abort", stopAtLimit, { once: true });
      const stopText = new StopText(request.sampling.stop ?? []);
      const delivered: Token[] = [];
      // The first tokens are detokenized after the prompt's last ones: alone, a SentencePiece
      // vocabulary drops the space that begins the first piece ("sea." + " You" came out
      // "sea.You"; llama-server keeps it).
      const promptTail = input.slice(-PROMPT_TAIL_TOKENS);
      let stopped: GenerationStop | undefined;
      try {
        // As tokens: LlamaCompletion would tokenize the text its own way (see completionInput); it adds the beginning token.
        const response = await completion.generateCompletionWithMeta(promptText, {
          ...sampling,
          maxTokens: maxTokens + slack,
          signal: limit.signal,
          stopOnAbortSignal: true,
          onToken: (tokens) => {
            if (stopped) return;
            const taken = tokens.slice(0, maxTokens - delivered.length);
            const before = delivered.length >= PROMPT_TAIL_TOKENS ? delivered : [...promptTail, ...delivered];
            const text = loaded.model.detokenize(taken, false, before);
            delivered.push(...taken);
            countTokens(taken.length);
            const out = stopText.push(text);
            if (out.text) push({ type: "text", text: out.text });
            if (out.stop !== undefined) stopped = { finishReason: "stop_sequence", stopSequence: out.stop };
            else if (delivered.length >= maxTokens) stopped = { finishReason: "length" };
            if (stopped) limit.abort();
          },
        });
        if (stopped?.finishReason === "stop_sequence") return stopped;
        const rest = stopText.flush();
        if (rest) push({ type: "text", text: rest });
        if (stopped && !abortSignal.aborted) return stopped;
        return mapStopReason(response.metadata);
      } finally {
        abortSignal.removeEventListener("abort", stopAtLimit);
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

/**
 * A call syntax's text as pieces: plain strings as they are, special-token parts
 * tokenized, each special token kept as its id (the grammar writes it as a token).
 */
function callSyntaxPieces(loaded: LoadedModel, value: unknown): SyntaxPiece[] {
  const model = loaded.model;
  const pieces: SyntaxPiece[] = [];
  const addText = (text: string) => {
    const last = pieces[pieces.length - 1];
    if (last && last.token === undefined) last.text += text;
    else if (text) pieces.push({ text });
  };
  for (const part of LlamaText(value as never).values) {
    if (typeof part === "string") {
      addText(part);
      continue;
    }
    const tokens = LlamaText(part).tokenize(model.tokenizer);
    if (!tokens.some((t) => model.isSpecialToken(t))) {
      addText(LlamaText(part).toString());
      continue;
    }
    let plain: Token[] = [];
    for (const token of tokens) {
      if (!model.isSpecialToken(token)) {
        plain.push(token);
        continue;
      }
      if (plain.length) addText(model.detokenize(plain, false));
      plain = [];
      pieces.push({ text: model.detokenize([token], true), token });
    }
    if (plain.length) addText(model.detokenize(plain, false));
  }
  return pieces;
}

/**
 * node-llama-cpp's built-in chat wrappers (ChatML, Llama 3, Gemma, …) start every prompt with
 * the beginning token, also where the model says not to add one
 * (`tokenizer.ggml.add_bos_token = false`). A ChatML model whose beginning token is
 * `<|im_start|>` would then read `<|im_start|><|im_start|>system`, and one whose beginning
 * token is `<|endoftext|>` (the fixtures) gets it before every chat; llama-server adds it only
 * where the model asks for it. For such a model the wrapper's prompts leave it out. A
 * template of the model's own (the Jinja wrapper) writes the token only where it says
 * `bos_token`, as llama-server's rendering does: left as it is.
 */
function withoutUnwantedBos(wrapper: ChatWrapper, modelAddsBos: boolean): ChatWrapper {
  if (modelAddsBos || wrapper instanceof JinjaTemplateChatWrapper) return wrapper;
  return new Proxy(wrapper, {
    get(target, property, receiver) {
      if (property !== "generateContextState") return Reflect.get(target, property, receiver);
      return (...args: Parameters<ChatWrapper["generateContextState"]>) => {
        const state = target.generateContextState.apply(receiver, args);
        const [first, ...rest] = state.contextText.values;
        if (!(first instanceof SpecialToken && first.value === "BOS")) return state;
        return { ...state, contextText: LlamaText(rest) };
      };
    },
  });
}

/**
 * A completion prompt's tokens, as llama.cpp's own server tokenizes one: special tokens
 * parsed (a FIM prompt's `<|fim_prefix|>` or `<PRE>` is the model's token, not its text),
 * and, with a SentencePiece vocabulary, the space the vocabulary puts before a text's first
 * word ("The cat" is `▁The ▁cat`, as the model was trained; LlamaCompletion's own
 * tokenizing of a string trims it to `T he ▁cat`). `input` has the beginning token first
 * where LlamaCompletion prepends one; `text` is the prompt's own tokens.
 */
function completionInput(loaded: LoadedModel, prompt: string): { input: Token[]; text: Token[] } {
  const model = loaded.model;
  const bos =
    model.tokens.shouldPrependBosToken && model.vocabularyType !== "rwkv" && model.vocabularyType !== "ugm"
      ? model.tokens.bos
      : null;
  const text = model.tokenize(prompt, true);
  return { input: bos !== null ? [bos, ...text] : text, text };
}

function normalize(vector: readonly number[]): number[] {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum);
  return norm > 0 ? vector.map((v) => v / norm) : [...vector];
}
