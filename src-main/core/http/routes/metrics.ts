import type { FastifyInstance } from "fastify";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

/** `GET /metrics` in Prometheus text format: a management key, unless the setting opens it. */
export async function metricsRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  if (!deps.options.metricsWithoutKey) app.addHook("preHandler", requireKey(deps, "management"));
  app.get("/metrics", async (_request, reply) => reply.type(deps.metrics.contentType).send(await deps.metrics.text()));
}
