import type { FastifyInstance } from "fastify";
import { prefixCacheDir } from "../../config.js";
import {
  DownloadCreate,
  type LibraryPublic,
  ModelImport,
  ModelLoad,
  type ModelPublic,
  ModelSettingsUpdate,
} from "../../contract/index.js";
import { sseEvent } from "../../dialects/sse.js";
import { parseBody } from "../../dialects/validation.js";
import { likelyFits, RECOMMENDED } from "../../domain/recommended.js";
import { effectiveSettings } from "../../engine/poolSettings.js";
import { removePrefixStore } from "../../engine/prefixStore.js";
import { InvalidRequestError, ModelNotFoundError } from "../../errors.js";
import type { ModelInfo } from "../../inference/types.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";
import { openSse } from "../sseWriter.js";

const ADMIN_BODY_LIMIT = 1024 * 1024;

/** The model library, Hugging Face, downloads and loading, under `/api/admin` (management key). */
export async function libraryRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "management"));

  const model = (id: string): ModelInfo => {
    const info = deps.models.get(id);
    if (!info) throw new ModelNotFoundError(id);
    return info;
  };

  const withState = async (info: ModelInfo): Promise<ModelPublic> => {
    const settings = effectiveSettings(info, deps.options);
    const loaded = deps.engine.statsNow().find((s) => s.id === info.id);
    const fit = await deps.engine.estimateFit(info, settings).catch(() => null);
    return { ...info, effectiveSettings: settings, state: loaded?.state ?? "unloaded", load: loaded ?? null, fit };
  };

  app.get(
    "/api/admin/library",
    async (): Promise<LibraryPublic> => ({
      data: await Promise.all(deps.models.list().map(withState)),
      // Files in the models folder that could not be read, and why (skipped until they change).
      unreadable: deps.models.unreadable(),
    }),
  );

  app.get<{ Params: { id: string } }>("/api/admin/models/:id", async (request) => withState(model(request.params.id)));

  app.post("/api/admin/models/import", { bodyLimit: ADMIN_BODY_LIMIT }, async (request, reply) => {
    const body = parseBody(ModelImport, request.body);
    const info = await deps.models.import(body.path, deps.options.modelsDir, body.mode, body.id);
    return reply.status(201).send(await withState(info));
  });

  app.post("/api/admin/models/scan", async () => deps.models.scan(deps.options.modelsDir));

  app.delete<{ Params: { id: string } }>("/api/admin/models/:id", async (request) => {
    const removed = deps.models.remove(request.params.id, (id) => deps.engine.isLoaded(id));
    // A model whose load failed is not loaded, yet the engine still lists it (with its error): forget it too.
    await deps.engine.unload(removed.id).catch(() => false);
    // Its saved prompt prefixes go with it (engine/prefixStore.ts).
    removePrefixStore(prefixCacheDir(deps.options.dataDir), removed.id);
    return { id: removed.id, deleted: true };
  });

  app.put<{ Params: { id: string } }>("/api/admin/models/:id/settings", { bodyLimit: ADMIN_BODY_LIMIT }, async (request) => {
    model(request.params.id);
    const settings = parseBody(ModelSettingsUpdate, request.body);
    const info = deps.models.updateSettings(request.params.id, settings);
    return withState(info);
  });

  /** A memory estimate for settings not saved yet (the settings form updates it as the user types). */
  app.post<{ Params: { id: string } }>("/api/admin/models/:id/fit", { bodyLimit: ADMIN_BODY_LIMIT }, async (request) => {
    const info = model(request.params.id);
    const settings = parseBody(ModelSettingsUpdate, request.body ?? {});
    const merged = effectiveSettings({ ...info, settings: { ...info.settings, ...settings } }, deps.options);
    return deps.engine.estimateFit(info, merged);
  });

  app.post<{ Params: { id: string } }>("/api/admin/models/:id/load", { bodyLimit: ADMIN_BODY_LIMIT }, async (request) => {
    const info = model(request.params.id);
    // An optional context to load with this time (not saved: a longer prompt may still grow it).
    const body = parseBody(ModelLoad, request.body ?? {});
    await deps.engine.load(info, body.contextSize !== undefined ? { contextSize: body.contextSize } : {});
    return withState(info);
  });

  app.post<{ Params: { id: string } }>("/api/admin/models/:id/unload", async (request) => {
    model(request.params.id);
    return { id: request.params.id, unloaded: await deps.engine.unload(request.params.id) };
  });

  app.get("/api/admin/system", async () => deps.engine.describe());

  app.get("/api/admin/recommended", async () => {
    const system = await deps.engine.describe();
    const freeVram = system.devices.reduce((n, d) => n + d.vramFree, 0);
    return {
      data: RECOMMENDED.map((r) => ({ ...r, fits: likelyFits(r.sizeBytes, system.ram.free, freeVram) })),
    };
  });

  app.get<{ Querystring: { q?: string; limit?: string } }>("/api/admin/hf/search", async (request) => {
    const q = (request.query.q ?? "").trim();
    if (!q) throw new InvalidRequestError("q (what to search for) is required.", "q");
    return { data: await deps.hf.search(q, Math.min(50, Math.max(1, Number(request.query.limit ?? 20) || 20))) };
  });

  app.get<{ Querystring: { repo?: string; revision?: string } }>("/api/admin/hf/files", async (request) => {
    const repo = request.query.repo ?? "";
    const system = await deps.engine.describe();
    const freeVram = system.devices.reduce((n, d) => n + d.vramFree, 0);
    const files = await deps.hf.files(repo, request.query.revision ?? "main");
    return { repo, data: files.map((f) => ({ ...f, fits: likelyFits(f.size, system.ram.free, freeVram) })) };
  });

  app.get("/api/admin/downloads", async () => ({ data: deps.downloads.list() }));

  app.post("/api/admin/downloads", { bodyLimit: ADMIN_BODY_LIMIT }, async (request, reply) => {
    const body = parseBody(DownloadCreate, request.body);
    return reply.status(202).send(await deps.downloads.start(body.ref));
  });

  app.delete<{ Params: { id: string } }>("/api/admin/downloads/:id", async (request) => deps.downloads.cancel(request.params.id));

  app.post<{ Params: { id: string } }>("/api/admin/downloads/:id/retry", async (request) =>
    deps.downloads.retry(request.params.id),
  );

  // Stops a download and keeps its partial file; `/retry` resumes it from there.
  app.post<{ Params: { id: string } }>("/api/admin/downloads/:id/pause", async (request) =>
    deps.downloads.pause(request.params.id),
  );

  /** Download progress, model load states and finished requests, pushed as server-sent events. */
  app.get("/api/admin/events", async (request, reply) => {
    const writer = openSse(request, reply);
    writer.write(sseEvent("downloads", { type: "downloads", data: deps.downloads.list() }));
    const unsubscribe = deps.downloads.subscribe((download) =>
      writer.write(sseEvent("download", { type: "download", data: download })),
    );
    // Each finished request, for the live log (the usage row only: no prompt text).
    const offUsage = deps.usage.onRecord((record) =>
      writer.write(sseEvent("request", { type: "request", data: { ...record, createdAt: Date.now() } })),
    );
    let lastModels = "";
    const timer = setInterval(() => {
      const models = JSON.stringify(deps.engine.statsNow());
      if (models !== lastModels) {
        lastModels = models;
        writer.write(sseEvent("models", { type: "models", data: JSON.parse(models) }));
      } else writer.write(": keep-alive\n\n");
    }, 500);
    reply.raw.on("close", () => {
      clearInterval(timer);
      unsubscribe();
      offUsage();
    });
  });
}
