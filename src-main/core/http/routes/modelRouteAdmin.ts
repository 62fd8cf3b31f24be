import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { parseBody } from "../../dialects/validation.js";
import type { RouteInput } from "../../domain/routes.js";
import { NotFoundError } from "../../errors.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

const TargetSchema = z.object({
  kind: z.enum(["model", "upstream", "process"], { error: "A target is a local model, an upstream server or a process." }),
  model: z.string().nullish(),
  upstream: z.string().nullish(),
  upstream_key: z.string().nullish(),
  upstream_model: z.string().nullish(),
  command: z.string().nullish(),
  weight: z.number().int().min(1, "A target's weight is 1 to 1000.").max(1000, "A target's weight is 1 to 1000.").optional(),
  fallback: z.boolean().optional(),
});

const RouteSchema = z.object({
  name: z
    .string({ error: "Give the route a name: the name clients put in `model`." })
    .trim()
    .min(1, "Give the route a name: the name clients put in `model`.")
    .max(128, "A route's name is at most 128 characters."),
  generic_proxy: z.boolean().optional(),
  enabled: z.boolean().optional(),
  targets: z
    .array(TargetSchema)
    .min(1, "A route needs at least one target: a model, an upstream URL or a command.")
    .max(16, "A route has at most 16 targets."),
});

function toInput(body: z.infer<typeof RouteSchema>): RouteInput {
  return {
    name: body.name,
    genericProxy: body.generic_proxy ?? false,
    enabled: body.enabled ?? true,
    targets: body.targets.map((t) => ({
      kind: t.kind,
      modelId: t.model ?? null,
      upstreamUrl: t.upstream ?? null,
      // Left out on update: the stored key stays.
      ...(t.upstream_key !== undefined ? { upstreamKey: t.upstream_key } : {}),
      upstreamModel: t.upstream_model ?? null,
      command: t.command ?? null,
      ...(t.weight !== undefined ? { weight: t.weight } : {}),
      fallback: t.fallback ?? false,
    })),
  };
}

/** The admin API for model routes and their managed processes under `/api/admin` (management key). Upstream keys are never returned. */
export async function modelRouteAdminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "management"));

  app.get("/api/admin/routes", async () => {
    deps.routes.syncModels(deps.models.list());
    return { data: deps.routes.list() };
  });

  app.post("/api/admin/routes", { bodyLimit: 1024 * 1024 }, async (request, reply) => {
    const route = deps.routes.create(toInput(parseBody(RouteSchema, request.body)));
    return reply.status(201).send(route);
  });

  app.put<{ Params: { id: string } }>("/api/admin/routes/:id", { bodyLimit: 1024 * 1024 }, async (request) =>
    deps.routes.update(Number(request.params.id), toInput(parseBody(RouteSchema, request.body))),
  );

  app.delete<{ Params: { id: string } }>("/api/admin/routes/:id", async (request) => {
    if (!deps.routes.remove(Number(request.params.id))) {
      throw new NotFoundError(`No route with id ${request.params.id}.`, "id", "route_not_found");
    }
    return { id: Number(request.params.id), deleted: true };
  });

  app.get("/api/admin/processes", async () => ({ data: deps.processes.status() }));
}
