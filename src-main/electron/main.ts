// Electron main process: hosts the headless core and shows its UI in a window.
// The window, tray and packaging are completed by the desktop-shell issue.
import { join } from "node:path";
import { app, BrowserWindow, ipcMain, shell } from "electron";
import { type Core, createCore } from "../core/index.js";

let core: Core | null = null;
let session: { url: string; managementKey: string } | null = null;

async function startCore(): Promise<void> {
  core = createCore({ dataDir: app.getPath("userData"), port: 8421 });
  const url = await core.start();
  // A management key minted for this session, handed to the renderer through the preload.
  const { key } = core.keys.create({ name: `desktop session ${new Date().toISOString()}`, scopes: ["inference", "management"] });
  session = { url, managementKey: key };
}

function createWindow(): void {
  const window = new BrowserWindow({
    width: 1200,
    height: 800,
    show: false,
    webPreferences: {
      preload: join(import.meta.dirname, "../preload/index.mjs"),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webviewTag: false,
    },
  });
  window.once("ready-to-show", () => window.show());
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith("https://")) void shell.openExternal(url);
    return { action: "deny" };
  });
  window.webContents.on("will-navigate", (event) => event.preventDefault());
  if (process.env.ELECTRON_RENDERER_URL) void window.loadURL(process.env.ELECTRON_RENDERER_URL);
  else void window.loadFile(join(import.meta.dirname, "../renderer/index.html"));
}

if (!app.requestSingleInstanceLock()) app.quit();
else {
  app.on("second-instance", () => BrowserWindow.getAllWindows()[0]?.focus());
  ipcMain.handle("maas:connection", () => session);
  app.whenReady().then(async () => {
    await startCore();
    createWindow();
  });
  app.on("window-all-closed", () => {
    if (process.platform !== "darwin") app.quit();
  });
  app.on("will-quit", (event) => {
    if (!core) return;
    event.preventDefault();
    const stopping = core;
    core = null;
    void stopping.stop().finally(() => app.exit(0));
  });
}
