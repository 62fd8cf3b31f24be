import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createCore } from "../src-main/core/index.js";
import type { SettingsView } from "../src-main/core/settings.js";

const BIN = join(import.meta.dirname, "..", "bin", "maas-base.mjs");
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "maas-settings-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
const silent = pino({ level: "silent" });

/** Saves settings the way the app does (the store in the data folder's database). */
async function save(dataDir: string, values: Record<string, unknown>) {
  const core = createCore({ dataDir, logger: silent });
  core.settings.update(values);
  await core.stop();
}

describe("saved settings in createCore (both shells start the core this way)", () => {
  it("applies saved settings, lets launch options win, and records where each value came from", async () => {
    const dataDir = tempDir();
    await save(dataDir, { port: 9999, maxLoadedModels: 2, modelTtlMinutes: 3, corsOrigins: ["https://a.example"] });
    const core = createCore({ dataDir, port: 0, logger: silent });
    try {
      expect(core.options.port).toBe(0);
      expect(core.options.maxLoadedModels).toBe(2);
      expect(core.options.modelTtlMinutes).toBe(3);
      expect(core.options.corsOrigins).toEqual(["https://a.example"]);
      expect(core.options.parallel).toBe(4);
      expect(core.options.modelsDir).toBe(join(dataDir, "models"));
      expect(core.options.settingSources).toMatchObject({
        port: "launch",
        maxLoadedModels: "saved",
        corsOrigins: "saved",
        parallel: "default",
        threads: "default",
      });
      expect(core.options.threads).toBeUndefined();
    } finally {
      await core.stop();
    }
  });

  it("rejects values outside a setting's schema when saving, and ignores a corrupt saved value at start", async () => {
    const dataDir = tempDir();
    const core = createCore({ dataDir, logger: silent });
    try {
      expect(() => core.settings.update({ port: 70000 })).toThrow(/port/);
      expect(() => core.settings.update({ gpu: false } as never)).toThrow(/not a saved setting/);
      core.db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES ('maxLoadedModels', '\"lots\"')").run();
      core.db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES ('threads', 'not json')").run();
      expect(core.settings.get()).toEqual({});
    } finally {
      await core.stop();
    }
    const again = createCore({ dataDir, logger: silent });
    expect(again.options.maxLoadedModels).toBe(4);
    await again.stop();
  });
});

describe("serve and the admin settings API", () => {
  it("saved settings apply under serve, flags win, and the API says which came from flags", async () => {
    const dataDir = tempDir();
    await save(dataDir, { maxLoadedModels: 3, port: 1, threads: 2 });
    const key = JSON.parse(
      execFileSync(
        process.execPath,
        [BIN, "keys", "create", "--name", "t", "--scope", "management", "--json", "--data-dir", dataDir],
        {
          encoding: "utf8",
        },
      ),
    ).key as string;
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--port", "0", "--data-dir", dataDir, "--threads", "1", "--cpu", "--log-level", "warn"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += String(d);
    });
    child.stderr.on("data", (d) => {
      out += String(d);
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 100_000);
        child.stdout.on("data", () => {
          const match = /listening on (http:\/\/\S+)/.exec(out);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
      const view = (await (await fetch(`${url}/api/admin/settings`, { headers })).json()) as SettingsView;
      expect(view.saved).toEqual({ maxLoadedModels: 3, port: 1, threads: 2 });
      expect(view.running).toMatchObject({ maxLoadedModels: 3, threads: 1, gpu: false, logLevel: "warn", parallel: 4 });
      expect(view.running.port).not.toBe(1);
      expect(view.fromFlags.sort()).toEqual(["gpu", "logLevel", "port", "threads"]);
      expect(view.sources).toMatchObject({ maxLoadedModels: "saved", port: "launch", parallel: "default" });
      expect(view.settings.port).toMatchObject({ default: 8421, saved: true, flag: "--port" });
      expect(view.settings.gpu).toMatchObject({ saved: false, flag: "--cpu" });

      const put = await fetch(`${url}/api/admin/settings`, {
        method: "PUT",
        headers,
        body: JSON.stringify({ maxLoadedModels: null, modelTtlMinutes: 0 }),
      });
      expect(put.status).toBe(200);
      const after = (await put.json()) as SettingsView & { restartRequired: boolean };
      expect(after.saved).toEqual({ port: 1, threads: 2, modelTtlMinutes: 0 });
      expect(after.restartRequired).toBe(true);

      for (const bad of [{ gpu: false }, { port: "eighty" }, { threads: 0 }, { nonsense: 1 }]) {
        const res = await fetch(`${url}/api/admin/settings`, { method: "PUT", headers, body: JSON.stringify(bad) });
        expect(res.status, JSON.stringify(bad)).toBe(400);
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }, 150_000);
});
