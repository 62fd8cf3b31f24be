// Electron main process: hosts the headless core, shows its UI in a window, lives in the tray.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
  utilityProcess,
} from "electron";
import { type CoreOptions, createCore } from "../core/index.js";
import { CHANNELS } from "../preload/api.js";
import { DesktopSession } from "./desktopSession.js";
import { createUtilityLauncher, type EngineLauncher, engineEntry, type Fork } from "./engineLauncher.js";
import { applyAppIdentity, desktopDataDir } from "./identity.js";
import { contentSecurityPolicy, isAllowedNavigation, isExternalLink, permissionAllowed, restoreBounds } from "./security.js";
import { parseSmokeArgs, runSmokeSteps, smokeExitCode, waitUntil, writeSmokeReport } from "./smokeTest.js";
import { alertLabel, type ModelAlert, modelAlerts } from "./trayStatus.js";

const smoke = parseSmokeArgs(process.argv);
// Before anything reads `userData`: one name and one data folder for every way of starting
// the app (and the CLI). A smoke run uses a fresh folder of its own unless one is given,
// so it never touches the user's keys, models or window.
applyAppIdentity(
  app,
  smoke && !process.env.MAAS_BASE_DATA_DIR ? mkdtempSync(join(tmpdir(), "maas-base-smoke-")) : desktopDataDir(),
);

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
let window: BrowserWindow | null = null;
let tray: Tray | null = null;
let quitting = false;
let serverState: "stopped" | "starting" | "running" | "failed" = "stopped";
let alerts: ModelAlert[] = [];
let alertTimer: NodeJS.Timeout | null = null;

/** Engines run in utility processes when the engine-process entry was built (out/main/engine.js). */
function engineLauncher(): EngineLauncher | null {
  const entry = engineEntry(import.meta.dirname);
  return existsSync(entry) ? createUtilityLauncher(utilityProcess.fork as unknown as Fork, entry) : null;
}

const desktop = new DesktopSession(() => {
  // In development the window comes from Vite's dev server, another origin: let it call the API.
  const devOrigin = process.env.ELECTRON_RENDERER_URL ? new URL(process.env.ELECTRON_RENDERER_URL).origin : null;
  const launcher = engineLauncher();
  const options: Partial<CoreOptions> = {
    dataDir: app.getPath("userData"),
    webRoot: join(import.meta.dirname, "../renderer"),
    ...(smoke ? { port: 0 } : {}),
    ...(devOrigin ? { corsOrigins: [devOrigin] } : {}),
    ...(launcher ? { launcher } : {}),
  };
  return createCore(options);
});

async function startServer(): Promise<void> {
  if (desktop.running) return;
  serverState = "starting";
  refreshTray();
  try {
    await desktop.start();
    serverState = "running";
    watchModels();
  } catch (error) {
    serverState = "failed";
    const text = error instanceof Error ? error.message : String(error);
    if (smoke) throw error;
    dialog.showErrorBox("MaaS-Base could not start its server", text);
  } finally {
    refreshTray();
    void window?.loadURL(appUrl());
  }
}

async function stopServer(): Promise<void> {
  if (alertTimer) clearInterval(alertTimer);
  alertTimer = null;
  alerts = [];
  serverState = "stopped";
  await desktop.stop();
  refreshTray();
  void window?.loadURL(appUrl());
}

/** Polls the models' states for the tray: a crashed or failed engine shows there, the window stays up. */
function watchModels(): void {
  if (alertTimer) clearInterval(alertTimer);
  const poll = async () => {
    const connection = desktop.connection;
    if (!connection) return;
    try {
      const res = await fetch(`${connection.url}/api/admin/library`, {
        headers: { authorization: `Bearer ${connection.managementKey}` },
      });
      const next = res.ok ? modelAlerts(await res.json()) : [];
      if (JSON.stringify(next) !== JSON.stringify(alerts)) {
        alerts = next;
        refreshTray();
      }
    } catch {
      // the server is stopping; the next poll (or stop) settles it
    }
  };
  alertTimer = setInterval(() => void poll(), 5000);
  alertTimer.unref();
  void poll();
}

/**
 * The window shows the app from the core's own server (same origin as the API it
 * calls, so no CORS is needed); the built files when the server is stopped; Vite's
 * dev server in development.
 */
function appUrl(): string {
  if (process.env.ELECTRON_RENDERER_URL) return process.env.ELECTRON_RENDERER_URL;
  const connection = desktop.connection;
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
  const connection = desktop.connection;
  const label = {
    stopped: "Server stopped",
    starting: "Server starting…",
    running: `Serving on ${connection?.url ?? ""}`,
    failed: "Server failed to start",
  }[serverState];
  const template: MenuItemConstructorOptions[] = [
    { label, enabled: false },
    ...alerts.map((alert) => ({ label: `⚠ ${alertLabel(alert)}`, enabled: true, click: createWindow })),
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
  // The Electron e2e spec reads the tray's menu here (Tray has no getter for it).
  if (process.env.MAAS_BASE_E2E === "1") {
    (globalThis as { maasBaseTrayLabels?: string[] }).maasBaseTrayLabels = template.flatMap((i) => (i.label ? [i.label] : []));
  }
  tray.setToolTip(`MaaS-Base — ${label}${alerts.length ? ` — ${alerts.map(alertLabel).join("; ")}` : ""}`);
}

async function showAbout(): Promise<void> {
  const connection = desktop.connection;
  const engine = desktop.running?.engine;
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
  ipcMain.handle(CHANNELS.connection, () => desktop.connection);
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

/** The smoke test: the same start as a user's, checked step by step, then a report and an exit code. */
async function runSmoke(options: NonNullable<typeof smoke>): Promise<never> {
  const report = await runSmokeSteps(
    [
      {
        name: "core started",
        run: async () => {
          await startServer();
          return desktop.connection?.url;
        },
      },
      { name: "tray created", run: async () => (tray ? "tray menu set" : Promise.reject(new Error("no tray"))) },
      {
        name: "window opened",
        run: async () => {
          createWindow();
          const contents = window?.webContents;
          if (!contents) throw new Error("no window");
          if (contents.isLoading()) {
            await new Promise<void>((ok, fail) => {
              contents.once("did-finish-load", () => ok());
              contents.once("did-fail-load", (_e, code, text) => fail(new Error(`load failed: ${code} ${text}`)));
            });
          }
          return contents.getURL();
        },
      },
      {
        name: "dashboard rendered",
        run: () =>
          waitUntil("the dashboard's API address", async () => {
            const text = (await window?.webContents.executeJavaScript(
              `document.querySelector('[data-testid="base-url"]')?.textContent ?? null`,
            )) as string | null;
            return text?.includes("/v1") ? text : null;
          }),
      },
      {
        name: "health",
        run: async () => {
          const res = await fetch(`${desktop.connection?.url}/health`);
          const body = (await res.json()) as { status?: string };
          if (!res.ok || body.status !== "ok") throw new Error(`/health answered ${res.status} ${JSON.stringify(body)}`);
          return JSON.stringify(body);
        },
      },
      {
        name: "session credential",
        run: async () => {
          const connection = desktop.connection;
          const res = await fetch(`${connection?.url}/api/admin/keys`, {
            headers: { authorization: `Bearer ${connection?.managementKey}` },
          });
          const body = (await res.json()) as { data?: unknown[] };
          if (!res.ok) throw new Error(`the window's credential got ${res.status}`);
          if ((body.data ?? []).length !== 0) throw new Error("the session credential is listed as a key");
          return "in memory, not listed";
        },
      },
    ],
    {
      timeoutMs: options.timeoutMs,
      versions: {
        app: app.getVersion(),
        electron: process.versions.electron,
        node: process.versions.node,
        chrome: process.versions.chrome,
      },
    },
  );
  process.stdout.write(`${writeSmokeReport(options.reportPath, report)}\n`);
  quitting = true;
  await stopServer().catch(() => {});
  app.exit(smokeExitCode(report));
  return new Promise<never>(() => {});
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
    if (smoke) await runSmoke(smoke);
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
    if (!desktop.running) return;
    // Revoke the window's credential, unload models (their engine processes end) and
    // close the database before the process ends.
    event.preventDefault();
    void stopServer().finally(() => app.exit(0));
  });
}
