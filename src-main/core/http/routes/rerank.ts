import type { FastifyReply, FastifyRequest } from "fastify";
import { type ParsedRerank, parseRerank, toCohereRerank, toJinaRerank } from "../../dialects/rerank/rerank.js";
import type { RerankResult } from "../../inference/types.js";
import type { ServerDeps } from "../context.js";
import { type LocalTarget, modelEndpoint } from "../pipeline.js";

/** Response header naming the documents that were cut to fit the model's context. */
export const TRUNCATED_HEADER = "x-maas-truncated-documents";

const rerank = (deps: ServerDeps, format: (parsed: ParsedRerank, result: RerankResult, request: FastifyRequest) => object) =>
  modelEndpoint({
    operation: "rerank",
    parse: parseRerank,
    local: (parsed, { modelId, model }: LocalTarget, request: FastifyRequest, reply: FastifyReply) => ({
      call: async (signal) => {
        const result = await deps.engine.rerank({ ...parsed.request, model: modelId }, signal, model);
        if (result.truncated.length > 0) reply.header(TRUNCATED_HEADER, result.truncated.join(","));
        return { body: format(parsed, result, request), promptTokens: result.promptTokens };
      },
    }),
  });

/** Jina-compatible `POST /v1/rerank` and `/rerank`. */
export const jinaRerank = (deps: ServerDeps) => rerank(deps, (parsed, result) => toJinaRerank(parsed, result));

/** Cohere v2 `POST /v2/rerank`. */
export const cohereRerank = (deps: ServerDeps) =>
  rerank(deps, (parsed, result, request) => toCohereRerank(parsed, result, request.id));
