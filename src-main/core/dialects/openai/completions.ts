import { z } from "zod";
import { InvalidRequestError } from "../../errors.js";
import type { CompletionRequest, GenerationEvent, GenerationResult } from "../../inference/types.js";
import { parseBody } from "../validation.js";
import { openAIFinishReason, type ResponseMeta, SamplingFields, samplingFrom, toOpenAIUsage } from "./chat.js";

export const CompletionSchema = z.object({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.string()).length(1, "Only one prompt per request is supported.")]),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
  ...SamplingFields,
});

export type ParsedCompletion = { request: CompletionRequest; stream: boolean; includeUsage: boolean; echo: boolean };

/** OpenAI legacy completion request → internal completion request. */
export function parseCompletion(body: unknown): ParsedCompletion {
  const parsed = parseBody(CompletionSchema, body);
  if (parsed.suffix) throw new InvalidRequestError("suffix (fill-in-the-middle) is not supported.", "suffix");
  const prompt = typeof parsed.prompt === "string" ? parsed.prompt : (parsed.prompt[0] ?? "");
  return {
    request: { model: parsed.model, prompt, sampling: samplingFrom(parsed) },
    stream: parsed.stream ?? false,
    includeUsage: parsed.stream_options?.include_usage ?? false,
    echo: parsed.echo ?? false,
  };
}

export function toTextCompletion(result: GenerationResult, meta: ResponseMeta, prefix = "") {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text: prefix + result.text, logprobs: null, finish_reason: openAIFinishReason(result.finishReason) }],
    usage: toOpenAIUsage(result.usage),
  };
}

/** Engine events → `text_completion` stream chunks. */
export class CompletionChunkEncoder {
  constructor(
    private readonly meta: ResponseMeta,
    private readonly includeUsage: boolean,
  ) {}

  chunk(text: string, finishReason: string | null = null) {
    return {
      id: this.meta.id,
      object: "text_completion",
      created: this.meta.created,
      model: this.meta.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
      ...(this.includeUsage ? { usage: null } : {}),
    };
  }

  encode(event: GenerationEvent): object[] {
    if (event.type === "text") return [this.chunk(event.text)];
    if (event.type !== "done") return [];
    const out: object[] = [this.chunk("", openAIFinishReason(event.finishReason))];
    if (this.includeUsage) {
      out.push({
        id: this.meta.id,
        object: "text_completion",
        created: this.meta.created,
        model: this.meta.model,
        choices: [],
        usage: toOpenAIUsage(event.usage),
      });
    }
    return out;
  }
}
