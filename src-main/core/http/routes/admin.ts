import type { FastifyInstance, FastifyReply } from "fastify";
import type { z } from "zod";
import {
  type EnginePublic,
  KeyCreate,
  type KeyCreated,
  type KeyRevoked,
  type UsageListPublic,
  UsageListQuery,
  type UsageRequestListPublic,
  UsageRequestListQuery,
  type UsageSeriesPublic,
  UsageSeriesQuery,
} from "../../contract/index.js";
import { paramPath, parseBody } from "../../dialects/validation.js";
import { REQUEST_CSV_COLUMNS, SUMMARY_CSV_COLUMNS, toCsv, utcDay } from "../../domain/usage.js";
import { InvalidRequestError, NotFoundError } from "../../errors.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

/** Admin request bodies are small; a tighter limit than the inference endpoints'. */
const ADMIN_BODY_LIMIT = 1024 * 1024;

/** Parses a query string with a contract schema; the first problem is a 400 naming the parameter, in the schema's words. */
function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new InvalidRequestError(issue?.message ?? "Invalid query.", issue ? paramPath(issue.path) || null : null);
}

const daysAgo = (days: number) => utcDay(Date.now() - days * 86_400_000);

function sendCsv(reply: FastifyReply, name: string, csv: string) {
  return reply.type("text/csv; charset=utf-8").header("content-disposition", `attachment; filename="${name}.csv"`).send(csv);
}

/** Management API (`/api/admin/*`): always needs a management key. */
export async function adminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "management"));

  app.get("/api/admin/engine", async (): Promise<EnginePublic> => {
    const description = await deps.engine.describe();
    return {
      ...description,
      threads: deps.options.threads ?? description.cpuMathCores,
      models: await deps.engine.stats(),
      engineBuild: deps.engineBuild.status(),
    };
  });

  app.get("/api/admin/engine/build", async () => deps.engineBuild.status());

  app.get("/api/admin/models", async () => ({ data: deps.models.list() }));

  app.get("/api/admin/keys", async () => ({ data: deps.keys.list() }));

  app.post("/api/admin/keys", { bodyLimit: ADMIN_BODY_LIMIT }, async (request, reply) => {
    const body = parseBody(KeyCreate, request.body);
    const created = deps.keys.create({
      name: body.name,
      scopes: body.scopes,
      allowedRoutes: body.allowedRoutes ?? null,
      rpmLimit: body.rpmLimit ?? null,
      tokensPerDay: body.tokensPerDay ?? null,
      expiresAt: body.expiresAt ?? null,
      ...(body.key ? { custom: body.key } : {}),
    });
    // The only time the full key is shown.
    const answer: KeyCreated = { key: created.key, ...created.record };
    return reply.status(201).send(answer);
  });

  app.delete<{ Params: { id: string } }>("/api/admin/keys/:id", async (request) => {
    const id = Number(request.params.id);
    const key = Number.isInteger(id) ? deps.keys.get(id) : undefined;
    if (!key) throw new NotFoundError(`No API key with id ${request.params.id}.`, "id");
    deps.keys.revoke(id);
    const answer: KeyRevoked = { ...(deps.keys.get(id) ?? key), revoked: true };
    return answer;
  });

  app.get("/api/admin/usage", async (request, reply) => {
    const q = parseQuery(UsageListQuery, request.query);
    const from = q.from ?? daysAgo(29);
    const to = q.to ?? daysAgo(0);
    const data = deps.usage.summary({ from, to, groupBy: q.groupBy });
    if (q.format === "csv") return sendCsv(reply, `usage-${q.groupBy}-${from}-${to}`, toCsv(data, SUMMARY_CSV_COLUMNS));
    const answer: UsageListPublic = { from, to, groupBy: q.groupBy, data };
    return answer;
  });

  app.get("/api/admin/usage/series", async (request) => {
    const q = parseQuery(UsageSeriesQuery, request.query);
    const from = q.from ?? daysAgo(29);
    const to = q.to ?? daysAgo(0);
    const answer: UsageSeriesPublic = { from, to, groupBy: q.groupBy, data: deps.usage.series({ from, to, groupBy: q.groupBy }) };
    return answer;
  });

  app.get("/api/admin/usage/requests", async (request, reply) => {
    const q = parseQuery(UsageRequestListQuery, request.query);
    const filter = {
      limit: q.limit ?? 100,
      offset: q.offset ?? 0,
      ...(q.model ? { model: q.model } : {}),
      ...(q.operation ? { operation: q.operation } : {}),
      ...(q.key ? { keyName: q.key } : {}),
      ...(q.error ? { error: q.error } : {}),
      ...(q.keyId !== undefined ? { apiKeyId: q.keyId } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.from !== undefined ? { from: q.from } : {}),
      ...(q.to !== undefined ? { to: q.to } : {}),
    };
    const page = deps.usage.requests(filter);
    if (q.format === "csv") return sendCsv(reply, "usage-requests", toCsv(page.data, REQUEST_CSV_COLUMNS));
    const answer: UsageRequestListPublic = { data: page.data, total: page.total, limit: filter.limit, offset: filter.offset };
    return answer;
  });
}
