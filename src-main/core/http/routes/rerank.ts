import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type ParsedRerank, parseRerank, toCohereRerank, toJinaRerank } from "../../dialects/rerank/rerank.js";
import type { RerankResult } from "../../inference/types.js";
import { routeThenParse } from "../../proxy/forwarder.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";
import { metered } from "../metered.js";

/** Response header naming the documents that were cut to fit the model's context. */
export const TRUNCATED_HEADER = "x-maas-truncated-documents";

/** Jina-compatible `/v1/rerank` and `/rerank`, Cohere v2 `/v2/rerank`. */
export async function rerankRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "inference"));

  const handle =
    (format: (parsed: ParsedRerank, result: RerankResult, request: FastifyRequest) => object) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const routed = await routeThenParse(deps, request, reply, "rerank", parseRerank, (p) => p.request.model);
      if ("forwarded" in routed) return routed.forwarded;
      const { parsed, modelId, routeName } = routed;
      return metered(deps, request, reply, { operation: "rerank", model: modelId, route: routeName }, async (signal) => {
        const result = await deps.engine.rerank({ ...parsed.request, model: modelId }, signal);
        if (result.truncated.length > 0) reply.header(TRUNCATED_HEADER, result.truncated.join(","));
        return { body: format(parsed, result, request), promptTokens: result.promptTokens };
      });
    };

  const jina = handle((parsed, result) => toJinaRerank(parsed, result));
  app.post("/v1/rerank", jina);
  app.post("/rerank", jina);
  app.post(
    "/v2/rerank",
    handle((parsed, result, request) => toCohereRerank(parsed, result, request.id)),
  );
}
