// Electron main process: hosts the headless core, shows its UI in a window, lives in the tray.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  app,
  BrowserWindow,
  clipboard,
  dialog,
  ipcMain,
  Menu,
  type MenuItemConstructorOptions,
  nativeImage,
  screen,
  session,
  shell,
  Tray,
} from "electron";
import { type Core, createCore } from "../core/index.js";
import { CHANNELS, type ConnectionInfo } from "../preload/api.js";
import { contentSecurityPolicy, isAllowedNavigation, isExternalLink, permissionAllowed, restoreBounds } from "./security.js";

/** Desktop preferences, kept beside the database in the app-data folder. */
interface DesktopPrefs {
  closeToTray: boolean;
  startAtLogin: boolean;
  /** Do not start the server at launch (start it from the tray). */
  deferServerStart: boolean;
  window?: unknown;
}

const prefsFile = () => join(app.getPath("userData"), "desktop.json");
function loadPrefs(): DesktopPrefs {
  const defaults: DesktopPrefs = { closeToTray: true, startAtLogin: false, deferServerStart: false };
  try {
    return { ...defaults, ...(JSON.parse(readFileSync(prefsFile(), "utf8")) as Partial<DesktopPrefs>) };
  } catch {
    return defaults;
  }
}
function savePrefs(): void {
  writeFileSync(prefsFile(), JSON.stringify(prefs, null, 2));
}

const resources = app.isPackaged ? process.resourcesPath : join(import.meta.dirname, "../../resources");
let prefs: DesktopPrefs;
let core: Core | null = null;
let connection: ConnectionInfo | null = null;
let window: BrowserWindow | null = null;
let tray: Tray | null = null;
let quitting = false;
let serverState: "stopped" | "starting" | "running" | "failed" = "stopped";

async function startServer(): Promise<void> {
  if (core) return;
  serverState = "starting";
  refreshTray();
  // In development the window comes from Vite's dev server, another origin: let it call the API.
  const devOrigin = process.env.ELECTRON_RENDERER_URL ? new URL(process.env.ELECTRON_RENDERER_URL).origin : null;
  const started = createCore({
    dataDir: app.getPath("userData"),
    webRoot: join(import.meta.dirname, "../renderer"),
    ...(devOrigin ? { corsOrigins: [devOrigin] } : {}),
  });
  try {
    const url = await started.start();
    core = started;
    // A management key minted for this session, handed to the renderer through the preload.
    const { key } = started.keys.create({
      name: `desktop session ${new Date().toISOString().slice(0, 16)}`,
      scopes: ["inference", "management"],
      expiresAt: Date.now() + 7 * 86_400_000,
    });
    connection = { url, managementKey: key };
    serverState = "running";
  } catch (error) {
    serverState = "failed";
    await started.stop().catch(() => {});
    dialog.showErrorBox("MaaS-Base could not start its server", error instanceof Error ? error.message : String(error));
  }
  refreshTray();
  void window?.loadURL(appUrl());
}

async function stopServer(): Promise<void> {
  const running = core;
  core = null;
  connection = null;
  serverState = "stopped";
  refreshTray();
  await running?.stop();
  void window?.loadURL(appUrl());
}

/**
 * The window shows the app from the core's own server (same origin as the API it
 * calls, so no CORS is needed); the built files when the server is stopped; Vite's
 * dev server in development.
 */
function appUrl(): string {
  if (process.env.ELECTRON_RENDERER_URL) return process.env.ELECTRON_RENDERER_URL;
  if (connection) return `${connection.url}/`;
  return `file://${join(import.meta.dirname, "../renderer/index.html")}`;
}

function createWindow(): void {
  if (window) {
    window.show();
    window.focus();
    return;
  }
  const bounds = restoreBounds(
    prefs.window,
    screen.getAllDisplays().map((d) => d.workArea),
  );
  window = new BrowserWindow({
    ...bounds,
    minWidth: 960,
    minHeight: 640,
    show: false,
    title: "MaaS-Base",
    icon: join(resources, "icon.png"),
    webPreferences: {
      preload: join(import.meta.dirname, "../preload/index.mjs"),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  if (bounds.maximized) window.maximize();
  window.once("ready-to-show", () => window?.show());
  window.webContents.setWindowOpenHandler(({ url }) => {
    if (isExternalLink(url)) void shell.openExternal(url);
    return { action: "deny" };
  });
  window.webContents.on("will-navigate", (event, url) => {
    if (!isAllowedNavigation(url, appUrl())) event.preventDefault();
  });
  window.webContents.on("will-attach-webview", (event) => event.preventDefault());
  window.on("close", (event) => {
    if (window) prefs.window = { ...window.getNormalBounds(), maximized: window.isMaximized() };
    savePrefs();
    if (!quitting && prefs.closeToTray && tray) {
      event.preventDefault();
      window?.hide();
    }
  });
  window.on("closed", () => {
    window = null;
  });
  void window.loadURL(appUrl());
}

function refreshTray(): void {
  if (!tray) return;
  const label = {
    stopped: "Server stopped",
    starting: "Server starting…",
    running: `Serving on ${connection?.url ?? ""}`,
    failed: "Server failed to start",
  }[serverState];
  const template: MenuItemConstructorOptions[] = [
    { label, enabled: false },
    {
      label: "Copy API URL",
      enabled: Boolean(connection),
      click: () => connection && clipboard.writeText(`${connection.url}/v1`),
    },
    { type: "separator" },
    { label: "Open MaaS-Base", click: createWindow },
    serverState === "running"
      ? { label: "Stop server", click: () => void stopServer() }
      : { label: "Start server", enabled: serverState !== "starting", click: () => void startServer() },
    { type: "separator" },
    {
      label: "Start at login",
      type: "checkbox",
      checked: prefs.startAtLogin,
      click: (item) => {
        prefs.startAtLogin = item.checked;
        app.setLoginItemSettings({ openAtLogin: item.checked });
        savePrefs();
      },
    },
    {
      label: "Keep running when the window closes",
      type: "checkbox",
      checked: prefs.closeToTray,
      click: (item) => {
        prefs.closeToTray = item.checked;
        savePrefs();
      },
    },
    { type: "separator" },
    { label: "Quit", click: () => app.quit() },
  ];
  tray.setContextMenu(Menu.buildFromTemplate(template));
  tray.setToolTip(`MaaS-Base — ${label}`);
}

async function showAbout(): Promise<void> {
  const engine = core?.engine;
  const nodeLlamaCpp = (() => {
    try {
      return JSON.parse(readFileSync(join(import.meta.dirname, "../../node_modules/node-llama-cpp/package.json"), "utf8"))
        .version;
    } catch {
      return "?";
    }
  })();
  const description = engine ? await engine.describe().catch(() => null) : null;
  const backend = description
    ? `${description.backend === "cpu" ? "CPU" : description.backend} (${description.build}, llama.cpp ${description.source})`
    : "not running";
  const gpus = description?.devices.length ? description.devices.map((d) => d.name).join(", ") : "none";
  await dialog.showMessageBox({
    type: "info",
    title: "About MaaS-Base",
    message: `MaaS-Base ${app.getVersion()}`,
    detail: [
      `Electron ${process.versions.electron}, Node ${process.versions.node}, Chromium ${process.versions.chrome}`,
      `node-llama-cpp ${nodeLlamaCpp}`,
      `Backend: ${backend}`,
      `GPU: ${gpus}`,
      connection ? `Server: ${connection.url}` : "Server: stopped",
    ].join("\n"),
  });
}

function buildMenu(): void {
  const template: MenuItemConstructorOptions[] = [
    ...(process.platform === "darwin" ? [{ role: "appMenu" as const }] : []),
    { role: "fileMenu" },
    { role: "editMenu" },
    { role: "viewMenu" },
    { role: "windowMenu" },
    {
      role: "help",
      submenu: [
        { label: "About MaaS-Base", click: () => void showAbout() },
        { label: "Open the data folder", click: () => void shell.openPath(app.getPath("userData")) },
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function registerIpc(): void {
  ipcMain.handle(CHANNELS.connection, () => connection);
  ipcMain.handle(CHANNELS.appVersion, () => app.getVersion());
  ipcMain.handle(CHANNELS.pickModelFile, async () => {
    const options = { properties: ["openFile" as const], filters: [{ name: "GGUF models", extensions: ["gguf"] }] };
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
  ipcMain.handle(CHANNELS.revealPath, (_event, path: unknown) => {
    if (typeof path === "string" && existsSync(path)) shell.showItemInFolder(path);
  });
  ipcMain.handle(CHANNELS.openExternal, async (_event, url: unknown) => {
    if (typeof url === "string" && isExternalLink(url)) await shell.openExternal(url);
  });
}

if (!app.requestSingleInstanceLock()) app.quit();
else {
  app.on("second-instance", createWindow);
  app.whenReady().then(async () => {
    prefs = loadPrefs();
    const origin = "http://127.0.0.1:*";
    session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) =>
      callback(permissionAllowed(permission)),
    );
    session.defaultSession.setPermissionCheckHandler((_contents, permission) => permissionAllowed(permission));
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      callback({ responseHeaders: { ...details.responseHeaders, "Content-Security-Policy": [contentSecurityPolicy(origin)] } });
    });
    registerIpc();
    buildMenu();
    tray = new Tray(nativeImage.createFromPath(join(resources, "tray.png")));
    tray.on("click", createWindow);
    refreshTray();
    if (!prefs.deferServerStart) await startServer();
    createWindow();
  });
  app.on("activate", createWindow);
  app.on("window-all-closed", () => {
    if (!tray || !prefs.closeToTray) app.quit();
  });
  app.on("before-quit", () => {
    quitting = true;
  });
  app.on("will-quit", (event) => {
    if (!core) return;
    // Unload models and close the database before the process ends.
    event.preventDefault();
    const stopping = core;
    core = null;
    void stopping.stop().finally(() => app.exit(0));
  });
}
