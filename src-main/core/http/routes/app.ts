import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { parseBody } from "../../dialects/validation.js";
import { SETTING_KEYS } from "../../domain/appState.js";
import { AuthenticationError } from "../../errors.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

const ConversationSchema = z.object({
  id: z
    .string()
    .regex(/^conv_[0-9a-f]{16}$/)
    .optional(),
  title: z.string().min(1).max(200),
  model: z.string().nullish(),
  data: z.unknown(),
});

const SettingsSchema = z
  .object({
    host: z.string().min(1).nullish(),
    port: z.number().int().min(0).max(65535).nullish(),
    allowLoopbackWithoutKey: z.boolean().nullish(),
    corsOrigins: z.array(z.string().min(1)).nullish(),
    modelsDir: z.string().min(1).nullish(),
    threads: z.number().int().min(1).max(256).nullish(),
    modelTtlMinutes: z.number().min(0).nullish(),
    maxLoadedModels: z.number().int().min(1).max(64).nullish(),
  })
  .strict();

/** The web app (served at `/`), its sign-in exchange, and the app's own state (conversations, settings). */
export async function appRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  // A one-time code from the sign-in link printed by `serve`, exchanged once for a session key.
  app.post("/api/auth/exchange", { bodyLimit: 4096 }, async (request) => {
    const { code } = parseBody(z.object({ code: z.string().min(1).max(100) }), request.body);
    if (!deps.signIn.consume(code)) throw new AuthenticationError("This sign-in link was used already or has expired.");
    const { key } = deps.keys.create({
      name: `browser session ${new Date().toISOString().slice(0, 16)}`,
      scopes: ["inference", "management"],
      expiresAt: Date.now() + 30 * 86_400_000,
    });
    return { key };
  });

  await app.register(async (scoped) => {
    scoped.addHook("preHandler", requireKey(deps, "management"));
    scoped.get("/api/admin/conversations", async () => ({ data: deps.conversations.list() }));
    scoped.get<{ Params: { id: string } }>("/api/admin/conversations/:id", async (request) =>
      deps.conversations.get(request.params.id),
    );
    scoped.post("/api/admin/conversations", async (request) => {
      const body = parseBody(ConversationSchema, request.body);
      return deps.conversations.save({
        ...(body.id ? { id: body.id } : {}),
        title: body.title,
        model: body.model ?? null,
        data: body.data ?? null,
      });
    });
    scoped.delete<{ Params: { id: string } }>("/api/admin/conversations/:id", async (request) => ({
      id: request.params.id,
      deleted: deps.conversations.remove(request.params.id),
    }));
    scoped.get("/api/admin/settings", async () => ({
      saved: deps.settings.get(),
      running: Object.fromEntries(SETTING_KEYS.map((k) => [k, deps.options[k]])),
    }));
    scoped.put("/api/admin/settings", { bodyLimit: 64 * 1024 }, async (request) => ({
      saved: deps.settings.update(parseBody(SettingsSchema, request.body)),
      restartRequired: true,
    }));
  });

  const webRoot = deps.options.webRoot;
  if (webRoot && existsSync(join(webRoot, "index.html"))) {
    await app.register(fastifyStatic, {
      root: webRoot,
      prefix: "/",
      index: "index.html",
      // The renderer's own CSP is in its HTML; API calls go to this same origin.
      setHeaders: (res) => res.setHeader("x-content-type-options", "nosniff"),
    });
  }
}
