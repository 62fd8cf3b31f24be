// The only bridge between the sandboxed renderer and the main process: small, typed, frozen.
import { contextBridge, ipcRenderer } from "electron";
import { createDesktopApi } from "./api.js";

contextBridge.exposeInMainWorld(
  "maasBase",
  createDesktopApi((channel, ...args) => ipcRenderer.invoke(channel, ...args)),
);
