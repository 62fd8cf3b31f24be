import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { parseBody } from "../../dialects/validation.js";
import { KEY_SCOPES } from "../../domain/apiKeys.js";
import { REQUEST_CSV_COLUMNS, SUMMARY_CSV_COLUMNS, toCsv, type UsageGroup, utcDay } from "../../domain/usage.js";
import { InvalidRequestError, NotFoundError } from "../../errors.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

/** Admin request bodies are small; a tighter limit than the inference endpoints'. */
const ADMIN_BODY_LIMIT = 1024 * 1024;

const CreateKeySchema = z.object({
  name: z.string().min(1).max(200),
  scopes: z.array(z.enum(KEY_SCOPES as [string, ...string[]])).min(1),
  allowed_routes: z.array(z.string().min(1)).min(1).nullish(),
  rpm_limit: z.number().int().min(1).nullish(),
  tokens_per_day: z.number().int().min(1).nullish(),
  expires_at: z.number().int().min(0).nullish(),
  /** A key of the user's own choosing (checked for strength) instead of a generated one. */
  key: z.string().nullish(),
});

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function day(value: string | undefined, fallback: string, param: string): string {
  if (value === undefined) return fallback;
  if (!DAY.test(value)) throw new InvalidRequestError(`${param} must be a UTC day, YYYY-MM-DD.`, param);
  return value;
}

function optionalInt(value: string | undefined, param: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidRequestError(`${param} must be an integer.`, param);
  return n;
}

function sendCsv(reply: FastifyReply, name: string, csv: string) {
  return reply.type("text/csv; charset=utf-8").header("content-disposition", `attachment; filename="${name}.csv"`).send(csv);
}

/** Management API (`/api/admin/*`): always needs a management key. */
export async function adminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "management"));

  app.get("/api/admin/engine", async () => {
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
    const body = parseBody(CreateKeySchema, request.body);
    const created = deps.keys.create({
      name: body.name,
      scopes: body.scopes as Array<"inference" | "management">,
      allowedRoutes: body.allowed_routes ?? null,
      rpmLimit: body.rpm_limit ?? null,
      tokensPerDay: body.tokens_per_day ?? null,
      expiresAt: body.expires_at ?? null,
      ...(body.key ? { custom: body.key } : {}),
    });
    // The only time the full key is shown.
    return reply.status(201).send({ key: created.key, ...created.record });
  });

  app.delete<{ Params: { id: string } }>("/api/admin/keys/:id", async (request) => {
    const id = Number(request.params.id);
    const key = Number.isInteger(id) ? deps.keys.get(id) : undefined;
    if (!key) throw new NotFoundError(`No API key with id ${request.params.id}.`, "id");
    deps.keys.revoke(id);
    return { ...deps.keys.get(id), revoked: true };
  });

  app.get<{ Querystring: { from?: string; to?: string; group_by?: string; format?: string } }>(
    "/api/admin/usage",
    async (request, reply) => {
      const today = utcDay(Date.now());
      const from = day(request.query.from, utcDay(Date.now() - 29 * 86_400_000), "from");
      const to = day(request.query.to, today, "to");
      const groupBy = (request.query.group_by ?? "model") as UsageGroup;
      if (!["model", "key", "operation", "day"].includes(groupBy)) {
        throw new InvalidRequestError("group_by must be one of: model, key, operation, day.", "group_by");
      }
      const data = deps.usage.summary({ from, to, groupBy });
      if (request.query.format === "csv") {
        return sendCsv(reply, `usage-${groupBy}-${from}-${to}`, toCsv(data, SUMMARY_CSV_COLUMNS));
      }
      return { from, to, group_by: groupBy, data };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string; group_by?: string } }>("/api/admin/usage/series", async (request) => {
    const from = day(request.query.from, utcDay(Date.now() - 29 * 86_400_000), "from");
    const to = day(request.query.to, utcDay(Date.now()), "to");
    const groupBy = (request.query.group_by ?? "model") as "model" | "key" | "operation";
    if (!["model", "key", "operation"].includes(groupBy)) {
      throw new InvalidRequestError("group_by must be one of: model, key, operation.", "group_by");
    }
    return { from, to, group_by: groupBy, data: deps.usage.series({ from, to, groupBy }) };
  });

  app.get<{
    Querystring: Record<
      "limit" | "offset" | "model" | "key_id" | "key" | "operation" | "status" | "error" | "from" | "to" | "format",
      string | undefined
    >;
  }>("/api/admin/usage/requests", async (request, reply) => {
    const q = request.query;
    const filter = {
      limit: optionalInt(q.limit, "limit") ?? 100,
      offset: optionalInt(q.offset, "offset") ?? 0,
      ...(q.model ? { model: q.model } : {}),
      ...(q.operation ? { operation: q.operation } : {}),
      // `model`, `key` (a key's name), `operation` and `error` match a part of the value.
      ...(q.key ? { keyName: q.key } : {}),
      ...(q.error ? { error: q.error } : {}),
      ...(optionalInt(q.key_id, "key_id") !== undefined ? { apiKeyId: optionalInt(q.key_id, "key_id") } : {}),
      ...(optionalInt(q.status, "status") !== undefined ? { status: optionalInt(q.status, "status") } : {}),
      ...(optionalInt(q.from, "from") !== undefined ? { from: optionalInt(q.from, "from") } : {}),
      ...(optionalInt(q.to, "to") !== undefined ? { to: optionalInt(q.to, "to") } : {}),
    };
    const page = deps.usage.requests(filter);
    if (q.format === "csv") {
      return sendCsv(reply, "usage-requests", toCsv(page.data, REQUEST_CSV_COLUMNS));
    }
    return { data: page.data, total: page.total, limit: filter.limit, offset: filter.offset };
  });
}
