import { randomBytes } from "node:crypto";
import { type LookupAddress, lookup } from "node:dns";
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { Readable } from "node:stream";
import { isMetadataOrLinkLocal } from "../domain/upstreamAddress.js";
import { ApiError } from "../errors.js";

/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus `host`. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/**
 * The caller's credentials for this server, headers only this server may set, and
 * what a browser says about the page that sent the request (meaningless upstream).
 */
const CALLER_ONLY = new Set([
  "authorization",
  "x-api-key",
  "api-key",
  "cookie",
  "x-gpustack-model",
  "x-request-id",
  "origin",
  "referer",
]);

/** Upstream response headers our own origin's policy decides, never an upstream's. */
function upstreamMayNotSet(lower: string): boolean {
  return lower === "set-cookie" || lower === "set-cookie2" || lower.startsWith("access-control-");
}

/** Header names listed in `Connection` are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionNamed(headers: IncomingHttpHeaders): Set<string> {
  const value = headers.connection;
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return new Set(
    text
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

/**
 * A server's token in `Via` (one per core, so two cores in one process are two hops): a
 * request that comes back carrying it went round a loop (a route pointing at this
 * server, directly or through another proxy) and is refused.
 */
export function newViaToken(): string {
  return `maas-base-${randomBytes(6).toString("hex")}`;
}
/** More of our own kind of hop than this in one chain is a loop between instances. */
const MAX_MAAS_HOPS = 4;

/** Whether an incoming request has already passed through this server (or too many of its kind). */
export function isProxyLoop(headers: IncomingHttpHeaders, viaToken: string): boolean {
  const via = headers.via;
  const text = Array.isArray(via) ? via.join(",") : (via ?? "");
  if (!text) return false;
  if (text.includes(viaToken)) return true;
  return (text.match(/maas-base-[0-9a-f]+/g) ?? []).length >= MAX_MAAS_HOPS;
}

/**
 * Name resolution for upstream sockets that refuses link-local answers (a host name
 * that resolves to a metadata address), unless private targets are allowed.
 */
let allowPrivateTargets = false;
export function allowPrivateUpstreams(allow: boolean): void {
  allowPrivateTargets = allow;
}
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, "", 0);
    const list = (addresses as LookupAddress[]).filter((a) => allowPrivateTargets || !isMetadataOrLinkLocal(a.address));
    if (list.length === 0) {
      const refused = Object.assign(new Error(`${hostname} resolves to a link-local (metadata) address`), {
        code: "ELINKLOCAL",
      });
      return callback(refused, "", 0);
    }
    if ((options as { all?: boolean }).all) return (callback as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
};

export class UpstreamError extends ApiError {
  constructor(status: 502 | 504, message: string) {
    super(status, "server", message, { code: status === 504 ? "upstream_timeout" : "upstream_unavailable" });
  }
}

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000, lookup: guardedLookup }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000, lookup: guardedLookup }),
};

/** The caller's request headers, cleaned for the upstream; `key` becomes its bearer token. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  options: { key?: string | null; requestId: string; bodyLength?: number | null; viaToken: string },
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const named = connectionNamed(incoming);
  for (const [name, value] of Object.entries(incoming)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || named.has(lower) || CALLER_ONLY.has(lower)) continue;
    if (lower.startsWith("x-maas-") || lower.startsWith("sec-fetch-") || lower === "via") continue;
    if (lower === "content-length" && options.bodyLength !== undefined) continue;
    out[lower] = value;
  }
  if (options.bodyLength !== undefined && options.bodyLength !== null) out["content-length"] = String(options.bodyLength);
  if (options.key) out.authorization = `Bearer ${options.key}`;
  out["x-request-id"] = options.requestId;
  const via = incoming.via;
  const earlier = Array.isArray(via) ? via.join(", ") : via;
  out.via = `${earlier ? `${earlier}, ` : ""}1.1 ${options.viaToken}`;
  return out;
}

/** The upstream's response headers, cleaned for the caller. */
export function callerResponseHeaders(incoming: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const named = connectionNamed(incoming);
  for (const [name, value] of Object.entries(incoming)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || named.has(lower) || upstreamMayNotSet(lower)) continue;
    out[name] = value;
  }
  return out;
}

/** `base` + `path`, where a base ending in `/v1` stands for the server root's `/v1`. */
export function joinUpstream(base: string, pathAndQuery: string): URL {
  const trimmed = base.replace(/\/+$/, "");
  const path = trimmed.endsWith("/v1") && pathAndQuery.startsWith("/v1/") ? pathAndQuery.slice(3) : pathAndQuery;
  return new URL(trimmed + (path.startsWith("/") ? path : `/${path}`));
}

export interface ForwardRequest {
  method: string;
  url: URL;
  headers: Record<string, string | string[]>;
  /** A buffer (replayable) or a stream (sent once). */
  body: Buffer | Readable | null;
  /** Aborts the upstream request (the caller went away). */
  signal: AbortSignal;
  /** How long the upstream may take to send its response headers. */
  headersTimeoutMs: number;
}

/**
 * Sends one request upstream and resolves with the response once its headers
 * arrive (the body is left to stream). Connection failures are 502, no headers in
 * time 504; the caller's abort destroys the upstream request.
 */
export function forward(req: ForwardRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const https = req.url.protocol === "https:";
    const send = https ? httpsRequest : httpRequest;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    if (!allowPrivateTargets && isMetadataOrLinkLocal(req.url.hostname)) {
      reject(new UpstreamError(502, `The upstream ${req.url.hostname} is a link-local (metadata) address; refused.`));
      return;
    }
    const upstream = send(req.url, { method: req.method, headers: req.headers, agent: https ? agents.https : agents.http });
    const timer = setTimeout(() => {
      fail(new UpstreamError(504, `The upstream did not answer within ${req.headersTimeoutMs} ms.`));
      upstream.destroy();
    }, req.headersTimeoutMs);
    const onAbort = () => {
      fail(new Error("aborted"));
      upstream.destroy();
    };
    if (req.signal.aborted) return onAbort();
    req.signal.addEventListener("abort", onAbort, { once: true });
    upstream.on("response", (res) => {
      clearTimeout(timer);
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      // From here the caller's abort ends the response stream.
      resolve(res);
    });
    upstream.on("close", () => req.signal.removeEventListener("abort", onAbort));
    upstream.on("error", (error) => {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      fail(new UpstreamError(502, `The upstream at ${req.url.origin} could not be reached (${code || error.message}).`));
    });
    if (req.body === null) upstream.end();
    else if (Buffer.isBuffer(req.body)) upstream.end(req.body);
    else {
      // A body that fails (the caller stalled past the idle timeout, or went away) ends the upstream request.
      req.body.on("error", (error) => {
        fail(error instanceof ApiError ? error : new UpstreamError(502, "The request body could not be read."));
        upstream.destroy();
      });
      req.body.pipe(upstream);
    }
  });
}

/**
 * Watches a response body as it streams past and keeps the OpenAI- or
 * Anthropic-style token usage it reports (a JSON body, or SSE `data:` lines).
 */
export class UsageTap {
  promptTokens = 0;
  completionTokens = 0;
  bytes = 0;
  private buffer = "";
  private readonly sse: boolean;
  private readonly json: boolean;

  constructor(contentType: string | undefined) {
    this.sse = /text\/event-stream/i.test(contentType ?? "");
    this.json = /application\/json/i.test(contentType ?? "");
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (!this.sse && !this.json) return;
    if (this.json && this.buffer.length > 4 * 1024 * 1024) return; // too big to bother
    this.buffer += chunk.toString("utf8");
    if (!this.sse) return;
    let end = this.buffer.indexOf("\n");
    while (end >= 0) {
      const line = this.buffer.slice(0, end).trim();
      this.buffer = this.buffer.slice(end + 1);
      if (line.startsWith("data:") && line.includes('"usage"')) this.take(line.slice(5).trim());
      end = this.buffer.indexOf("\n");
    }
  }

  end(): void {
    if (this.json && this.buffer.includes('"usage"')) this.take(this.buffer);
    this.buffer = "";
  }

  private take(text: string): void {
    try {
      const parsed = JSON.parse(text) as {
        usage?: Record<string, number>;
        message?: { usage?: Record<string, number> };
        response?: { usage?: Record<string, number> };
      };
      const usage = parsed.usage ?? parsed.message?.usage ?? parsed.response?.usage;
      if (!usage) return;
      const prompt = usage.prompt_tokens ?? usage.input_tokens;
      const completion = usage.completion_tokens ?? usage.output_tokens;
      if (typeof prompt === "number" && prompt > 0) this.promptTokens = prompt;
      if (typeof completion === "number" && completion > 0) this.completionTokens = completion;
    } catch {
      // not JSON: no usage to read
    }
  }
}
