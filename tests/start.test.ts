import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "maas-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm start", () => {
  it("says why Electron cannot start, then serves the web UI headless", async () => {
    const env = { ...process.env };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, "..", "scripts", "start.mjs"), "--port", "0", "--data-dir", dir, "--cpu", "--log-level", "warn"],
      { env, stdio: ["ignore", "pipe", "pipe"] },
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
        const timer = setTimeout(() => reject(new Error(`no server: ${out}`)), 90_000);
        const check = setInterval(() => {
          // The URL goes to stdout and the sign-in link to stderr just after: wait for both.
          const match = /listening on (http:\/\/\S+)/.exec(out);
          if (match?.[1] && /#signin=/.test(out)) {
            clearTimeout(timer);
            clearInterval(check);
            resolve(match[1]);
          }
        }, 100);
      });
      expect(out).toMatch(/^Electron cannot start here \((no Electron binary|no display)[^)]*\); serving the web UI instead\.$/m);
      expect(out).toMatch(/one-time sign-in link.*#signin=/);
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root">');
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }, 120_000);
});
