import type { FastifyInstance } from "fastify";
import { describeEngine } from "../../engine/engineInfo.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

/** Management API (`/api/admin/*`): always needs a management key. */
export async function adminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps.keys, "management"));

  app.get("/api/admin/engine", async () => ({
    ...(await describeEngine(deps.engine.llama)),
    threads: deps.options.threads ?? deps.engine.llama.cpuMathCores,
    models: await deps.engine.pool.stats(),
  }));

  app.get("/api/admin/models", async () => ({ data: deps.models.list() }));

  app.get("/api/admin/keys", async () => ({ data: deps.keys.list() }));

  app.get<{ Querystring: { limit?: string } }>("/api/admin/usage/requests", async (request) => {
    const limit = Math.min(1000, Math.max(1, Number(request.query.limit ?? 100) || 100));
    return { data: deps.usage.recent(limit) };
  });
}
