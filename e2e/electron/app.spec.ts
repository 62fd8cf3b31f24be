import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ElectronApplication, _electron as electron, expect, test } from "@playwright/test";

// The desktop app as a user starts it (`electron .` on the built app), on a fresh data
// folder with the tiny fixture models. CI runs this on Linux (xvfb), macOS and Windows
// (.github/workflows/desktop.yml); machines without the Electron binary skip it.

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "maas-base.mjs");

/** The Electron binary, or why there is none (these build machines install without it). */
function electronBinary(): { path: string } | { reason: string } {
  try {
    const path = createRequire(import.meta.url)("electron") as unknown as string;
    if (typeof path === "string" && existsSync(path)) {
      if (process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { reason: "no display" };
      return { path };
    }
  } catch {
    // the electron package throws when its binary was not downloaded
  }
  return { reason: "no Electron binary, installed with ELECTRON_SKIP_BINARY_DOWNLOAD" };
}

const binary = electronBinary();
test.describe.configure({ mode: "serial" });
test.skip("reason" in binary, "reason" in binary ? `Electron cannot run here: ${binary.reason}` : "");

let dataDir = "";
let app: ElectronApplication | null = null;

test.beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "maas-electron-e2e-"));
  execFileSync(process.execPath, [bin, "fixtures", "--out", join(dataDir, "models")]);
});
test.afterAll(async () => {
  await app?.close().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("the window opens on the dashboard, a chat streams, the tray has its menu, and quit leaves nothing behind", async () => {
  if (!("path" in binary)) return;
  app = await electron.launch({
    executablePath: binary.path,
    args: [root],
    env: { ...process.env, MAAS_BASE_DATA_DIR: dataDir, MAAS_BASE_E2E: "1" } as Record<string, string>,
  });
  const mainPid = app.process().pid as number;
  const page = await app.firstWindow();

  // The data folder is the one every shell uses, here pinned by MAAS_BASE_DATA_DIR.
  expect(await app.evaluate(({ app: electronApp }) => [electronApp.getName(), electronApp.getPath("userData")])).toEqual([
    "MaaS-Base",
    dataDir,
  ]);

  // The dashboard renders, with the API address.
  await expect(page.getByTestId("base-url")).toContainText("/v1", { timeout: 90_000 });

  // The renderer is sandboxed: no Node, only the frozen bridge.
  expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe("undefined");

  // A chat with a fixture model streams several chunks, through the window's own credential.
  const stream = await page.evaluate(async () => {
    const bridge = (window as unknown as { maasBase: { connection(): Promise<{ url: string; managementKey: string } | null> } })
      .maasBase;
    const info = await bridge.connection();
    if (!info) return { error: "no connection" };
    const res = await fetch(`${info.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${info.managementKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-chat", stream: true, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    const reader = res.body?.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let reads = 0;
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      reads++;
      text += decoder.decode(chunk.value, { stream: true });
    }
    const keys = await (
      await fetch(`${info.url}/api/admin/keys`, { headers: { authorization: `Bearer ${info.managementKey}` } })
    ).json();
    return { status: res.status, reads, events: text.split("\n").filter((l) => l.startsWith("data: ")), keys: keys.data };
  });
  expect(stream).toMatchObject({ status: 200 });
  const events = (stream as { events: string[] }).events;
  expect(events.at(-1)).toBe("data: [DONE]");
  expect(events.length).toBeGreaterThan(3);
  // The window's credential is not a key the user sees.
  expect((stream as { keys: unknown[] }).keys).toEqual([]);

  // The tray exists, with its menu.
  const trayLabels = await app.evaluate(() => (globalThis as { maasBaseTrayLabels?: string[] }).maasBaseTrayLabels ?? null);
  expect(trayLabels).toEqual(expect.arrayContaining(["Copy API URL", "Open MaaS-Base", "Stop server", "Quit"]));
  expect(trayLabels?.[0]).toMatch(/^Serving on http:\/\/127\.0\.0\.1:\d+$/);

  // Every process of the app (GPU, renderer, utility/engine processes) ends with it.
  const pids = await app.evaluate(({ app: electronApp }) => electronApp.getAppMetrics().map((m) => m.pid));
  expect(pids).toContain(mainPid);
  await app.close();
  app = null;
  await expect.poll(() => pids.filter(alive), { timeout: 20_000 }).toEqual([]);

  // And no key was left in the data folder.
  const left = JSON.parse(execFileSync(process.execPath, [bin, "keys", "list", "--json", "--data-dir", dataDir]).toString());
  expect(left).toEqual([]);
});

test("--smoke-test starts, checks and exits 0 with a report", async () => {
  if (!("path" in binary)) return;
  const report = join(dataDir, "smoke.json");
  const out = execFileSync(binary.path, [root, "--smoke-test", `--smoke-report=${report}`], {
    env: { ...process.env, MAAS_BASE_DATA_DIR: join(dataDir, "smoke") },
    timeout: 180_000,
  }).toString();
  expect(out).toMatch(/smoke test passed/);
  const body = JSON.parse(readFileSync(report, "utf8"));
  expect(body.ok).toBe(true);
  expect(body.steps.map((s: { name: string }) => s.name)).toEqual([
    "core started",
    "tray created",
    "window opened",
    "dashboard rendered",
    "health",
    "session credential",
  ]);
});
