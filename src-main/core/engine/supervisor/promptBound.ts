/**
 * A prompt that cannot possibly fit: refused in the server process before it crosses
 * IPC and is tokenized in the engine (a 10 MB prompt took the engine seconds to
 * tokenize, and every other request of that model waited). No token of a vocabulary
 * spans more UTF-8 bytes than its longest one, and a text has at least as many UTF-8
 * bytes as UTF-16 code units, so `characters / longest token` tokens is a floor on
 * the prompt's length — without tokenizing anything. That holds for tokenizers that keep
 * every byte (byte-level BPE, SentencePiece with byte fallback); a WordPiece vocabulary
 * drops whitespace, so its models get no such bound (the engine reports none).
 */
import { InvalidRequestError } from "../../errors.js";
import type { ChatRequest, CompletionRequest, EmbeddingRequest, ModelInfo } from "../../inference/types.js";

/** What a loaded engine says about its model (its `load` answer). */
export interface PromptLimits {
  /** UTF-8 bytes of the vocabulary's longest token (its GGUF token text, an upper bound). */
  maxTokenBytes: number;
  trainContextSize: number;
}

/** The most tokens the model could ever be given: any context a reload may pick stays below this. */
export function largestContext(limits: PromptLimits, info: ModelInfo, contextCap: number): number {
  return Math.max(limits.trainContextSize, info.settings?.contextSize ?? 0, contextCap);
}

/**
 * The characters of a chat that are certainly part of its prompt: contents, reasoning and
 * tool-call arguments, trimmed (chat templates often trim a message's ends).
 */
export function chatChars(request: ChatRequest): number {
  let n = 0;
  for (const m of request.messages) {
    n += m.content.trim().length;
    if (m.role === "assistant") {
      n += m.reasoning?.trim().length ?? 0;
      for (const call of m.toolCalls ?? []) n += call.arguments.trim().length;
    }
  }
  return n;
}

function refuse(model: string, chars: number, limits: PromptLimits, context: number, param: string): never {
  const floor = Math.ceil(chars / limits.maxTokenBytes);
  throw new InvalidRequestError(
    `The prompt is ${chars} characters long, so at least ${floor} tokens (no token of '${model}' is longer than ${limits.maxTokenBytes} bytes), ` +
      `and '${model}' can never hold more than ${context} tokens. Shorten it.`,
    param,
    "context_length_exceeded",
  );
}

/** Throws the context-overflow 400 when `chars` characters cannot fit in `context` tokens. */
export function assertCouldFit(model: string, chars: number, limits: PromptLimits, context: number, param: string): void {
  if (chars > context * limits.maxTokenBytes) refuse(model, chars, limits, context, param);
}

export function assertRequestCouldFit(
  method: string,
  request: ChatRequest | CompletionRequest | EmbeddingRequest,
  limits: PromptLimits,
  context: number,
): void {
  const model = request.model;
  if (method === "chat" || method === "countChatTokens") {
    assertCouldFit(model, chatChars(request as ChatRequest), limits, context, "messages");
  } else if (method === "complete") {
    assertCouldFit(model, (request as CompletionRequest).prompt.length, limits, context, "prompt");
  } else if (method === "embed") {
    (request as EmbeddingRequest).inputs.forEach((input, i) => {
      // Token ids are counted exactly.
      if (typeof input === "string") assertCouldFit(model, input.length, limits, context, `input[${i}]`);
      else if (input.length > context) {
        throw new InvalidRequestError(
          `Input ${i} is ${input.length} tokens long, and '${model}' can never hold more than ${context} tokens.`,
          `input[${i}]`,
          "context_length_exceeded",
        );
      }
    });
  }
}
