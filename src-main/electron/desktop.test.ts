import { describe, expect, it, vi } from "vitest";
import { CHANNELS, createDesktopApi } from "../preload/api.js";
import { contentSecurityPolicy, isAllowedNavigation, isExternalLink, permissionAllowed, restoreBounds } from "./security.js";

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
