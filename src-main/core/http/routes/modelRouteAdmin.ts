import type { FastifyInstance } from "fastify";
import { RouteCreate, type RouteDeleted, type RoutePublic, RouteUpdate } from "../../contract/index.js";
import { parseBody } from "../../dialects/validation.js";
import type { RouteInput } from "../../domain/routes.js";
import { NotFoundError } from "../../errors.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

/** A create or update body as the route service takes it (camelCase already: only defaults are filled in). */
function toInput(body: RouteCreate): RouteInput {
  return {
    name: body.name,
    genericProxy: body.genericProxy ?? false,
    enabled: body.enabled ?? true,
    targets: body.targets.map((t) => ({
      ...(t.id !== undefined ? { id: t.id } : {}),
      kind: t.kind,
      modelId: t.modelId ?? null,
      upstreamUrl: t.upstreamUrl ?? null,
      // Left out on update: the stored key stays.
      ...(t.upstreamKey !== undefined ? { upstreamKey: t.upstreamKey } : {}),
      upstreamModel: t.upstreamModel ?? null,
      command: t.command ?? null,
      ...(t.weight !== undefined ? { weight: t.weight } : {}),
      fallback: t.fallback ?? false,
    })),
  };
}

/** The admin API for model routes and their managed processes under `/api/admin` (management key). Upstream keys are never returned. */
export async function modelRouteAdminRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "management"));

  app.get("/api/admin/routes", async (): Promise<{ data: RoutePublic[] }> => {
    deps.routes.syncModels(deps.models.list());
    return { data: deps.routes.list() };
  });

  app.post("/api/admin/routes", { bodyLimit: 1024 * 1024 }, async (request, reply) => {
    const route = deps.routes.create(toInput(parseBody(RouteCreate, request.body)));
    return reply.status(201).send(route);
  });

  app.put<{ Params: { id: string } }>(
    "/api/admin/routes/:id",
    { bodyLimit: 1024 * 1024 },
    async (request): Promise<RoutePublic> =>
      deps.routes.update(Number(request.params.id), toInput(parseBody(RouteUpdate, request.body))),
  );

  app.delete<{ Params: { id: string } }>("/api/admin/routes/:id", async (request) => {
    if (!deps.routes.remove(Number(request.params.id))) {
      throw new NotFoundError(`No route with id ${request.params.id}.`, "id", "route_not_found");
    }
    const answer: RouteDeleted = { id: Number(request.params.id), deleted: true };
    return answer;
  });

  app.get("/api/admin/processes", async () => ({ data: deps.processes.status() }));
}
