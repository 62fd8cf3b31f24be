// The only bridge between the sandboxed renderer and the main process: small, typed, frozen.
import { contextBridge, ipcRenderer } from "electron";

export interface ConnectionInfo {
  url: string;
  managementKey: string;
}

const api = Object.freeze({
  /** The core's base URL and a management key minted for this session. */
  connection: (): Promise<ConnectionInfo | null> => ipcRenderer.invoke("maas:connection"),
});

export type DesktopApi = typeof api;

contextBridge.exposeInMainWorld("maasBase", api);
