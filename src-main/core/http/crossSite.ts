import type { FastifyInstance, FastifyRequest } from "fastify";
import { ApiError } from "../errors.js";

/** Methods that only read; everything else runs work or changes state. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Paths where even a GET forwards (and spends an upstream key). */
const FORWARDING_PREFIXES = ["/model/proxy/"];

export class CrossSiteError extends ApiError {
  constructor(origin: string) {
    super(
      403,
      "permission",
      `Cross-site browser requests are refused (from ${origin}). Allow the origin with --cors-origin if it is yours.`,
      { code: "cross_site_request" },
    );
  }
}

function header(request: FastifyRequest, name: string): string | null {
  const value = request.headers[name];
  return typeof value === "string" ? value : null;
}

/**
 * Whether a request comes from a web page of another origin: `Sec-Fetch-Site` where
 * the browser sends it (every current one does), else `Origin` against our `Host`.
 * A request without either is not from a browser page (curl, SDKs, other apps).
 */
export function crossSiteOrigin(request: FastifyRequest, allowedOrigins: readonly string[]): string | null {
  const origin = header(request, "origin");
  if (origin && (allowedOrigins.includes("*") || allowedOrigins.includes(origin))) return null;
  const site = header(request, "sec-fetch-site")?.toLowerCase();
  // `same-site` is another port or subdomain: another origin, refused like cross-site.
  if (site === "cross-site" || site === "same-site") return origin ?? site;
  if (site === "same-origin" || site === "none") return null;
  if (!origin) return null;
  if (origin === "null") return origin;
  try {
    const host = header(request, "host")?.toLowerCase();
    return new URL(origin).host.toLowerCase() === host ? null : origin;
  } catch {
    return origin;
  }
}

/**
 * Refuses cross-site browser requests to every endpoint that runs work, forwards or
 * changes state — whether or not a key or a sign-in cookie comes with them, and with
 * `--allow-loopback-without-key` too: a page the user visits must not spend their
 * models, their paid upstream keys, or change their settings. Reads stay open to
 * CORS, which decides what a page may see.
 */
export function registerCrossSiteGuard(app: FastifyInstance, allowedOrigins: readonly string[]): void {
  app.addHook("onRequest", async (request) => {
    const path = request.url;
    const forwards = FORWARDING_PREFIXES.some((p) => path.startsWith(p));
    if (SAFE_METHODS.has(request.method) && !forwards) return;
    const origin = crossSiteOrigin(request, allowedOrigins);
    if (origin !== null) throw new CrossSiteError(origin);
  });
}
