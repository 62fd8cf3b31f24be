import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { parseBody } from "../../dialects/validation.js";
import { AuthenticationError } from "../../errors.js";
import { describeSettings, SavedSettingsUpdate, SETTING_KEYS, type SettingsView } from "../../settings.js";
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
    // Saved values, what the running server uses, and where each running value came from:
    // `launch` = a `serve` flag or the desktop shell (wins over saved), `saved`, `default`.
    scoped.get("/api/admin/settings", async () => settingsView(deps));
    scoped.put("/api/admin/settings", { bodyLimit: 64 * 1024 }, async (request) => {
      deps.settings.update(parseBody(SavedSettingsUpdate, request.body));
      return { ...settingsView(deps), restartRequired: true };
    });
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

function settingsView(deps: ServerDeps): SettingsView {
  const sources = deps.options.settingSources;
  const running = Object.fromEntries(SETTING_KEYS.map((k) => [k, deps.options[k] ?? null])) as SettingsView["running"];
  return {
    saved: deps.settings.get(),
    /** The values this server runs with (saved changes apply at the next start). */
    running,
    /** Settings a `serve` flag (or the desktop shell) set at launch: saving them has no effect until it is dropped. */
    fromFlags: SETTING_KEYS.filter((k) => sources?.[k] === "launch"),
    sources: sources ?? {},
    settings: describeSettings(),
  };
}
