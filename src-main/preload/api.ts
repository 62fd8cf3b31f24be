/** The desktop API the preload exposes to the renderer: small, typed, frozen. No Electron import here. */

export interface ConnectionInfo {
  url: string;
  managementKey: string;
}

/** The IPC channels the preload may use; the main process handles exactly these. */
export const CHANNELS = {
  connection: "maas:connection",
  pickModelFile: "maas:pick-model-file",
  revealPath: "maas:reveal-path",
  openExternal: "maas:open-external",
  appVersion: "maas:app-version",
} as const;

export type Invoke = (channel: string, ...args: unknown[]) => Promise<unknown>;

export function createDesktopApi(invoke: Invoke) {
  return Object.freeze({
    /** The core's base URL and a management key minted for this session. */
    connection: () => invoke(CHANNELS.connection) as Promise<ConnectionInfo | null>,
    /** A native file dialog for a `.gguf` file; the chosen path or null. */
    pickModelFile: () => invoke(CHANNELS.pickModelFile) as Promise<string | null>,
    /** Shows a file in the system's file manager. */
    revealPath: (path: string) => invoke(CHANNELS.revealPath, String(path)) as Promise<void>,
    /** Opens an http(s) link in the default browser. */
    openExternal: (url: string) => invoke(CHANNELS.openExternal, String(url)) as Promise<void>,
    appVersion: () => invoke(CHANNELS.appVersion) as Promise<string>,
  });
}

export type DesktopApi = ReturnType<typeof createDesktopApi>;
