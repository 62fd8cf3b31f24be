import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
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

/** The caller's credentials for this server and headers only this server may set. */
const CALLER_ONLY = new Set(["authorization", "x-api-key", "api-key", "cookie", "x-gpustack-model", "x-request-id"]);

export class UpstreamError extends ApiError {
  constructor(status: 502 | 504, message: string) {
    super(status, "server", message, { code: status === 504 ? "upstream_timeout" : "upstream_unavailable" });
  }
}

const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 10_000 }),
};

/** The caller's request headers, cleaned for the upstream; `key` becomes its bearer token. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  options: { key?: string | null; requestId: string; bodyLength?: number | null },
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || CALLER_ONLY.has(lower) || lower.startsWith("x-maas-")) continue;
    if (lower === "content-length" && options.bodyLength !== undefined) continue;
    out[lower] = value;
  }
  if (options.bodyLength !== undefined && options.bodyLength !== null) out["content-length"] = String(options.bodyLength);
  if (options.key) out.authorization = `Bearer ${options.key}`;
  out["x-request-id"] = options.requestId;
  return out;
}

/** The upstream's response headers, cleaned for the caller. */
export function callerResponseHeaders(incoming: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name.toLowerCase())) continue;
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
      req.body.on("error", (error) => upstream.destroy(error));
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
