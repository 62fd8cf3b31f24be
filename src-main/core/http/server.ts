import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import cors from "@fastify/cors";
import Fastify, { errorCodes, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, LogController } from "fastify";
import { anthropicStatus, toAnthropicError } from "../dialects/anthropic/errors.js";
import { toOpenAIError } from "../dialects/openai/errors.js";
import { ApiError, PermissionError } from "../errors.js";
import { ProxyLoopError } from "../proxy/forwarder.js";
import { isProxyLoop } from "../proxy/upstream.js";
import { jsonShapeLimits, readJsonBody } from "./bodyShape.js";
import type { ServerDeps } from "./context.js";
import { registerCrossSiteGuard } from "./crossSite.js";
import { speaksAnthropic } from "./dialect.js";
import { toApiError } from "./errors.js";
import { recordFailedRequest } from "./failedRequests.js";
import { acceptRawBodies, genericProxy, InferencePipeline, upstreamOnly } from "./pipeline.js";
import { logRequestLine } from "./requestLog.js";
import { adminRoutes } from "./routes/admin.js";
import { countTokens, messages } from "./routes/anthropic.js";
import { appRoutes } from "./routes/app.js";
import { connectRoutes } from "./routes/connect.js";
import { healthRoutes } from "./routes/health.js";
import { libraryRoutes } from "./routes/library.js";
import { metricsRoutes } from "./routes/metrics.js";
import { modelRouteAdminRoutes } from "./routes/modelRouteAdmin.js";
import { chatCompletions, completions, embeddings, openaiRoutes } from "./routes/openai.js";
import { cohereRerank, jinaRerank, TRUNCATED_HEADER } from "./routes/rerank.js";
import { createResponse, responsesRoutes } from "./routes/responses.js";

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]", "::1"];
const MAX_HEADER_BYTES = 16 * 1024;
function newRequestId(request: { headers: Record<string, unknown> }): string {
  const incoming = request.headers["x-request-id"];
  if (typeof incoming === "string" && /^[\w.:-]{1,128}$/.test(incoming)) return incoming;
  return `req_${randomBytes(12).toString("hex")}`;
}

/**
 * A `Host` header split into its hostname and port, or null when it is anything else:
 * brackets only around an IPv6 literal, a name of letters, digits, `.`, `-` and `_`,
 * an optional decimal port. So `[::1].evil.com`, `[::1]evil.com:80` and
 * `localhost:8421@evil.com` are refused rather than read as a loopback name.
 */
export function parseHostHeader(value: string): { hostname: string; port: number | null } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(value);
  if (!match) return null;
  const [, ipv6, name, port] = match;
  if (ipv6 !== undefined && isIP(ipv6) !== 6) return null;
  const portNumber = port === undefined ? null : Number(port);
  if (portNumber !== null && portNumber > 65_535) return null;
  return { hostname: ipv6 !== undefined ? `[${ipv6.toLowerCase()}]` : (name as string).toLowerCase(), port: portNumber };
}

/** Which `Host` header values this server answers (DNS-rebinding defence). */
export function hostAllowed(hostHeader: string | undefined, boundHost: string, allowedHosts: readonly string[]): boolean {
  if (!hostHeader) return false;
  const parsed = parseHostHeader(hostHeader);
  if (!parsed) return false;
  const lower = parsed.hostname;
  if (LOOPBACK_NAMES.includes(lower)) return true;
  if (allowedHosts.includes("*") || allowedHosts.map((h) => h.toLowerCase()).includes(lower)) return true;
  const bound = boundHost.toLowerCase();
  return (lower === bound || lower === `[${bound}]`) && boundHost !== "0.0.0.0" && boundHost !== "::";
}

/** The status and error body in the caller's dialect. */
function errorReply(request: FastifyRequest, error: ApiError): { status: number; body: object } {
  if (speaksAnthropic(request)) return { status: anthropicStatus(error), body: toAnthropicError(error, request.id) };
  return { status: error.status, body: toOpenAIError(error) };
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "reqId" }),
    bodyLimit: deps.options.bodyLimit,
    genReqId: newRequestId,
    return503OnClosing: true,
    forceCloseConnections: true,
    // Request line plus headers: 16 KiB (larger → 431), URL path parameters: 512 characters.
    http: {
      maxHeaderSize: MAX_HEADER_BYTES,
      // Slow or half-open requests are closed (issue 19): headers, then the whole request, are bounded.
      headersTimeout: deps.options.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(deps.options.headersTimeoutMs / 4))),
    },
    requestTimeout: deps.options.requestTimeoutMs,
    keepAliveTimeout: deps.options.keepAliveTimeoutMs,
    routerOptions: { maxParamLength: 512 },
  });

  // JSON bodies, read as they arrive, checked for their nesting depth, longest array and
  // value count before parsing, and for prototype keys after (bodyShape.ts).
  const shapeLimits = jsonShapeLimits(deps.options.maxJsonItems);
  const bodyErrors = {
    tooLarge: () => new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(),
    badLength: () => new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(),
    empty: () => new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(),
  };
  app.addContentTypeParser("application/json", (request, payload, done) => {
    readJsonBody(
      payload,
      {
        limit: request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1024 * 1024,
        contentLength: Number(request.headers["content-length"]),
        shape: shapeLimits,
        errors: bodyErrors,
      },
      done,
    );
  });

  if (deps.options.corsOrigins.length > 0) {
    const origins = deps.options.corsOrigins;
    await app.register(cors, {
      origin: origins.includes("*") ? "*" : origins,
      allowedHeaders: [
        "authorization",
        "content-type",
        "x-api-key",
        "api-key",
        "anthropic-version",
        "anthropic-beta",
        "x-request-id",
      ],
      exposedHeaders: ["x-request-id", "retry-after", TRUNCATED_HEADER],
      maxAge: 600,
    });
  }

  app.decorateRequest("apiKey", null);
  app.decorateRequest("logInfo", null as never);

  app.addHook("onRequest", async (request, reply) => {
    request.logInfo = {};
    reply.header("x-request-id", request.id);
    if (!hostAllowed(request.headers.host, deps.options.host, deps.options.allowedHosts)) {
      throw new PermissionError(`Host '${request.headers.host ?? ""}' is not allowed.`);
    }
  });

  // A request that already passed through this server's proxy is a loop: refused before any work.
  app.addHook("onRequest", async (request) => {
    if (isProxyLoop(request.headers, deps.upstreams.viaToken)) throw new ProxyLoopError();
  });
  registerCrossSiteGuard(app, deps.options.corsOrigins);
  // JSON endpoints take JSON: Fastify's text/plain parser would let a cross-site form-less POST through.
  app.removeContentTypeParser("text/plain");

  // One log line per request, without keys or prompt text.
  app.addHook("onResponse", async (request, reply) => {
    if (reply.sent && request.raw.method === "GET" && request.url === "/health") return;
    logRequestLine(request, reply.statusCode, reply.elapsedTime);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) request.log.error({ err: error }, "request failed");
    const retryAfter = apiError.options.retryAfterSeconds;
    if (retryAfter !== undefined) reply.header("retry-after", String(retryAfter));
    const { status, body } = errorReply(request, apiError);
    recordFailedRequest(deps.usage, request, status, apiError.message);
    return reply.status(status).type("application/json").send(body);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const error = new ApiError(404, "not_found", `Unknown route: ${request.method} ${request.url.split("?")[0]}`, {
      code: "unknown_route",
    });
    const { status, body } = errorReply(request, error);
    return reply.status(status).send(body);
  });

  // The inference endpoints, each one line: every one runs the same pipeline (http/pipeline.ts):
  // key and scope → model route → allowed for the key → dialect parse → local engine or upstream
  // → one usage row and one log line. A route module only declares the translator it wires in.
  const inference = new InferencePipeline(deps);
  await app.register(async (json) => {
    inference.route(json, "POST", "/v1/chat/completions", chatCompletions(deps));
    inference.route(json, "POST", "/v1/completions", completions(deps));
    inference.route(json, "POST", "/v1/embeddings", embeddings(deps));
    inference.route(json, "POST", "/v1/messages", messages(deps));
    inference.route(json, "POST", "/v1/messages/count_tokens", countTokens(deps));
    inference.route(json, "POST", "/v1/responses", createResponse(deps));
    inference.route(json, "POST", "/v1/rerank", jinaRerank(deps));
    inference.route(json, "POST", "/rerank", jinaRerank(deps));
    inference.route(json, "POST", "/v2/rerank", cohereRerank(deps));
  });
  await app.register(async (raw) => {
    acceptRawBodies(raw);
    inference.route(raw, "ALL", "/model/proxy/*", genericProxy);
    inference.route(raw, "POST", "/v1/images/generations", upstreamOnly("image generation", "json"));
    inference.route(raw, "POST", "/v1/images/edits", upstreamOnly("image edits", "multipart"));
    inference.route(raw, "POST", "/v1/audio/speech", upstreamOnly("speech synthesis", "json"));
    inference.route(raw, "POST", "/v1/audio/transcriptions", upstreamOnly("audio transcription", "multipart"));
    inference.route(raw, "POST", "/v1/audio/translations", upstreamOnly("audio translation", "multipart"));
  });

  await app.register(healthRoutes);
  await app.register(async (scope) => openaiRoutes(scope, deps));
  await app.register(async (scope) => responsesRoutes(scope, deps));
  await app.register(async (scope) => adminRoutes(scope, deps));
  await app.register(async (scope) => metricsRoutes(scope, deps));
  await app.register(async (scope) => libraryRoutes(scope, deps));
  await app.register(async (scope) => modelRouteAdminRoutes(scope, deps));
  await app.register(async (scope) => connectRoutes(scope, deps));
  await app.register(async (scope) => appRoutes(scope, deps));
  return app;
}
