import type { IncomingMessage } from "node:http";
import { ApiError, InvalidRequestError, RequestTooLargeError } from "../errors.js";
import { normaliseProxyPath } from "./proxyPath.js";

/** The methods an HTTP API uses; TRACE, CONNECT and the WebDAV verbs are never forwarded. */
export const PROXY_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** Bodies up to this size are read before a route's upstream slot is taken, so a stalled upload holds none. */
const BUFFERED_BODY_BYTES = 1024 * 1024;
const PROXY_PREFIX = "/model/proxy/";

class BodyTimeoutError extends ApiError {
  constructor(ms: number) {
    super(408, "invalid_request", `The request body stalled: no bytes for ${ms} ms.`, { code: "request_body_timeout" });
  }
}

/** 405 for a method the proxy never forwards, with the `allow` list to send. */
export function methodNotForwarded(method: string): ApiError {
  return new ApiError(405, "invalid_request", `The proxy does not forward ${method} requests.`, {
    code: "method_not_allowed",
  });
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
export async function readBody(stream: IncomingMessage | undefined, limit: number, idleMs: number): Promise<Buffer | null> {
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

/**
 * The body to forward: read into memory when small (a stalled upload then holds no
 * upstream slot), else streamed under the idle timeout. `onStall` runs when reading
 * failed (the caller's connection is then in an unknown state).
 */
export async function proxyBody(
  raw: IncomingMessage | undefined,
  contentLength: string | undefined,
  limits: { bodyLimit: number; idleMs: number },
  onStall: () => void,
): Promise<IncomingMessage | Buffer | null> {
  if (!raw) return null;
  const length = Number(contentLength ?? Number.NaN);
  try {
    if (Number.isFinite(length) && length <= BUFFERED_BODY_BYTES) return await readBody(raw, limits.bodyLimit, limits.idleMs);
  } catch (error) {
    onStall();
    throw error;
  }
  if (Number.isFinite(length) && length > limits.bodyLimit) throw new RequestTooLargeError();
  watchIdle(raw, limits.idleMs);
  return raw;
}

/** The `model` field of a multipart form, without parsing the files in it. */
export function multipartModel(body: Buffer | null, contentType: string | undefined): string | null {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType ?? "")?.[1];
  if (!body || !boundary) return null;
  const text = body.toString("latin1");
  const match = /content-disposition:\s*form-data;\s*name="model"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n/i.exec(text);
  return match?.[1] ? Buffer.from(match[1], "latin1").toString("utf8") : null;
}

/** The string `model` of a JSON body, or null (also when it is not JSON, unless `strict`: then a 400). */
export function jsonModel(body: Buffer | null, strict: boolean): string | null {
  try {
    const parsed = body ? (JSON.parse(body.toString("utf8")) as { model?: unknown }) : null;
    return typeof parsed?.model === "string" ? parsed.model : null;
  } catch {
    if (strict) throw new InvalidRequestError("The request body is not valid JSON.", null, "invalid_json");
    return null;
  }
}

/**
 * Which route a `/model/proxy/…` URL names, and the path to forward. Read from the raw
 * URL, not the router's decoded parameter: dot segments and encodings are judged here.
 * `/model/proxy/<route_id>/<path>`, or (deprecated) `/model/proxy/<path>` with the route
 * named elsewhere (the `X-GPUStack-Model` header or the body's `model`).
 */
export function genericProxyTarget(rawUrl: string): { routeId: number | null; path: () => string } {
  const queryAt = rawUrl.indexOf("?");
  const rawPath = queryAt >= 0 ? rawUrl.slice(0, queryAt) : rawUrl;
  const query = queryAt >= 0 ? rawUrl.slice(queryAt) : "";
  if (!rawPath.startsWith(PROXY_PREFIX)) {
    throw new InvalidRequestError("Use /model/proxy/<route_id>/<path>.", null, "invalid_proxy_path");
  }
  const rest = rawPath.slice(PROXY_PREFIX.length);
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : rest;
  if (/^\d+$/.test(first)) {
    // The path is judged once the route is known (an unknown route is a 404 whatever its path).
    return { routeId: Number(first), path: () => `${normaliseProxyPath(slash >= 0 ? rest.slice(slash) : "/")}${query}` };
  }
  return { routeId: null, path: () => `${normaliseProxyPath(rest)}${query}` };
}
