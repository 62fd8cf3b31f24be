import { existsSync } from "node:fs";
import { join } from "node:path";
import { constants as zlibConstants } from "node:zlib";
import compress from "@fastify/compress";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  ConversationCreate,
  SessionCreate,
  type SessionPublic,
  type SessionStatus,
  type SettingsPublic,
  SettingsUpdate,
  SignInExchange,
  type SignInLinkPublic,
} from "../../contract/index.js";
import { parseBody } from "../../dialects/validation.js";
import type { ApiKeyPublic } from "../../domain/apiKeys.js";
import type { SignInCodeResult } from "../../domain/signInCodes.js";
import { AuthenticationError, PermissionError } from "../../errors.js";
import { describeSettings, SETTING_KEYS } from "../../settings.js";
import { cookieKey, headerKey, presentedKey, requireKey, SESSION_COOKIE, SESSION_DAYS, sameOriginRequest } from "../auth.js";
import type { ServerDeps } from "../context.js";

const SIGN_IN_CODE_PROBLEMS: Record<Exclude<SignInCodeResult, "ok">, string> = {
  used: "This sign-in link was used already. Each link works once: restart `maas-base serve` for a new one, or sign in with a management key.",
  expired:
    "This sign-in link has expired (links last 15 minutes). Restart `maas-base serve` for a new one, or sign in with a management key.",
  unknown:
    "This sign-in link is not one this server made (it may be from before a restart). Use the link the latest `maas-base serve` printed, or sign in with a management key.",
};

const sessionView = (key: ApiKeyPublic): SessionPublic => ({
  id: key.id,
  name: key.name,
  scopes: key.scopes,
  expiresAt: key.expiresAt,
});

/** The web app (served at `/`), its sign-in exchange, and the app's own state (conversations, settings). */
export async function appRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  // Browser sign-in: a one-time code from the link `serve` prints, or a pasted management
  // key, becomes a browser session: a key of its own (listed and revocable on the Keys
  // page) held in an HttpOnly, SameSite=Strict cookie, so the page's script never sees it.
  const startSession = (reply: FastifyReply, via: string) => {
    const { key, record } = deps.keys.create({
      name: `Browser session (${via}) ${new Date().toISOString().slice(0, 16).replace("T", " ")}`,
      scopes: ["inference", "management"],
      expiresAt: Date.now() + SESSION_DAYS * 86_400_000,
    });
    reply.header(
      "set-cookie",
      `${SESSION_COOKIE}=${encodeURIComponent(key)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_DAYS * 86_400}`,
    );
    return { session: sessionView(record) };
  };
  const onlyFromThisApp = (request: FastifyRequest) => {
    // Signing in sets a cookie: only this app's own page may do it (no login CSRF).
    if (!sameOriginRequest(request)) throw new PermissionError("Sign in from the app's own page.");
  };

  app.post("/api/auth/exchange", { bodyLimit: 4096 }, async (request, reply) => {
    onlyFromThisApp(request);
    const { code } = parseBody(SignInExchange, request.body);
    const result = deps.signIn.consume(code);
    if (result !== "ok") throw new AuthenticationError(SIGN_IN_CODE_PROBLEMS[result]);
    return startSession(reply, "sign-in link");
  });

  app.post("/api/auth/session", { bodyLimit: 4096 }, async (request, reply) => {
    onlyFromThisApp(request);
    const { key } = parseBody(SessionCreate, request.body);
    const found = deps.keys.verify(key.trim());
    if (!found) throw new AuthenticationError("That key is not valid: it is unknown, expired or revoked.");
    if (!found.scopes.includes("management")) {
      throw new PermissionError(
        `The key '${found.name}' may only call models (scope: ${found.scope}). Signing in needs a key with the 'management' scope: maas-base keys create --name me --scope inference,management`,
      );
    }
    return startSession(reply, `key ${found.name}`);
  });

  // Who this request is signed in as (a session cookie or a header key).
  app.get("/api/auth/session", async (request): Promise<SessionStatus> => {
    const presented = presentedKey(request);
    const found = presented ? deps.keys.verify(presented) : null;
    // Not signed in is an answer here, not an error: the app asks this on every start.
    if (!found) return { session: null };
    return { session: sessionView(found), viaCookie: !headerKey(request) };
  });

  // Sign out: the session's key is revoked, not only forgotten by this browser.
  app.delete("/api/auth/session", async (request, reply) => {
    const presented = cookieKey(request);
    const found = presented && sameOriginRequest(request) ? deps.keys.verify(presented) : null;
    if (found) deps.keys.revoke(found.id);
    reply.header("set-cookie", `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return { signedOut: true };
  });

  await app.register(async (scoped) => {
    scoped.addHook("preHandler", requireKey(deps, "management"));
    // A one-time link for signing in another browser (the Keys page shows it), like the one `serve` prints.
    scoped.post("/api/admin/sign-in-link", async (request): Promise<SignInLinkPublic> => {
      const host = request.headers.host ?? "";
      return { link: `${request.protocol}://${host}/#signin=${deps.signIn.create()}`, expiresInMinutes: 15 };
    });
    scoped.get("/api/admin/conversations", async () => ({ data: deps.conversations.list() }));
    scoped.get<{ Params: { id: string } }>("/api/admin/conversations/:id", async (request) =>
      deps.conversations.get(request.params.id),
    );
    scoped.post("/api/admin/conversations", async (request) => {
      const body = parseBody(ConversationCreate, request.body);
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
      deps.settings.update(parseBody(SettingsUpdate, request.body));
      return { ...settingsView(deps), restartRequired: true };
    });
  });

  const webRoot = deps.options.webRoot;
  if (webRoot && existsSync(join(webRoot, "index.html"))) {
    await app.register(async (web) => {
      // Compressed here (this scope only: the API's streams stay as they are).
      await web.register(compress, {
        global: true,
        threshold: 1024,
        // Quality 5 compresses a megabyte in milliseconds; 11 (the default) takes a second.
        brotliOptions: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } },
      });
      await web.register(fastifyStatic, {
        root: webRoot,
        prefix: "/",
        index: "index.html",
        cacheControl: false,
        // The renderer's own CSP is in its HTML; API calls go to this same origin.
        setHeaders: (res, path) => {
          res.setHeader("x-content-type-options", "nosniff");
          // Files under assets/ carry a content hash in their names: they never change.
          const hashed = /[\\/]assets[\\/][^\\/]+-[\w-]{8,}\.\w+$/.test(path);
          res.setHeader("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
        },
      });
    });
  }
}

function settingsView(deps: ServerDeps): SettingsPublic {
  const sources = deps.options.settingSources;
  const running = Object.fromEntries(SETTING_KEYS.map((k) => [k, deps.options[k] ?? null])) as SettingsPublic["running"];
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
