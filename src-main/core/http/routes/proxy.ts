import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Route } from "../../domain/routes.js";
import { InvalidRequestError, NotFoundError, RequestTooLargeError } from "../../errors.js";
import { assertRouteAllowed, requireKey } from "../auth.js";
import type { ServerDeps } from "../context.js";
import { notServedLocally } from "../router.js";

/** Reads a raw request body into memory, up to `limit` bytes (413 beyond). */
async function readBody(stream: IncomingMessage | undefined, limit: number): Promise<Buffer | null> {
  if (!stream) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new RequestTooLargeError();
    chunks.push(chunk as Buffer);
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

  const proxy = async (request: FastifyRequest<{ Params: { "*": string } }>, reply: FastifyReply) => {
    const rest = request.params["*"] ?? "";
    const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "";
    const [first = "", ...others] = rest.split("/");
    const raw = request.body as IncomingMessage | undefined;
    let route: Route;
    let path: string;
    let body: IncomingMessage | Buffer | null = raw ?? null;
    if (/^\d+$/.test(first)) {
      route = proxyRoute(deps.routes.get(Number(first)), `with id ${first}`);
      path = `/${others.join("/")}${query}`;
    } else {
      // Deprecated: the route name comes from X-GPUStack-Model, else from the JSON body's `model`.
      reply.header("deprecation", "true");
      const header = request.headers["x-gpustack-model"];
      let name = typeof header === "string" && header ? header : null;
      if (!name) {
        body = await readBody(raw, deps.options.bodyLimit);
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
      path = `/${rest}${query}`;
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
      const body = await readBody(request.body as IncomingMessage | undefined, deps.options.bodyLimit);
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
