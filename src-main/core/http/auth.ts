import type { FastifyReply, FastifyRequest } from "fastify";
import { type ApiKeyPublic, type KeyScope, routeAllowed, SESSION_KEY_ID } from "../domain/apiKeys.js";
import { secondsUntilUtcMidnight } from "../domain/limits.js";
import { AuthenticationError, PermissionError, RateLimitError } from "../errors.js";
import type { ServerDeps } from "./context.js";

/** The browser session cookie set by the web app's sign-in (`/api/auth/*`). */
export const SESSION_COOKIE = "maas_session";
/** How long a browser session lasts: the cookie and the key behind it. */
export const SESSION_DAYS = 30;

/** The key a client sent: `Authorization: Bearer`, `x-api-key` (Anthropic) or `api-key` (Continue, Azure style). */
export function headerKey(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  if (typeof authorization === "string") {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1].trim();
  }
  for (const header of ["x-api-key", "api-key"]) {
    const value = request.headers[header];
    if (typeof value === "string" && value.trim()) return value.trim();
  }
  return null;
}

/** The session key in the request's cookie, whoever sent it. */
export function cookieKey(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== "string") return null;
  for (const part of header.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name !== SESSION_COOKIE) continue;
    try {
      return decodeURIComponent(rest.join("=")) || null;
    } catch {
      return null; // a malformed cookie is no cookie, not a 500
    }
  }
  return null;
}

/**
 * A browser attaches cookies to requests other sites make, so a cookie only counts
 * when the browser says the request came from this app's own page: `Sec-Fetch-Site:
 * same-origin`, or (browsers without Fetch Metadata) an `Origin` naming this host.
 * A request with neither, or from another site, is treated as if it had no cookie.
 */
export function sameOriginRequest(request: FastifyRequest): boolean {
  const site = request.headers["sec-fetch-site"];
  if (typeof site === "string") return site === "same-origin";
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (typeof origin !== "string" || typeof host !== "string") return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** The key of a request: a header key, else a browser session cookie sent by this app's own page. */
export function presentedKey(request: FastifyRequest): string | null {
  const fromHeader = headerKey(request);
  if (fromHeader) return fromHeader;
  const fromCookie = cookieKey(request);
  return fromCookie && sameOriginRequest(request) ? fromCookie : null;
}

const LOOPBACK_ADDRESSES = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export function fromLoopback(request: FastifyRequest): boolean {
  return LOOPBACK_ADDRESSES.has(request.socket.remoteAddress ?? "");
}

/**
 * A preHandler that requires a live key holding `scope`, then applies the key's
 * own limits (requests per minute, tokens per day). With the loopback setting on,
 * a keyless request from this machine may use the inference endpoints.
 */
export function requireKey(deps: ServerDeps, scope: KeyScope) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const presented = presentedKey(request);
    if (!presented) {
      if (scope === "inference" && deps.options.allowLoopbackWithoutKey && fromLoopback(request)) return;
      throw new AuthenticationError();
    }
    const key = deps.keys.verify(presented);
    if (!key) throw new AuthenticationError("Invalid, expired or revoked API key.");
    if (!key.scopes.includes(scope)) {
      throw new PermissionError(`This endpoint needs a key with the '${scope}' scope; this key has: ${key.scope}.`);
    }
    // A session credential (the desktop window's) has no row: its requests carry no key id.
    if (key.id === SESSION_KEY_ID) return;
    request.apiKey = key;
    if (scope !== "inference") return;
    if (key.rpmLimit !== null) {
      const taken = deps.limiter.take(key.id, key.rpmLimit);
      if (!taken.allowed) {
        throw new RateLimitError(`This key allows ${key.rpmLimit} requests per minute.`, taken.retryAfterSeconds);
      }
    }
    if (key.tokensPerDay !== null && deps.usage.tokensToday(key.id) >= key.tokensPerDay) {
      throw new RateLimitError(`This key has used its ${key.tokensPerDay} tokens for today (UTC).`, secondsUntilUtcMidnight());
    }
  };
}

/**
 * Whether a key may use the model route `route` (the name a client puts in `model`):
 * the one rule, used by the inference pipeline's check and by the model lists.
 */
export function keyMayUseRoute(key: ApiKeyPublic | null, route: string): boolean {
  // Entries may be globs (`claude-*`), matched as glob aliases are (domain/apiKeys.ts).
  return routeAllowed(key?.allowedRoutes, route);
}

/** A key limited to some routes may only name those (as `model`): 403 otherwise. */
export function assertRouteAllowed(request: FastifyRequest, route: string): void {
  if (!keyMayUseRoute(request.apiKey, route)) {
    const allowed = request.apiKey?.allowedRoutes ?? [];
    throw new PermissionError(`This key may not use '${route}'; it may use: ${allowed.join(", ")}.`);
  }
}
