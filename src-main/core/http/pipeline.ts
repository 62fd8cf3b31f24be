import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sseData } from "../dialects/sse.js";
import type { Operation } from "../domain/usage.js";
import { ApiError, InvalidRequestError, isAbortError } from "../errors.js";
import {
  foldEvents,
  type GenerationEvent,
  type GenerationResult,
  type GenerationStream,
  type ModelInfo,
} from "../inference/types.js";
import type { ForwardMeter, ForwardRequest } from "../proxy/forwarder.js";
import {
  genericProxyTarget,
  jsonModel,
  methodNotForwarded,
  multipartModel,
  PROXY_METHODS,
  proxyBody,
  readBody,
} from "../proxy/genericProxy.js";
import type { Resolution } from "../proxy/modelRoutes.js";
import { assertRouteAllowed, requireKey } from "./auth.js";
import type { ServerDeps } from "./context.js";
import { toApiError } from "./errors.js";
import { logRequestLine } from "./requestLog.js";
import { openSse } from "./sseWriter.js";

/*
 * The inference pipeline. Every inference endpoint (server.ts declares them all in one
 * table) runs the same steps, in this order, and only here:
 *
 *   1. key and scope        requireKey (http/auth.ts), a preHandler of every route registered here
 *   2. model route          the `model` name → a local model or an upstream route (proxy/modelRoutes.ts)
 *   3. allowed for the key  assertRouteAllowed (http/auth.ts), on the resolved route name
 *   4. dialect parse        the endpoint's parser (dialects/…), only for a local model: an
 *                           upstream gets the body as the client sent it
 *   5. local or upstream    the endpoint's local run (a generation or a one-shot call on the
 *                           engine supervisor), or the upstream forwarder (proxy/forwarder.ts)
 *   6. accounting           one usage row (once a model was named) and one request-log line
 *
 * Errors at any step are thrown to the server's error handler, which answers in the
 * caller's dialect; errors after a stream started are sent in-stream by the endpoint's
 * encoder. A route module only declares endpoints (a translator wired to these steps).
 */

/** The local model a request runs on, and the name the client asked for (a route or the model itself). */
export interface LocalTarget {
  modelId: string;
  routeName: string;
  /** The model's record, looked up once by the resolver: hand it to the engine, which then looks up no name. */
  model: ModelInfo;
}

/** How a local model serves a parsed request: a generation (streamed or not) or a one-shot call. */
export type LocalRun =
  | { generate: GenerationPlan }
  | { call: (signal: AbortSignal) => Promise<{ body: object; promptTokens: number }> };

/** An endpoint whose JSON body names a model route in `model`: served by a local model or forwarded. */
export interface ModelEndpoint<P> {
  kind: "model";
  operation: Operation;
  /** The dialect's parser: the internal request, or a 400 naming the field. */
  parse(body: unknown): P;
  /** What the local model does with the parsed request (set response headers on `reply` here). */
  local(parsed: P, target: LocalTarget, request: FastifyRequest, reply: FastifyReply): LocalRun;
}

/** An endpoint only an upstream serves (images, audio): its raw body is forwarded as sent. */
export interface UpstreamOnlyEndpoint {
  kind: "upstream-only";
  operation: "proxy";
  /** What it does, for the 400 a local model gets ("image generation"). */
  what: string;
  body: "json" | "multipart";
}

/** The generic reverse proxy `/model/proxy/<route_id>/<path>` (and its deprecated header form). */
export interface GenericProxyEndpoint {
  kind: "generic-proxy";
  operation: "proxy";
}

export type InferenceEndpoint = ModelEndpoint<unknown> | UpstreamOnlyEndpoint | GenericProxyEndpoint;

/** A typed endpoint, kept typed up to its parser's output. */
export function modelEndpoint<P>(endpoint: Omit<ModelEndpoint<P>, "kind">): ModelEndpoint<unknown> {
  return { kind: "model", ...endpoint } as ModelEndpoint<unknown>;
}

export const upstreamOnly = (what: string, body: "json" | "multipart"): UpstreamOnlyEndpoint => ({
  kind: "upstream-only",
  operation: "proxy",
  what,
  body,
});

export const genericProxy: GenericProxyEndpoint = { kind: "generic-proxy", operation: "proxy" };

/** Endpoints that forward raw bodies register in a scope that leaves bodies unread (streams). */
export function acceptRawBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
}

/** What one request cost and how it ended: its usage row and its log line. */
interface Meter extends ForwardMeter {
  /** The name the client asked for; null until the request named one (then there is no usage row). */
  route: string | null;
  cachedTokens: number;
  ttftMs: number | null;
  readonly started: number;
}

/** A resolution the key was checked against: what steps 4 and 5 take. */
type Admitted = Resolution & { readonly admitted: true };

/** For a local model, the OpenAI surface the engine does not serve. */
function notServedLocally(what: string, model: string): ApiError {
  return new InvalidRequestError(
    `'${model}' is a local model; the local engine serves chat, completions, embeddings, messages, responses and rerank, not ${what}. ` +
      "Route this name to an upstream server that does.",
    "model",
    "unsupported_for_local_model",
  );
}

/** The body's `model` when it is a non-empty string. */
function modelField(body: unknown): string | null {
  const model = body && typeof body === "object" ? (body as { model?: unknown }).model : undefined;
  return typeof model === "string" && model ? model : null;
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
function clientSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

export class InferencePipeline {
  constructor(private readonly deps: ServerDeps) {}

  /** Registers `endpoint` at `url` (POST, or every method the proxy forwards) behind step 1. */
  route(app: FastifyInstance, method: "POST" | "ALL", url: string, endpoint: InferenceEndpoint): void {
    const options = { preHandler: requireKey(this.deps, "inference") };
    const handler = (request: FastifyRequest, reply: FastifyReply) => this.handle(endpoint, request, reply);
    if (method === "ALL") app.all(url, options, handler);
    else app.post(url, options, handler);
  }

  private async handle(endpoint: InferenceEndpoint, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const meter: Meter = {
      route: null,
      model: "",
      status: 200,
      promptTokens: 0,
      completionTokens: 0,
      cachedTokens: 0,
      ttftMs: null,
      started: performance.now(),
    };
    const signal = clientSignal(reply);
    let answer: object | undefined;
    try {
      if (endpoint.kind === "model") answer = await this.serveModel(endpoint, request, reply, signal, meter);
      else if (endpoint.kind === "upstream-only") await this.serveUpstreamOnly(endpoint, request, reply, meter);
      else await this.serveGenericProxy(request, reply, meter);
    } catch (error) {
      meter.status = isAbortError(error, signal) ? 499 : toApiError(error).status;
      if (meter.status !== 499) throw error;
      // The client is gone: there is nobody to answer, but the reply must still finish.
      if (!reply.sent) reply.hijack();
      reply.raw.destroy();
    } finally {
      this.account(endpoint, request, meter);
    }
    // The usage row is written before the answer goes out: a client that reads usage next sees it.
    return answer === undefined ? reply : reply.send(answer);
  }

  /** Steps 2 and 3: the name's model route, and whether the request's key may use it. */
  private admit(request: FastifyRequest, meter: Meter, name: string, resolve: (name: string) => Resolution): Admitted {
    meter.route = name;
    meter.model = name;
    const resolution = resolve(name);
    assertRouteAllowed(request, resolution.routeName);
    return { ...resolution, admitted: true };
  }

  /** Step 5 for an upstream route. */
  private async toUpstream(
    admitted: Admitted & { kind: "upstream" },
    request: FastifyRequest,
    reply: FastifyReply,
    what: Omit<ForwardRequest, "route">,
    meter: Meter,
  ): Promise<void> {
    await this.deps.upstreams.forward(request, reply, { route: admitted.route, ...what }, meter);
  }

  private async serveModel(
    endpoint: ModelEndpoint<unknown>,
    request: FastifyRequest,
    reply: FastifyReply,
    signal: AbortSignal,
    meter: Meter,
  ): Promise<object | undefined> {
    const body = request.body;
    const name = modelField(body);
    if (name === null) {
      // The dialect's parser names the missing field in its own words.
      endpoint.parse(body);
      throw new InvalidRequestError("Missing required parameter: 'model'.", "model");
    }
    const admitted = this.admit(request, meter, name, (n) => this.deps.modelRoutes.resolve(n));
    if (admitted.kind === "upstream") {
      await this.toUpstream(admitted, request, reply, { path: request.url, jsonBody: body as Record<string, unknown> }, meter);
      return undefined;
    }
    meter.model = admitted.model.id;
    const target = { modelId: admitted.model.id, routeName: admitted.routeName, model: admitted.model };
    const run = endpoint.local(endpoint.parse(body), target, request, reply);
    if ("call" in run) {
      const result = await run.call(signal);
      meter.promptTokens = result.promptTokens;
      return result.body;
    }
    return runGeneration(request, reply, run.generate, signal, meter);
  }

  private async serveUpstreamOnly(
    endpoint: UpstreamOnlyEndpoint,
    request: FastifyRequest,
    reply: FastifyReply,
    meter: Meter,
  ): Promise<void> {
    // JSON endpoints take JSON only: a form or text/plain body is what a cross-site page can send without a preflight.
    const multipart = endpoint.body === "multipart";
    const type = String(request.headers["content-type"] ?? "").toLowerCase();
    if (multipart ? !type.startsWith("multipart/form-data") : !/^application\/([\w.+-]+\+)?json\b/.test(type)) {
      throw new ApiError(
        415,
        "invalid_request",
        `Unsupported Content-Type; send ${multipart ? "multipart/form-data" : "application/json"}.`,
        { code: "unsupported_media_type" },
      );
    }
    const { bodyLimit, requestBodyIdleTimeoutMs } = this.deps.options;
    const body = await readBody(request.body as IncomingMessage | undefined, bodyLimit, requestBodyIdleTimeoutMs);
    const name = multipart ? multipartModel(body, request.headers["content-type"]) : jsonModel(body, true);
    if (!name) throw new InvalidRequestError("Missing required parameter: 'model'.", "model");
    const admitted = this.admit(request, meter, name, (n) => this.deps.modelRoutes.resolve(n));
    if (admitted.kind === "local") throw notServedLocally(endpoint.what, name);
    await this.toUpstream(admitted, request, reply, { path: request.routeOptions.url ?? request.url, rawBody: body }, meter);
  }

  private async serveGenericProxy(request: FastifyRequest, reply: FastifyReply, meter: Meter): Promise<void> {
    if (!PROXY_METHODS.has(request.method)) {
      reply.header("allow", [...PROXY_METHODS].join(", "));
      throw methodNotForwarded(request.method);
    }
    const routes = this.deps.modelRoutes;
    const limits = { bodyLimit: this.deps.options.bodyLimit, idleMs: this.deps.options.requestBodyIdleTimeoutMs };
    // The caller's connection is in an unknown state after a stalled body: close it with the answer.
    const readProxyBody = () =>
      proxyBody(
        request.body as IncomingMessage | undefined,
        request.headers["content-length"] as string | undefined,
        limits,
        () => reply.header("connection", "close"),
      );
    const target = genericProxyTarget(request.raw.url ?? request.url);
    let resolution: Resolution;
    let path: string;
    let body: IncomingMessage | Buffer | null;
    if (target.routeId !== null) {
      resolution = routes.genericProxyRoute({ id: target.routeId });
      path = target.path();
      body = await readProxyBody();
    } else {
      // Deprecated: the route name comes from X-GPUStack-Model, else from the JSON body's `model`.
      reply.header("deprecation", "true");
      path = target.path();
      const header = request.headers["x-gpustack-model"];
      let name = typeof header === "string" && header ? header : null;
      body = await readProxyBody();
      if (!name) {
        if (body && !Buffer.isBuffer(body)) body = await readBody(body, limits.bodyLimit, limits.idleMs);
        name = jsonModel(body, false);
      }
      if (!name) {
        throw new InvalidRequestError(
          "Name the route in the X-GPUStack-Model header or the body's model, or use /model/proxy/<route_id>/<path>.",
          "model",
        );
      }
      resolution = routes.genericProxyRoute({ name });
    }
    const found = resolution;
    const admitted = this.admit(request, meter, found.routeName, () => found);
    if (admitted.kind !== "upstream") return; // a generic-proxy route is always an upstream one
    const extraHeaders: Record<string, string> = reply.getHeader("deprecation") ? { deprecation: "true" } : {};
    await this.toUpstream(admitted, request, reply, { path, rawBody: body, extraHeaders }, meter);
  }

  /** Step 6: one usage row (when the request named a model), and the log fields. */
  private account(endpoint: InferenceEndpoint, request: FastifyRequest, meter: Meter): void {
    const durationMs = performance.now() - meter.started;
    request.logInfo.status = meter.status;
    if (meter.route !== null) {
      request.logInfo.model = meter.model;
      request.logInfo.promptTokens = meter.promptTokens;
      request.logInfo.completionTokens = meter.completionTokens;
      request.logInfo.cachedTokens = meter.cachedTokens;
      this.deps.usage.record({
        requestId: request.id,
        apiKeyId: request.apiKey?.id ?? null,
        route: meter.route,
        model: meter.model,
        operation: endpoint.operation,
        promptTokens: meter.promptTokens,
        completionTokens: meter.completionTokens,
        cachedTokens: meter.cachedTokens,
        ttftMs: meter.ttftMs,
        durationMs: Math.round(durationMs),
        status: meter.status,
        ...(meter.bytesIn !== undefined ? { bytesIn: meter.bytesIn } : {}),
        ...(meter.bytesOut !== undefined ? { bytesOut: meter.bytesOut } : {}),
      });
    }
    // A client that went away never lets the response finish, so Fastify writes no line for it.
    if (meter.status === 499) logRequestLine(request, meter.status, durationMs);
  }
}

/** How long a stream may stay silent before a keep-alive goes out. */
const KEEPALIVE_MS = 5000;

/** A local generation as one dialect frames it. */
export interface GenerationPlan {
  stream: boolean;
  /** Starts the engine; resolves once a sequence is held. */
  start: (signal: AbortSignal) => Promise<GenerationStream>;
  /** Stream: payloads sent before the first event. */
  opening?: (stream: GenerationStream) => object[];
  /** Stream: how a payload is framed (default: a `data:` line; Anthropic names its events). */
  frame?: (payload: object) => string;
  /** Stream: sent when nothing else went out for a while (a long prompt, a slow model). */
  keepAlive?: string;
  /** Stream: payloads for one event. */
  encode: (event: GenerationEvent) => object[];
  /** Non-stream: the response body from the folded events (and the events themselves). */
  fold: (result: GenerationResult, events: readonly GenerationEvent[]) => object;
  /** Stream: the payload(s) of an error that happens after headers went out. */
  streamError: (error: ApiError) => object | object[];
  /** Called once when the generation finished normally (both modes), before the last byte goes out. */
  onComplete?: (result: GenerationResult) => void;
  /** Stream: the final line (OpenAI's `[DONE]`). */
  closing?: string;
}

/**
 * Step 5 for a local generation, streamed or not, filling `meter`. Errors before the
 * first byte are thrown (a normal error response); later ones are sent in-stream.
 * Resolves with the body of a non-streamed answer (sent once its usage row is written).
 */
async function runGeneration(
  request: FastifyRequest,
  reply: FastifyReply,
  plan: GenerationPlan,
  signal: AbortSignal,
  meter: Meter,
): Promise<object | undefined> {
  let firstTokenAt: number | null = null;
  const seen: GenerationEvent[] = [];
  const take = (result: GenerationResult) => {
    meter.promptTokens = result.usage.promptTokens;
    meter.completionTokens = result.usage.completionTokens;
    meter.cachedTokens = result.usage.cachedTokens ?? 0;
  };
  const see = (event: GenerationEvent) => {
    if (firstTokenAt === null && event.type !== "done") {
      firstTokenAt = performance.now();
      meter.ttftMs = Math.round(firstTokenAt - meter.started);
    }
    seen.push(event);
  };

  const events = await plan.start(signal);
  if (!plan.stream) {
    for await (const event of events) see(event);
    const result = foldEvents(seen);
    take(result);
    const body = plan.fold(result, seen);
    plan.onComplete?.(result);
    return body;
  }

  const writer = openSse(request, reply);
  const frame = plan.frame ?? sseData;
  for (const payload of plan.opening?.(events) ?? []) writer.write(frame(payload));
  let lastWrite = performance.now();
  const keepAlive = plan.keepAlive;
  const timer = keepAlive
    ? setInterval(() => {
        if (performance.now() - lastWrite >= KEEPALIVE_MS - 50) writer.write(keepAlive);
      }, KEEPALIVE_MS)
    : null;
  try {
    for await (const event of events) {
      see(event);
      for (const payload of plan.encode(event)) writer.write(frame(payload));
      lastWrite = performance.now();
    }
    const result = foldEvents(seen);
    take(result);
    plan.onComplete?.(result);
    if (plan.closing) writer.write(plan.closing);
  } catch (error) {
    if (isAbortError(error, signal)) meter.status = 499;
    else {
      const apiError = toApiError(error);
      meter.status = apiError.status;
      for (const payload of [plan.streamError(apiError)].flat()) writer.write(frame(payload));
    }
    const result = foldEvents(seen);
    // Cut before its end, the stream has no usage yet; its prompt was counted up front.
    take(result.usage.promptTokens === 0 ? { ...result, usage: { ...result.usage, promptTokens: events.promptTokens } } : result);
  } finally {
    if (timer) clearInterval(timer);
    writer.end();
  }
  return undefined;
}
