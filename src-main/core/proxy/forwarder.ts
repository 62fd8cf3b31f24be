import type { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Route, RouteService } from "../domain/routes.js";
import type { Operation, UsageService } from "../domain/usage.js";
import { ApiError, InvalidRequestError, isAbortError, ModelNotFoundError, NotFoundError } from "../errors.js";
import { assertRouteAllowed } from "../http/auth.js";
import { toApiError } from "../http/errors.js";
import { logRequestLine } from "../http/requestLog.js";
import type { ModelInfo } from "../inference/types.js";
import type { ProcessSupervisor } from "./managedProcesses.js";
import { underBase } from "./proxyPath.js";
import {
  callerResponseHeaders,
  forward,
  isProxyLoop,
  joinUpstream,
  newViaToken,
  UpstreamError,
  UsageTap,
  upstreamRequestHeaders,
} from "./upstream.js";

/** Where a `model` name leads: a local model, or a route's upstream targets. */
export type Resolution =
  | { kind: "local"; routeName: string; modelId: string }
  | { kind: "upstream"; routeName: string; route: Route };

interface Candidate {
  targetId: number;
  base: string;
  key: string | null;
  upstreamModel: string | null;
}

/** How long an upstream may take to start answering. */
const DEFAULT_HEADERS_TIMEOUT_MS = 120_000;

/** The settings the router reads on every request (the core's options object). */
export interface RouterLimits {
  upstreamTimeoutMs: number;
  upstreamConcurrencyPerRoute: number;
}

/** The route already has its limit of requests at its upstreams. */
export class RouteBusyError extends ApiError {
  constructor(route: string, limit: number) {
    super(429, "overloaded", `The route '${route}' has ${limit} requests at its upstream already. Retry shortly.`, {
      code: "route_busy",
      retryAfterSeconds: 1,
    });
  }
}

/** The request came back to this server through its own proxy (a route pointing at itself). */
export class ProxyLoopError extends ApiError {
  constructor() {
    super(508, "invalid_request", "This request has already passed through this server: the route loops back to it.", {
      code: "proxy_loop",
    });
  }
}

function weightedPick<T extends { weight: number }>(items: T[]): T | undefined {
  const total = items.reduce((n, t) => n + t.weight, 0);
  let roll = Math.random() * total;
  for (const item of items) {
    roll -= item.weight;
    if (roll < 0) return item;
  }
  return items.at(-1);
}

/**
 * Resolves the `model` of inference requests through routes and forwards requests
 * for upstream targets, streaming both ways, with fallback targets on failure and
 * one usage record per request.
 */
export class Router {
  private limits: RouterLimits = { upstreamTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS, upstreamConcurrencyPerRoute: 64 };
  private readonly active = new Map<number, number>();
  /** This server's hop in `Via` (see isProxyLoop). */
  readonly viaToken = newViaToken();

  constructor(
    private readonly routes: RouteService,
    private readonly models: (id: string) => ModelInfo | undefined,
    private readonly processes: ProcessSupervisor,
    private readonly usage: UsageService,
  ) {}

  /** Reads timeouts and limits from `limits` on each request (so a changed setting applies at once). */
  applyLimits(limits: RouterLimits): void {
    this.limits = limits;
  }

  /** Takes one of the route's upstream slots; the returned function gives it back. */
  private takeSlot(route: Route): () => void {
    const limit = this.limits.upstreamConcurrencyPerRoute;
    const now = this.active.get(route.id) ?? 0;
    if (now >= limit) throw new RouteBusyError(route.name, limit);
    this.active.set(route.id, now + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(route.id) ?? 1) - 1;
      if (left <= 0) this.active.delete(route.id);
      else this.active.set(route.id, left);
    };
  }

  resolve(name: string): Resolution {
    const route = this.routes.byName(name) ?? (this.models(name) ? undefined : this.routes.byGlob(name));
    if (!route) {
      if (this.models(name)) return { kind: "local", routeName: name, modelId: name };
      throw new ModelNotFoundError(name);
    }
    if (!route.enabled) throw new NotFoundError(`The route '${name}' is disabled.`, "model", "route_disabled");
    const primary = weightedPick(route.targets.filter((t) => !t.fallback));
    if (primary?.kind === "model" && primary.modelId) return { kind: "local", routeName: name, modelId: primary.modelId };
    return { kind: "upstream", routeName: name, route };
  }

  /** A request refused before it reached a model or an upstream still gets its usage row. */
  recordRefusal(request: FastifyRequest, name: string, operation: Operation, error: unknown): void {
    this.usage.record({
      requestId: request.id,
      apiKeyId: request.apiKey?.id ?? null,
      route: name,
      model: name,
      operation,
      promptTokens: 0,
      completionTokens: 0,
      ttftMs: null,
      durationMs: 0,
      status: toApiError(error).status,
    });
  }

  /** Upstream candidates of a route: a weighted pick of the primary targets, then the fallbacks in order. */
  private async candidates(route: Route): Promise<Candidate[]> {
    const secrets = new Map(this.routes.secretTargets(route.id).map((t) => [t.id, t]));
    const remote = route.targets.filter((t) => t.kind !== "model");
    const primaries = remote.filter((t) => !t.fallback);
    const first = weightedPick(primaries);
    const ordered = [...(first ? [first] : []), ...primaries.filter((t) => t !== first), ...remote.filter((t) => t.fallback)];
    const out: Candidate[] = [];
    for (const target of ordered) {
      const base = target.kind === "upstream" ? target.upstreamUrl : await this.processes.baseUrl(target.id);
      if (!base) continue;
      out.push({
        targetId: target.id,
        base,
        key: secrets.get(target.id)?.upstream_key ?? null,
        upstreamModel: target.upstreamModel,
      });
    }
    if (out.length === 0) {
      throw new UpstreamError(
        502,
        `The route '${route.name}' has no upstream that is up (its managed process may still be starting).`,
      );
    }
    return out;
  }

  /**
   * Forwards one request for an upstream route and streams the answer back.
   * `jsonBody` (an inference request) is re-sent with `model` rewritten for the
   * upstream and can be retried on a fallback target; a raw stream is sent once.
   */
  async forward(
    request: FastifyRequest,
    reply: FastifyReply,
    options: {
      resolution: Extract<Resolution, { kind: "upstream" }>;
      operation: Operation;
      path: string;
      jsonBody?: Record<string, unknown>;
      rawBody?: Buffer | Readable | null;
      /** Headers added to the answer (the deprecated proxy form says so). */
      extraHeaders?: Record<string, string>;
    },
  ): Promise<FastifyReply> {
    const started = performance.now();
    const controller = new AbortController();
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    request.logInfo.model = options.resolution.routeName;
    let status = 502;
    let bytesIn = 0;
    let tap: UsageTap | null = null;
    let upstreamModel: string | null = null;
    let release = () => {};
    try {
      if (isProxyLoop(request.headers, this.viaToken)) throw new ProxyLoopError();
      release = this.takeSlot(options.resolution.route);
      reply.raw.once("close", release);
      const candidates = await this.candidates(options.resolution.route);
      const replayable = options.jsonBody !== undefined || options.rawBody === null || Buffer.isBuffer(options.rawBody);
      let lastError: unknown = null;
      for (const [i, candidate] of candidates.entries()) {
        if (i > 0 && !replayable) break;
        upstreamModel = candidate.upstreamModel;
        const body =
          options.jsonBody !== undefined
            ? Buffer.from(JSON.stringify({ ...options.jsonBody, model: candidate.upstreamModel ?? options.jsonBody.model }))
            : (options.rawBody ?? null);
        bytesIn = Buffer.isBuffer(body) ? body.length : Number(request.headers["content-length"] ?? 0);
        const headers = upstreamRequestHeaders(request.headers, {
          key: candidate.key,
          requestId: request.id,
          viaToken: this.viaToken,
          ...(Buffer.isBuffer(body) ? { bodyLength: body.length } : body === null ? { bodyLength: null } : {}),
        });
        if (options.jsonBody !== undefined) headers["content-type"] = "application/json";
        const url = joinUpstream(candidate.base, options.path);
        // The last check before anything is sent: the path stays under the target's base.
        if (!underBase(url, candidate.base)) {
          throw new InvalidRequestError("The proxied path leaves the route's base path.", null, "invalid_proxy_path");
        }
        try {
          const upstream = await forward({
            method: request.method,
            url,
            headers,
            body,
            signal: controller.signal,
            headersTimeoutMs: this.limits.upstreamTimeoutMs,
          });
          // A 5xx from one upstream moves on to the next target when the body can be sent again.
          if ((upstream.statusCode ?? 502) >= 500 && i < candidates.length - 1 && replayable) {
            upstream.resume();
            lastError = new UpstreamError(502, `The upstream answered ${upstream.statusCode}.`);
            continue;
          }
          status = upstream.statusCode ?? 502;
          tap = new UsageTap(upstream.headers["content-type"]);
          reply.hijack();
          reply.raw.writeHead(status, {
            ...(reply.getHeaders() as Record<string, string>),
            ...callerResponseHeaders(upstream.headers),
            ...options.extraHeaders,
            "x-request-id": request.id,
          });
          await new Promise<void>((resolve) => {
            upstream.on("data", (chunk: Buffer) => {
              tap?.push(chunk);
              if (!reply.raw.write(chunk)) {
                upstream.pause();
                reply.raw.once("drain", () => upstream.resume());
              }
            });
            upstream.on("end", () => {
              tap?.end();
              reply.raw.end();
              resolve();
            });
            upstream.on("error", () => {
              reply.raw.destroy();
              resolve();
            });
            upstream.on("close", () => resolve());
          });
          if (controller.signal.aborted) status = 499;
          return reply;
        } catch (error) {
          if (controller.signal.aborted) throw error;
          lastError = error;
        }
      }
      throw lastError ?? new UpstreamError(502, "No upstream answered.");
    } catch (error) {
      status = isAbortError(error, controller.signal) ? 499 : toApiError(error).status;
      if (status === 499) {
        if (!reply.sent) reply.hijack();
        reply.raw.destroy();
        return reply;
      }
      throw error;
    } finally {
      release();
      request.logInfo.status = status;
      this.usage.record({
        requestId: request.id,
        apiKeyId: request.apiKey?.id ?? null,
        route: options.resolution.routeName,
        model: upstreamModel ?? options.resolution.routeName,
        operation: options.operation,
        promptTokens: tap?.promptTokens ?? 0,
        completionTokens: tap?.completionTokens ?? 0,
        ttftMs: null,
        durationMs: Math.round(performance.now() - started),
        status,
        bytesIn,
        bytesOut: tap?.bytes ?? 0,
      });
      if (status === 499) logRequestLine(request, status, performance.now() - started);
    }
  }
}

/** For a local model, the OpenAI surface the engine does not serve. */
export function notServedLocally(what: string, model: string): ApiError {
  return new InvalidRequestError(
    `'${model}' is a local model; the local engine serves chat, completions, embeddings, messages, responses and rerank, not ${what}. ` +
      "Route this name to an upstream server that does.",
    "model",
    "unsupported_for_local_model",
  );
}

/**
 * The first step of every inference endpoint: resolve `model` through routes. An
 * upstream route is forwarded here and the reply is returned; a local one gives
 * the model id to run.
 */
async function routeModel(
  deps: { router: Router },
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
  operation: Operation,
): Promise<{ modelId: string; routeName: string } | { forwarded: FastifyReply }> {
  let resolution: Resolution;
  try {
    resolution = deps.router.resolve(name);
    if (resolution.kind === "upstream") assertRouteAllowed(request, name);
  } catch (error) {
    deps.router.recordRefusal(request, name, operation, error);
    throw error;
  }
  if (resolution.kind === "local") return { modelId: resolution.modelId, routeName: resolution.routeName };
  return {
    forwarded: await deps.router.forward(request, reply, {
      resolution,
      operation,
      path: request.url,
      jsonBody: request.body as Record<string, unknown>,
    }),
  };
}

/**
 * Routes a JSON body's `model`, then parses the body. Routing comes first so an upstream
 * gets the body as sent, not only what the local engine accepts; a body without a string
 * `model` goes straight to `parse`, whose 400 names the field.
 */
export async function routeThenParse<T>(
  deps: { router: Router },
  request: FastifyRequest,
  reply: FastifyReply,
  operation: Operation,
  parse: (body: unknown) => T,
  modelOf: (parsed: T) => string,
): Promise<{ forwarded: FastifyReply } | { parsed: T; modelId: string; routeName: string }> {
  const body = request.body as { model?: unknown } | null;
  const name = body && typeof body === "object" && typeof body.model === "string" && body.model ? body.model : null;
  if (name === null) {
    const parsed = parse(request.body);
    return { parsed, modelId: modelOf(parsed), routeName: modelOf(parsed) };
  }
  const routed = await routeModel(deps, request, reply, name, operation);
  if ("forwarded" in routed) return routed;
  return { parsed: parse(request.body), ...routed };
}
