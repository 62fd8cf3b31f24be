import { InvalidRequestError } from "../errors.js";

/** Characters a path segment may carry unescaped (RFC 3986 pchar minus `%`). */
const PCHAR_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;

function encodeSegment(segment: string): string {
  let out = "";
  for (const ch of segment) out += PCHAR_SAFE.test(ch) ? ch : encodeURIComponent(ch);
  return out;
}

function refuse(why: string): never {
  throw new InvalidRequestError(`The proxied path ${why}; it must stay under the route's base path.`, null, "invalid_proxy_path");
}

/**
 * The path a proxied request may be forwarded with: percent-decoded once (so `%2e%2e`
 * and `..%2f` are seen as what an upstream would see), dot segments resolved, and
 * re-encoded segment by segment. A path that climbs above its root, is encoded twice
 * (`%252e`), or carries a backslash or NUL is refused: upstreams disagree on those.
 */
export function normaliseProxyPath(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    refuse("is not valid percent-encoding");
  }
  if (/%[0-9a-f]{2}/i.test(decoded)) refuse("is percent-encoded twice");
  if (decoded.includes("\\") || decoded.includes("\0")) refuse("contains a backslash or NUL");
  const out: string[] = [];
  for (const segment of decoded.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length === 0) refuse("climbs above its root ('..')");
      out.pop();
      continue;
    }
    out.push(segment);
  }
  const trailing = decoded.endsWith("/") && out.length > 0 ? "/" : "";
  return `/${out.map(encodeSegment).join("/")}${trailing}`;
}

/** Whether `url` lies under `base`'s path (the final check before anything is sent). */
export function underBase(url: URL, base: string): boolean {
  const basePath = new URL(base).pathname.replace(/\/+$/, "");
  return url.pathname === basePath || url.pathname.startsWith(`${basePath}/`);
}
