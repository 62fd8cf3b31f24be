/**
 * The dashboard's "Connect an app": what `maas-base connect <client>` prints, over the admin
 * API. It never writes into the user's home (a browser page cannot show a diff and ask first
 * the way the CLI does); it returns the configuration for the page to show with copy buttons,
 * and creates the aliases and a key only when asked (`create: true`), the key shown once.
 */
import { homedir } from "node:os";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { aliasPlan, ensureAliases } from "../../connect/aliases.js";
import { buildConnection, CLIENTS, type ClientName, configPaths, FIRST_PROMPT_TOKENS } from "../../connect/clients.js";
import { type ConnectContext, ConnectCreate, type ConnectOptionsPublic, type ConnectPublic } from "../../contract/index.js";
import { parseBody } from "../../dialects/validation.js";
import { contextBounds } from "../../engine/contextSize.js";
import { InvalidRequestError, ModelNotFoundError } from "../../errors.js";
import type { ModelInfo } from "../../inference/types.js";
import { requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

/** Stands for the key in a preview: the page offers to create one. */
export const KEY_PLACEHOLDER = "<your-maas-base-key>";

/** The server as the page reached it (what a client on this machine should call). */
function serverUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? request.hostname}`;
}

export async function connectRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.addHook("preHandler", requireKey(deps, "management"));

  /** The model's context: the most it may get, what it has now, what the client's first request needs. */
  const contextOf = (info: ModelInfo, client?: ClientName): ConnectContext => {
    const possible = contextBounds({
      explicit: info.settings?.contextSize,
      cap: deps.options.contextSize,
      trainContextSize: info.contextLength,
    }).max;
    const loaded = deps.engine.statsNow().find((s) => s.id === info.id)?.contextSize || null;
    const firstRequest = client ? (FIRST_PROMPT_TOKENS[client] ?? null) : null;
    return {
      possible,
      loaded,
      pinned: info.settings?.contextSize !== undefined,
      firstRequest,
      fits: firstRequest === null || possible >= firstRequest,
    };
  };

  app.get(
    "/api/admin/connect",
    async (): Promise<ConnectOptionsPublic> => ({
      clients: CLIENTS.map((id) => ({ id, firstRequestTokens: FIRST_PROMPT_TOKENS[id] ?? null })),
      models: deps.models
        .list()
        .filter((m) => m.capabilities.includes("chat"))
        .map((m) => ({ id: m.id, context: contextOf(m) })),
    }),
  );

  app.post("/api/admin/connect", { bodyLimit: 64 * 1024 }, async (request): Promise<ConnectPublic> => {
    const body = parseBody(ConnectCreate, request.body);
    const info = deps.models.get(body.model);
    if (!info) throw new ModelNotFoundError(body.model);
    if (!info.capabilities.includes("chat")) {
      throw new InvalidRequestError(`'${info.id}' is not a chat model; a client needs one.`, "model");
    }
    const context = contextOf(info, body.client);
    const paths = configPaths(body.client, homedir(), process.env);
    const url = serverUrl(request);
    const preview = buildConnection({
      client: body.client,
      url,
      key: KEY_PLACEHOLDER,
      model: info.id,
      contextSize: context.possible,
      current: Object.fromEntries(paths.map((p) => [p, undefined])),
    });
    let aliases = aliasPlan(deps.routes, preview.aliases, info.id);
    const notes = [...preview.notes];
    if (context.loaded !== null && context.firstRequest !== null && context.loaded < context.firstRequest) {
      notes.push(
        context.pinned
          ? `'${info.id}' is loaded with ${context.loaded} tokens and its context size setting pins it there: raise it in the model's settings.`
          : `'${info.id}' is loaded with ${context.loaded} tokens now; the first longer prompt reloads it with a larger context (up to ${context.possible}) if memory allows.`,
      );
    }
    if (paths.length > 0) {
      notes.push(
        `If ${paths.join(", ")} exists already, merge this into it — or run \`maas-base connect ${body.client} --model ${info.id} --write\`, which merges and shows the diff.`,
      );
    }
    let key: string | null = null;
    const changes: string[] = [];
    let connection = preview;
    if (body.create) {
      changes.push(...ensureAliases(deps.routes, preview.aliases, info.id));
      aliases = aliasPlan(deps.routes, preview.aliases, info.id);
      const created = deps.keys.create({ name: `connect-${body.client}`, scopes: ["inference"] });
      key = created.key;
      changes.push(`key created: connect-${body.client} (shown once)`);
      connection = buildConnection({
        client: body.client,
        url,
        key,
        model: info.id,
        contextSize: context.possible,
        current: Object.fromEntries(paths.map((p) => [p, undefined])),
      });
    }
    return {
      client: body.client,
      model: info.id,
      url,
      context,
      aliases,
      createsKey: !body.create,
      key,
      keyPlaceholder: body.create ? null : KEY_PLACEHOLDER,
      env: connection.env,
      files: connection.files.map((f) => ({ path: f.path, contents: f.after })),
      try: connection.try,
      notes,
      changes,
    };
  });
}
