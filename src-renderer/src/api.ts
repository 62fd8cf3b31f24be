/** How the app reaches the core: same origin on the web, the URL the preload gives inside Electron. */

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

const KEY_STORAGE = "maas-base.key";

let base = "";
let key: string | null = null;

export const desktop = (): DesktopApi | undefined => window.maasBase;

export function serverUrl(): string {
  return base || window.location.origin;
}

export function signOut(): void {
  key = null;
  sessionStorage.removeItem(KEY_STORAGE);
}

/**
 * Finds credentials: the desktop preload's session key, a one-time sign-in code in
 * the URL (`#signin=…`, printed by `maas-base serve`), or a key kept for this browser session.
 */
export async function connect(): Promise<boolean> {
  const bridge = desktop();
  if (bridge) {
    const info = await bridge.connection();
    if (info) {
      base = info.url;
      key = info.managementKey;
      return true;
    }
  }
  const code = /signin=([\w-]+)/.exec(window.location.hash)?.[1];
  if (code) {
    history.replaceState(null, "", window.location.pathname);
    const res = await fetch("/api/auth/exchange", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code }),
    });
    if (res.ok) {
      setSessionKey(((await res.json()) as { key: string }).key);
      return true;
    }
  }
  const kept = sessionStorage.getItem(KEY_STORAGE);
  if (kept) {
    key = kept;
    return true;
  }
  return false;
}

export function setSessionKey(value: string): void {
  key = value;
  sessionStorage.setItem(KEY_STORAGE, value);
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type CallInit = RequestInit & { json?: unknown };

/** A request to the core with the session's key; a failed one throws with the server's message. */
async function send(path: string, init: CallInit = {}): Promise<Response> {
  const { json, ...rest } = init;
  const res = await fetch(`${base}${path}`, {
    ...rest,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(json !== undefined ? { "content-type": "application/json" } : {}),
      ...(rest.headers as Record<string, string>),
    },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  if (!res.ok) {
    let message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } | string };
      message = typeof body.error === "string" ? body.error : (body.error?.message ?? message);
    } catch {
      // not JSON
    }
    throw new ApiFailure(res.status, message);
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
