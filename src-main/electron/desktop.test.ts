import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { defaultDataDir } from "../core/config.js";
import { CHANNELS, createDesktopApi } from "../preload/api.js";
import { applyAppIdentity, desktopDataDir } from "./identity.js";
import { contentSecurityPolicy, isAllowedNavigation, isExternalLink, permissionAllowed, restoreBounds } from "./security.js";
import { parseSmokeArgs, runSmokeSteps, smokeExitCode, waitUntil, writeSmokeReport } from "./smokeTest.js";
import { alertLabel, modelAlerts } from "./trayStatus.js";

describe("preload API", () => {
  it("exposes exactly five frozen functions, each on its own channel", async () => {
    const invoke = vi.fn(async () => null);
    const api = createDesktopApi(invoke);
    expect(Object.keys(api).sort()).toEqual(["appVersion", "connection", "openExternal", "pickModelFile", "revealPath"]);
    expect(Object.isFrozen(api)).toBe(true);
    expect(() => {
      (api as Record<string, unknown>).evil = () => {};
    }).toThrow();
    await api.connection();
    await api.openExternal("https://example.com");
    await api.revealPath("/tmp/x.gguf");
    expect(invoke.mock.calls).toEqual([
      [CHANNELS.connection],
      [CHANNELS.openExternal, "https://example.com"],
      [CHANNELS.revealPath, "/tmp/x.gguf"],
    ]);
    // Nothing from Node or Electron leaks through: no ipcRenderer, no require, no process.
    expect(JSON.stringify(Object.values(api).map((f) => typeof f))).toBe(JSON.stringify(Array(5).fill("function")));
  });
});

describe("window security", () => {
  it("allows navigation only within the app", () => {
    const file = "file:///opt/MaaS-Base/resources/app.asar/out/renderer/index.html";
    expect(isAllowedNavigation(`${file}#/models`, file)).toBe(true);
    expect(isAllowedNavigation("file:///etc/passwd", file)).toBe(false);
    expect(isAllowedNavigation("https://evil.example/", file)).toBe(false);
    expect(isAllowedNavigation("http://localhost:5173/#/keys", "http://localhost:5173/")).toBe(true);
    expect(isAllowedNavigation("http://localhost:5174/", "http://localhost:5173/")).toBe(false);
    expect(isAllowedNavigation("not a url", file)).toBe(false);
  });

  it("opens only http(s) links externally", () => {
    expect(isExternalLink("https://huggingface.co/x")).toBe(true);
    expect(isExternalLink("http://127.0.0.1:8421/")).toBe(true);
    for (const bad of ["file:///etc/passwd", "javascript:alert(1)", "smb://host/share", "https://user:pw@host/", "nope"]) {
      expect(isExternalLink(bad)).toBe(false);
    }
  });

  it("denies every permission and sends a strict CSP", () => {
    for (const p of ["media", "geolocation", "notifications", "clipboard-read", "openExternal"])
      expect(permissionAllowed(p)).toBe(false);
    const csp = contentSecurityPolicy("http://127.0.0.1:8421");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain("unsafe-eval");
  });

  it("restores window bounds only when they are sane and on a display", () => {
    const displays = [{ x: 0, y: 0, width: 1920, height: 1080 }];
    expect(restoreBounds({ x: 100, y: 80, width: 1200, height: 800 }, displays)).toEqual({
      x: 100,
      y: 80,
      width: 1200,
      height: 800,
      maximized: false,
    });
    expect(restoreBounds({ x: 5000, y: 80, width: 1200, height: 800 }, displays)).toEqual({
      width: 1200,
      height: 800,
      maximized: false,
    });
    expect(restoreBounds({ width: 10, height: 10 }, displays)).toEqual({ width: 1280, height: 820 });
    expect(restoreBounds("garbage", displays)).toEqual({ width: 1280, height: 820 });
  });
});

describe("one data folder for every shell", () => {
  const cases: Array<{ platform: NodeJS.Platform; env: NodeJS.ProcessEnv; home: string; expected: string }> = [
    { platform: "linux", env: {}, home: "/home/ada", expected: "/home/ada/.config/MaaS-Base" },
    { platform: "linux", env: { XDG_CONFIG_HOME: "/xdg" }, home: "/home/ada", expected: "/xdg/MaaS-Base" },
    { platform: "darwin", env: {}, home: "/Users/ada", expected: "/Users/ada/Library/Application Support/MaaS-Base" },
    {
      platform: "win32",
      env: { APPDATA: "C:\\Users\\ada\\AppData\\Roaming" },
      home: "C:\\Users\\ada",
      expected: "C:\\Users\\ada\\AppData\\Roaming\\MaaS-Base",
    },
    { platform: "win32", env: {}, home: "C:\\Users\\ada", expected: "C:\\Users\\ada\\AppData\\Roaming\\MaaS-Base" },
    { platform: "linux", env: { MAAS_BASE_DATA_DIR: "/srv/maas" }, home: "/home/ada", expected: "/srv/maas" },
  ];

  it("the CLI, createCore and the desktop app (npm start, npm run dev, packaged) compute the same folder", () => {
    for (const { platform, env, home, expected } of cases) {
      // `serve --data-dir` default and createCore's default:
      expect(defaultDataDir(env, platform, home), `${platform} ${JSON.stringify(env)}`).toBe(expected);
      // Electron's userData, which main.ts sets before anything reads it (all three desktop launches run main.ts):
      expect(desktopDataDir(env, platform, home)).toBe(expected);
    }
  });

  it("names the app MaaS-Base and pins userData to that folder, in that order", () => {
    const calls: string[] = [];
    const dir = applyAppIdentity(
      { setName: (n) => calls.push(`name:${n}`), setPath: (k, p) => calls.push(`${k}:${p}`) },
      "/home/ada/.config/MaaS-Base",
    );
    expect(dir).toBe("/home/ada/.config/MaaS-Base");
    expect(calls).toEqual(["name:MaaS-Base", "userData:/home/ada/.config/MaaS-Base"]);
  });

  it("main.ts pins the folder before any code reads it", () => {
    const main = readFileSync(join(import.meta.dirname, "main.ts"), "utf8");
    const pinned = main.indexOf("applyAppIdentity(\n");
    expect(pinned).toBeGreaterThan(0);
    for (const read of ["getPath(", "loadPrefs()", "createCore(", "requestSingleInstanceLock("]) {
      expect(main.indexOf(read), read).toBeGreaterThan(pinned);
    }
  });

  it("serve --help shows that folder as the --data-dir default", async () => {
    const home = mkdtempSync(join(tmpdir(), "maas-home-"));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
      delete env.XDG_CONFIG_HOME;
      delete env.MAAS_BASE_DATA_DIR;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(import.meta.dirname, "..", "..", "bin", "maas-base.mjs"), "serve", "--help"],
        { env },
      );
      expect(stdout.replace(/\s+/g, " ")).toContain(`(default: "${join(home, ".config", "MaaS-Base")}")`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("the tray's model alerts", () => {
  it("lists crashed and failed models with the first line of their reason", () => {
    const library = {
      data: [
        { id: "tiny-chat", state: "ready" },
        { id: "bad", state: "crashed", reason: "GGML_ASSERT(id_to_token.size() == token_to_id.size())\nmore" },
        { id: "worse", state: "failed", load: { error: "3 crashes in 10 minutes" } },
        { id: "quiet", load: { state: "crashed" } },
      ],
    };
    expect(modelAlerts(library).map(alertLabel)).toEqual([
      "bad crashed: GGML_ASSERT(id_to_token.size() == token_to_id.size())",
      "worse failed: 3 crashes in 10 minutes",
      "quiet crashed",
    ]);
    expect(modelAlerts(null)).toEqual([]);
    expect(modelAlerts({ error: { message: "no" } })).toEqual([]);
  });
});

describe("the smoke test's report", () => {
  it("reads its flags", () => {
    expect(parseSmokeArgs(["/x/electron", "."])).toBeNull();
    expect(parseSmokeArgs(["MaaS-Base", "--smoke-test", "--smoke-report=out/r.json", "--smoke-timeout=5000"], "/w")).toEqual({
      reportPath: join("/w", "out", "r.json"),
      timeoutMs: 5000,
    });
    expect(parseSmokeArgs(["MaaS-Base", "--smoke-test", "--smoke-timeout=soon"])?.timeoutMs).toBe(120_000);
  });

  it("passes when every step passes, and writes the report with exit code 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "maas-smoke-"));
    try {
      const report = await runSmokeSteps(
        [
          { name: "core started", run: async () => "http://127.0.0.1:1234" },
          { name: "health", run: async () => undefined },
        ],
        { timeoutMs: 1000, versions: { electron: "41.7.1" } },
      );
      expect(report).toMatchObject({ ok: true, reason: null, versions: { electron: "41.7.1" } });
      expect(report.steps.map((s) => [s.name, s.ok, s.detail])).toEqual([
        ["core started", true, "http://127.0.0.1:1234"],
        ["health", true, null],
      ]);
      expect(smokeExitCode(report)).toBe(0);
      const file = join(dir, "nested", "report.json");
      expect(writeSmokeReport(file, report)).toMatch(/^smoke test passed in \d+ ms \(2 steps\); report: /);
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(report);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops at the first failure and names it; exit code 1", async () => {
    let ranAfter = false;
    const report = await runSmokeSteps(
      [
        { name: "core started", run: async () => "ok" },
        {
          name: "dashboard rendered",
          run: async () => {
            throw new Error("the dashboard's API address not seen within 60000 ms (last: nothing yet)\nstack…");
          },
        },
        {
          name: "health",
          run: async () => {
            ranAfter = true;
            return "";
          },
        },
      ],
      { timeoutMs: 1000 },
    );
    expect(report.ok).toBe(false);
    expect(report.reason).toBe("dashboard rendered: the dashboard's API address not seen within 60000 ms (last: nothing yet)");
    expect(report.steps).toHaveLength(2);
    expect(ranAfter).toBe(false);
    expect(smokeExitCode(report)).toBe(1);
    expect(writeSmokeReport(join(tmpdir(), `maas-smoke-${process.pid}.json`), report)).toMatch(
      /^smoke test FAILED \(dashboard rendered: /,
    );
    rmSync(join(tmpdir(), `maas-smoke-${process.pid}.json`), { force: true });
  });

  it("fails a step that outlives the whole run's time limit", async () => {
    const report = await runSmokeSteps([{ name: "window opened", run: () => new Promise(() => {}) }], { timeoutMs: 50 });
    expect(report.reason).toBe("window opened: timed out after 50 ms");
  });

  it("waitUntil returns what it saw, or says what it last saw", async () => {
    let n = 0;
    expect(await waitUntil("three", async () => (++n >= 3 ? `n=${n}` : null), { intervalMs: 1 })).toBe("n=3");
    await expect(
      waitUntil(
        "never",
        async () => {
          throw new Error("connection refused");
        },
        { intervalMs: 1, timeoutMs: 20 },
      ),
    ).rejects.toThrow("never not seen within 20 ms (last: connection refused)");
  });
});
