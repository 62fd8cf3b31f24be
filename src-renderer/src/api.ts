/** How the app reaches the core: same origin on the web, the URL the preload gives inside Electron. */
import type { SessionCreate, SessionPublic, SessionStatus, SignInExchange } from "../../src-main/core/contract/index.js";

export interface DesktopApi {
  connection: () => Promise<{ url: string; managementKey: string } | null>;
  pickModelFile?: () => Promise<string | null>;
  openExternal?: (url: string) => Promise<void>;
  appVersion?: () => Promise<string>;
}

declare global {
  interface Window {
    maasBase?: DesktopApi;
  }
}

let base = "";
/** The desktop window's key (its preload hands it over); on the web the session is an HttpOnly cookie. */
let key: string | null = null;

export const desktop = (): DesktopApi | undefined => window.maasBase;

export function serverUrl(): string {
  return base || window.location.origin;
}

/** What the app knows about its own sign-in (the session key itself stays in the cookie). */
export type Session = SessionPublic;

let signedOutListener: ((reason: string) => void) | null = null;

/** Called when a call answers 401: the session was revoked or expired, so the app shows sign-in. */
export function onSignedOut(listener: (reason: string) => void): void {
  signedOutListener = listener;
}

/** Signs this browser out: the server revokes the session's key and clears the cookie. */
export async function signOut(): Promise<void> {
  key = null;
  await fetch("/api/auth/session", { method: "DELETE" }).catch(() => {});
}

/** The `#signin=…` code in an address, if any. */
export const signInCode = (hash: string): string | null => /signin=([\w-]+)/.exec(hash)?.[1] ?? null;

/** Exchanges a one-time sign-in code for a session cookie; throws with the server's reason. */
export async function exchangeCode(code: string): Promise<void> {
  history.replaceState(null, "", `${window.location.pathname}#/dashboard`);
  await send("/api/auth/exchange", { method: "POST", json: { code } satisfies SignInExchange, quiet: true });
}

/** Signs in with a pasted management key: the server answers with a session cookie of its own. */
export async function signInWithKey(value: string): Promise<void> {
  await send("/api/auth/session", { method: "POST", json: { key: value.trim() } satisfies SessionCreate, quiet: true });
}

/**
 * Finds credentials: the desktop preload's key, a one-time sign-in code in the URL
 * (`#signin=…`, printed by `maas-base serve`), or this browser's session cookie.
 * Resolves with the session, or with why there is none.
 */
export async function connect(): Promise<{ session: Session } | { problem: string | null }> {
  const bridge = desktop();
  if (bridge) {
    const info = await bridge.connection();
    if (info) {
      base = info.url;
      key = info.managementKey;
    }
  }
  let problem: string | null = null;
  const code = signInCode(window.location.hash);
  if (code) {
    try {
      await exchangeCode(code);
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e);
    }
  }
  try {
    const { session } = await api<SessionStatus>("/api/auth/session", { quiet: true });
    return session ? { session } : { problem };
  } catch (e) {
    return { problem: problem ?? (e instanceof Error ? e.message : String(e)) };
  }
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The error's machine-readable code (`model_exists`, `hf_gated`…), when the server gave one. */
    readonly code: string | null = null,
    /** The request field the error is about, when the server named one. */
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** `quiet`: a 401 is the caller's business (sign-in itself), not a signed-out session. */
type CallInit = RequestInit & { json?: unknown; quiet?: boolean };

/** A request to the core with the session's credentials; a failed one throws with the server's message. */
async function send(path: string, init: CallInit = {}): Promise<Response> {
  const { json, quiet, ...rest } = init;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      ...rest,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(json !== undefined ? { "content-type": "application/json" } : {}),
        ...(rest.headers as Record<string, string>),
      },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiFailure(0, "The server is not reachable: is `maas-base serve` (or the app) still running?");
  }
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    let code: string | null = null;
    let param: string | null = null;
    try {
      const body = (await res.json()) as { error?: { message?: string; code?: string; param?: string } | string };
      message = typeof body.error === "string" ? body.error : (body.error?.message ?? message);
      if (typeof body.error === "object") {
        code = body.error.code ?? null;
        param = body.error.param ?? null;
      }
    } catch {
      // not JSON
    }
    if (res.status === 401 && !quiet) signedOutListener?.(message);
    throw new ApiFailure(res.status, message, code, param);
  }
  return res;
}

/** A JSON call to the core with the session's key; errors carry the server's message. */
export async function api<T>(path: string, init: CallInit = {}): Promise<T> {
  return (await (await send(path, init)).json()) as T;
}

/** Downloads a CSV (or any) export with the session's key. */
export async function download(path: string, fileName: string): Promise<void> {
  const url = URL.createObjectURL(await (await send(path)).blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  a.click();
  URL.revokeObjectURL(url);
}

/** Reads a server-sent event stream (fetch, so the key can go in a header), calling `onEvent` per event. */
export async function readSse(
  path: string,
  init: CallInit,
  onEvent: (data: string, event: string | null) => void,
): Promise<void> {
  const res = await send(path, init);
  if (!res.body) throw new ApiFailure(res.status, "The answer has no body to stream.");
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      let event: string | null = null;
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) onEvent(data.join("\n"), event);
    }
  }
}

export const formatBytes = (n: number | null | undefined): string => {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
};
