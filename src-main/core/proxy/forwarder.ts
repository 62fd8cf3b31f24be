import type { Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Route, RouteService } from "../domain/routes.js";
import { ApiError, InvalidRequestError, isAbortError } from "../errors.js";
import { toApiError } from "../http/errors.js";
import type { ManagedProcesses } from "./managedProcesses.js";
import { weightedPick } from "./modelRoutes.js";
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

interface Candidate {
  targetId: number;
  base: string;
  key: string | null;
  upstreamModel: string | null;
}

/** How long an upstream may take to start answering. */
const DEFAULT_HEADERS_TIMEOUT_MS = 120_000;

/** The settings the forwarder reads on every request (the core's options object). */
export interface ForwardLimits {
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

/**
 * What a forwarded request cost, filled in as it goes (the pipeline turns it into the
 * request's usage row): the status sent back, the model the upstream was asked for, the
 * token usage the upstream reported and the bytes each way.
 */
export interface ForwardMeter {
  status: number;
  model: string;
  promptTokens: number;
  completionTokens: number;
  bytesIn?: number;
  bytesOut?: number;
}

/** What to forward: the route, the path under its targets' base, and the body. */
export interface ForwardRequest {
  route: Route;
  path: string;
  /** An inference request, re-sent with `model` rewritten for each target (so it can fall back). */
  jsonBody?: Record<string, unknown>;
  /** A raw body: a buffer can be sent again to a fallback target, a stream only once. */
  rawBody?: Buffer | Readable | null;
  /** Headers added to the answer (the deprecated proxy form says so). */
  extraHeaders?: Record<string, string>;
}

/**
 * Forwards requests for model routes with upstream targets (servers or managed
 * processes), streaming both ways, with a per-route concurrency limit and fallback
 * targets on failure.
 */
export class UpstreamForwarder {
  private limits: ForwardLimits = { upstreamTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS, upstreamConcurrencyPerRoute: 64 };
  private readonly active = new Map<number, number>();
  /** This server's hop in `Via` (see isProxyLoop). */
  readonly viaToken = newViaToken();

  constructor(
    private readonly routes: RouteService,
    private readonly processes: ManagedProcesses,
  ) {}

  /** Reads timeouts and limits from `limits` on each request (so a changed setting applies at once). */
  applyLimits(limits: ForwardLimits): void {
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
   * Forwards one request to the route's targets and streams the answer back, filling
   * `meter` as it goes. A client that goes away ends the upstream request and the reply
   * (status 499); other failures before the answer started are thrown.
   */
  async forward(request: FastifyRequest, reply: FastifyReply, what: ForwardRequest, meter: ForwardMeter): Promise<FastifyReply> {
    const controller = new AbortController();
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    meter.status = 502;
    const asked = meter.model;
    let tap: UsageTap | null = null;
    let release = () => {};
    try {
      if (isProxyLoop(request.headers, this.viaToken)) throw new ProxyLoopError();
      release = this.takeSlot(what.route);
      reply.raw.once("close", release);
      const candidates = await this.candidates(what.route);
      const replayable = what.jsonBody !== undefined || what.rawBody === null || Buffer.isBuffer(what.rawBody);
      let lastError: unknown = null;
      for (const [i, candidate] of candidates.entries()) {
        if (i > 0 && !replayable) break;
        meter.model = candidate.upstreamModel ?? asked;
        const body =
          what.jsonBody !== undefined
            ? Buffer.from(JSON.stringify({ ...what.jsonBody, model: candidate.upstreamModel ?? what.jsonBody.model }))
            : (what.rawBody ?? null);
        meter.bytesIn = Buffer.isBuffer(body) ? body.length : Number(request.headers["content-length"] ?? 0);
        const headers = upstreamRequestHeaders(request.headers, {
          key: candidate.key,
          requestId: request.id,
          viaToken: this.viaToken,
          ...(Buffer.isBuffer(body) ? { bodyLength: body.length } : body === null ? { bodyLength: null } : {}),
        });
        if (what.jsonBody !== undefined) headers["content-type"] = "application/json";
        const url = joinUpstream(candidate.base, what.path);
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
          meter.status = upstream.statusCode ?? 502;
          tap = new UsageTap(upstream.headers["content-type"]);
          reply.hijack();
          reply.raw.writeHead(meter.status, {
            ...(reply.getHeaders() as Record<string, string>),
            ...callerResponseHeaders(upstream.headers),
            ...what.extraHeaders,
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
          if (controller.signal.aborted) meter.status = 499;
          return reply;
        } catch (error) {
          if (controller.signal.aborted) throw error;
          lastError = error;
        }
      }
      throw lastError ?? new UpstreamError(502, "No upstream answered.");
    } catch (error) {
      meter.status = isAbortError(error, controller.signal) ? 499 : toApiError(error).status;
      if (meter.status === 499) {
        if (!reply.sent) reply.hijack();
        reply.raw.destroy();
        return reply;
      }
      throw error;
    } finally {
      release();
      meter.promptTokens = tap?.promptTokens ?? 0;
      meter.completionTokens = tap?.completionTokens ?? 0;
      meter.bytesOut = tap?.bytes ?? 0;
    }
  }
}
