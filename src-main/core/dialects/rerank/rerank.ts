import { z } from "zod";
import { InvalidRequestError } from "../../errors.js";
import type { RerankRequest, RerankResult } from "../../inference/types.js";
import { parseBody } from "../validation.js";

const DocumentSchema = z.union([z.string(), z.object({ text: z.string() }).loose()], {
  error: "Each document must be a string or an object with a 'text' string.",
});

const RerankSchema = z.object({
  model: z.string().min(1),
  query: z.union([z.string(), z.object({ text: z.string() }).loose()]),
  documents: z.array(DocumentSchema).min(1, "documents must not be empty.").max(10_000),
  top_n: z.number().int().min(1).nullish(),
  return_documents: z.boolean().nullish(),
});

export interface ParsedRerank {
  request: RerankRequest;
  topN: number | null;
  returnDocuments: boolean;
}

/** Jina (`/v1/rerank`, `/rerank`) and Cohere v2 (`/v2/rerank`) requests share one shape. */
export function parseRerank(body: unknown): ParsedRerank {
  const parsed = parseBody(RerankSchema, body);
  const query = typeof parsed.query === "string" ? parsed.query : parsed.query.text;
  if (!query.trim()) throw new InvalidRequestError("query must not be empty.", "query");
  return {
    request: {
      model: parsed.model,
      query,
      documents: parsed.documents.map((d) => (typeof d === "string" ? d : d.text)),
    },
    topN: parsed.top_n ?? null,
    returnDocuments: parsed.return_documents ?? true,
  };
}

/** Results sorted by score, best first, each with its index in the request; `top_n` keeps the best n. */
export function rankedResults(parsed: ParsedRerank, result: RerankResult) {
  const ranked = result.scores
    .map((score, index) => ({ index, relevance_score: score }))
    .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index);
  return parsed.topN === null ? ranked : ranked.slice(0, parsed.topN);
}

export function toJinaRerank(parsed: ParsedRerank, result: RerankResult) {
  return {
    model: parsed.request.model,
    object: "list" as const,
    results: rankedResults(parsed, result).map((r) =>
      parsed.returnDocuments ? { ...r, document: { text: parsed.request.documents[r.index] ?? "" } } : r,
    ),
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}

export function toCohereRerank(parsed: ParsedRerank, result: RerankResult, id: string) {
  return {
    id,
    results: rankedResults(parsed, result),
    meta: {
      api_version: { version: "2" },
      billed_units: { search_units: 1 },
      tokens: { input_tokens: result.promptTokens, output_tokens: 0 },
    },
  };
}
