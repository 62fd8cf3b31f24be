/** The window's security decisions, as pure functions (the main process wires them; tests call them). */

/** Pages the window may show: the app itself (file:// build, or the dev server) and nothing else. */
export function isAllowedNavigation(target: string, appUrl: string): boolean {
  try {
    const to = new URL(target);
    const app = new URL(appUrl);
    if (app.protocol === "file:") return to.protocol === "file:" && to.pathname === app.pathname;
    return to.origin === app.origin;
  } catch {
    return false;
  }
}

/** Links that may open in the default browser: http(s) only, never file:, javascript: or custom schemes. */
export function isExternalLink(target: string): boolean {
  try {
    const url = new URL(target);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
  } catch {
    return false;
  }
}

/** The renderer never gets camera, microphone, geolocation, notifications or any other permission. */
export function permissionAllowed(_permission: string): boolean {
  return false;
}

/** The CSP the window's responses carry (the HTML has the same one as a meta tag). */
export function contentSecurityPolicy(serverOrigin: string): string {
  return [
    "default-src 'self'",
    `connect-src 'self' ${serverOrigin} http://127.0.0.1:* http://localhost:*`,
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export interface WindowBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized?: boolean;
}

/** Saved window bounds, kept only if they are sane and still on one of the displays. */
export function restoreBounds(
  saved: unknown,
  displays: Array<{ x: number; y: number; width: number; height: number }>,
): WindowBounds {
  const fallback = { width: 1280, height: 820 };
  if (!saved || typeof saved !== "object") return fallback;
  const b = saved as Partial<WindowBounds>;
  if (typeof b.width !== "number" || typeof b.height !== "number" || b.width < 640 || b.height < 480) return fallback;
  const width = Math.min(b.width, 8192);
  const height = Math.min(b.height, 8192);
  if (typeof b.x !== "number" || typeof b.y !== "number") return { width, height, maximized: Boolean(b.maximized) };
  const x = b.x;
  const y = b.y;
  const visible = displays.some((d) => x + 100 > d.x && y + 50 > d.y && x < d.x + d.width - 100 && y < d.y + d.height - 50);
  return visible ? { x, y, width, height, maximized: Boolean(b.maximized) } : { width, height, maximized: Boolean(b.maximized) };
}
