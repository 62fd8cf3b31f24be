import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Route } from "../../domain/routes.js";
import { ApiError, InvalidRequestError, NotFoundError, RequestTooLargeError } from "../../errors.js";
import { notServedLocally } from "../../proxy/forwarder.js";
import { normaliseProxyPath } from "../../proxy/proxyPath.js";
import { assertRouteAllowed, requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";

/** The methods an HTTP API uses; TRACE, CONNECT and the WebDAV verbs are never forwarded. */
const PROXY_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** Bodies up to this size are read before a route's upstream slot is taken, so a stalled upload holds none. */
const BUFFERED_BODY_BYTES = 1024 * 1024;
const PROXY_PREFIX = "/model/proxy/";

class BodyTimeoutError extends ApiError {
  constructor(ms: number) {
    super(408, "invalid_request", `The request body stalled: no bytes for ${ms} ms.`, { code: "request_body_timeout" });
  }
}

/**
 * Destroys `stream` with a 408 when no bytes arrive for `idleMs` (so a stalled upload
 * frees its upstream request and its route slot); returns a function that stops watching.
 */
function watchIdle(stream: IncomingMessage, idleMs: number): () => void {
  let timer = setTimeout(stall, idleMs);
  function stall() {
    stream.destroy(new BodyTimeoutError(idleMs));
  }
  const onData = () => {
    clearTimeout(timer);
    timer = setTimeout(stall, idleMs);
  };
  const stop = () => {
    clearTimeout(timer);
    stream.off("data", onData);
  };
  stream.on("data", onData);
  stream.once("end", stop);
  stream.once("close", stop);
  return stop;
}

/** Reads a raw request body into memory, up to `limit` bytes (413 beyond), with an idle timeout (408). */
async function readBody(stream: IncomingMessage | undefined, limit: number, idleMs: number): Promise<Buffer | null> {
  if (!stream) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  const stop = watchIdle(stream, idleMs);
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new RequestTooLargeError();
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    // The stream's own error is the 408 above; anything else is the caller going away.
    throw error instanceof ApiError ? error : new BodyTimeoutError(idleMs);
  } finally {
    stop();
  }
  return size === 0 ? null : Buffer.concat(chunks);
}

/** The `model` field of a multipart form, without parsing the files in it. */
function multipartModel(body: Buffer | null, contentType: string | undefined): string | null {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType ?? "")?.[1];
  if (!body || !boundary) return null;
  const text = body.toString("latin1");
  const match = /content-disposition:\s*form-data;\s*name="model"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n/i.exec(text);
  return match?.[1] ? Buffer.from(match[1], "latin1").toString("utf8") : null;
}

/**
 * The generic reverse proxy `/model/proxy/<route_id>/<path>` (and the deprecated
 * header form), and the OpenAI endpoints the local engine does not serve (images,
 * audio), which are forwarded when their route has an upstream. Bodies are passed
 * through as raw streams.
 */
export async function proxyRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  app.addHook("preHandler", requireKey(deps, "inference"));

  const proxyRoute = (route: Route | undefined, label: string): Route => {
    if (!route?.genericProxy || !route.enabled) {
      throw new NotFoundError(`No generic-proxy route ${label}.`, null, "route_not_found");
    }
    return route;
  };

  const idleMs = () => deps.options.requestBodyIdleTimeoutMs;

  /**
   * The body to forward: read into memory when small (a stalled upload then holds no
   * upstream slot), else streamed under the idle timeout.
   */
  const proxyBody = async (request: FastifyRequest, reply: FastifyReply): Promise<IncomingMessage | Buffer | null> => {
    const raw = request.body as IncomingMessage | undefined;
    if (!raw) return null;
    const length = Number(request.headers["content-length"] ?? Number.NaN);
    try {
      if (Number.isFinite(length) && length <= BUFFERED_BODY_BYTES) return await readBody(raw, deps.options.bodyLimit, idleMs());
    } catch (error) {
      // The caller's connection is in an unknown state after a stalled body: close it with the answer.
      reply.header("connection", "close");
      throw error;
    }
    if (Number.isFinite(length) && length > deps.options.bodyLimit) throw new RequestTooLargeError();
    watchIdle(raw, idleMs());
    return raw;
  };

  const proxy = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!PROXY_METHODS.has(request.method)) {
      reply.header("allow", [...PROXY_METHODS].join(", "));
      throw new ApiError(405, "invalid_request", `The proxy does not forward ${request.method} requests.`, {
        code: "method_not_allowed",
      });
    }
    // The raw path, not the router's decoded parameter: dot segments and encodings are judged here.
    const rawUrl = request.raw.url ?? request.url;
    const queryAt = rawUrl.indexOf("?");
    const rawPath = queryAt >= 0 ? rawUrl.slice(0, queryAt) : rawUrl;
    const query = queryAt >= 0 ? rawUrl.slice(queryAt) : "";
    if (!rawPath.startsWith(PROXY_PREFIX))
      throw new InvalidRequestError("Use /model/proxy/<route_id>/<path>.", null, "invalid_proxy_path");
    const rest = rawPath.slice(PROXY_PREFIX.length);
    const slash = rest.indexOf("/");
    const first = slash >= 0 ? rest.slice(0, slash) : rest;
    let route: Route;
    let path: string;
    let body: IncomingMessage | Buffer | null;
    if (/^\d+$/.test(first)) {
      route = proxyRoute(deps.routes.get(Number(first)), `with id ${first}`);
      path = `${normaliseProxyPath(slash >= 0 ? rest.slice(slash) : "/")}${query}`;
      body = await proxyBody(request, reply);
    } else {
      // Deprecated: the route name comes from X-GPUStack-Model, else from the JSON body's `model`.
      reply.header("deprecation", "true");
      path = `${normaliseProxyPath(rest)}${query}`;
      const header = request.headers["x-gpustack-model"];
      let name = typeof header === "string" && header ? header : null;
      body = await proxyBody(request, reply);
      if (!name) {
        if (body && !Buffer.isBuffer(body)) body = await readBody(body, deps.options.bodyLimit, idleMs());
        try {
          const parsed = body ? (JSON.parse(body.toString("utf8")) as { model?: unknown }) : null;
          if (typeof parsed?.model === "string") name = parsed.model;
        } catch {
          // not JSON: no model in it
        }
      }
      if (!name) {
        throw new InvalidRequestError(
          "Name the route in the X-GPUStack-Model header or the body's model, or use /model/proxy/<route_id>/<path>.",
          "model",
        );
      }
      route = proxyRoute(deps.routes.byName(name), `named '${name}'`);
    }
    assertRouteAllowed(request, route.name);
    const resolution = { kind: "upstream" as const, routeName: route.name, route };
    return deps.router.forward(request, reply, {
      resolution,
      operation: "proxy",
      path,
      rawBody: body,
      extraHeaders: reply.getHeader("deprecation") ? { deprecation: "true" } : {},
    });
  };
  app.all("/model/proxy/*", proxy);

  // Images and audio: JSON bodies (generations, speech) and multipart forms (edits, transcriptions).
  for (const [path, what, multipart] of [
    ["/v1/images/generations", "image generation", false],
    ["/v1/images/edits", "image edits", true],
    ["/v1/audio/speech", "speech synthesis", false],
    ["/v1/audio/transcriptions", "audio transcription", true],
    ["/v1/audio/translations", "audio translation", true],
  ] as const) {
    app.post(path, async (request, reply) => {
      // JSON endpoints take JSON only: a form or text/plain body is what a cross-site page can send without a preflight.
      const type = String(request.headers["content-type"] ?? "").toLowerCase();
      if (multipart ? !type.startsWith("multipart/form-data") : !/^application\/([\w.+-]+\+)?json\b/.test(type)) {
        throw new ApiError(
          415,
          "invalid_request",
          `Unsupported Content-Type; send ${multipart ? "multipart/form-data" : "application/json"}.`,
          {
            code: "unsupported_media_type",
          },
        );
      }
      const body = await readBody(request.body as IncomingMessage | undefined, deps.options.bodyLimit, idleMs());
      let name: string | null = null;
      if (multipart) name = multipartModel(body, request.headers["content-type"]);
      else {
        try {
          const parsed = body ? (JSON.parse(body.toString("utf8")) as { model?: unknown }) : null;
          if (typeof parsed?.model === "string") name = parsed.model;
        } catch {
          throw new InvalidRequestError("The request body is not valid JSON.", null, "invalid_json");
        }
      }
      if (!name) throw new InvalidRequestError("Missing required parameter: 'model'.", "model");
      const resolution = deps.router.resolve(name);
      if (resolution.kind === "local") throw notServedLocally(what, name);
      assertRouteAllowed(request, name);
      return deps.router.forward(request, reply, { resolution, operation: "proxy", path, rawBody: body });
    });
  }
}
