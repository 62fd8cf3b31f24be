import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

/** What the app's own page sends: a same-origin fetch. */
const sameOrigin = { "sec-fetch-site": "same-origin", "content-type": "application/json" };

async function exchange(code: string, headers: Record<string, string> = sameOrigin) {
  return fetch(`${server.url}/api/auth/exchange`, { method: "POST", headers, body: JSON.stringify({ code }) });
}
const codeOf = (link: string) => link.split("#signin=")[1] as string;
const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] as string;

describe("browser sessions", () => {
  it("a sign-in link sets an HttpOnly SameSite=Strict cookie for 30 days that can manage and chat", async () => {
    const res = await exchange(codeOf(server.core.signInLink()));
    expect(res.status).toBe(200);
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^maas_session=mb_/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain(`Max-Age=${30 * 86400}`);
    expect(await res.text()).not.toContain("mb_");
    const cookie = cookieOf(res);
    const admin = await fetch(`${server.url}/api/admin/keys`, { headers: { ...sameOrigin, cookie } });
    expect(admin.status).toBe(200);
    const keys = (await admin.json()) as { data: Array<{ name: string; expiresAt: number | null }> };
    const session = keys.data.find((k) => k.name.startsWith("Browser session"));
    expect(session?.expiresAt).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const chat = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...sameOrigin, cookie },
      body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
    });
    expect(chat.status).toBe(200);
  });

  it("the cookie counts only on requests from the app's own page (cross-site and header-less ones are refused)", async () => {
    const cookie = cookieOf(await exchange(codeOf(server.core.signInLink())));
    const call = (headers: Record<string, string>) => fetch(`${server.url}/api/admin/keys`, { headers: { cookie, ...headers } });
    expect((await call({ "sec-fetch-site": "cross-site" })).status).toBe(401);
    expect((await call({ "sec-fetch-site": "same-site" })).status).toBe(401);
    expect((await call({})).status).toBe(401);
    expect((await call({ origin: "http://evil.example" })).status).toBe(401);
    expect((await call({ origin: server.url })).status).toBe(200);
    expect((await call({ "sec-fetch-site": "same-origin" })).status).toBe(200);
    // A cross-site page cannot sign a browser in either (login CSRF).
    const forged = await exchange(codeOf(server.core.signInLink()), {
      "sec-fetch-site": "cross-site",
      "content-type": "application/json",
    });
    expect(forged.status).toBe(403);
  });

  it("a used link says it was used; a made-up one says it is not this server's", async () => {
    const code = codeOf(server.core.signInLink());
    expect((await exchange(code)).status).toBe(200);
    const again = await exchange(code);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(/used already/);
    const unknown = await exchange("not-a-real-code");
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/not one this server made/);
  });

  it("a management key signs in (a session that can also chat); an inference-only key is refused with the command to make one", async () => {
    const post = (key: string) =>
      fetch(`${server.url}/api/auth/session`, { method: "POST", headers: sameOrigin, body: JSON.stringify({ key }) });
    const ok = await post(server.adminKey);
    expect(ok.status).toBe(200);
    const me = await fetch(`${server.url}/api/auth/session`, { headers: { ...sameOrigin, cookie: cookieOf(ok) } });
    expect(((await me.json()) as { session: { scopes: string[] } }).session.scopes).toEqual(["inference", "management"]);
    const refused = await post(server.key);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("--scope inference,management");
  });

  it("signing out revokes the session's key; a revoked session is a 401", async () => {
    const cookie = cookieOf(await exchange(codeOf(server.core.signInLink())));
    const out = await fetch(`${server.url}/api/auth/session`, {
      method: "DELETE",
      headers: { "sec-fetch-site": "same-origin", cookie },
    });
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await fetch(`${server.url}/api/admin/keys`, { headers: { ...sameOrigin, cookie } })).status).toBe(401);
  });
});

describe("serve", () => {
  it("prints a fresh sign-in link on every start, also once keys exist, and its key hint makes a key that signs in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "maas-base-serve-"));
    const bin = join(import.meta.dirname, "..", "bin", "maas-base.mjs");
    const startOnce = () =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(process.execPath, [bin, "serve", "--port", "0", "--data-dir", dir, "--cpu", "--threads", "1"]);
        let err = "";
        child.stderr?.on("data", (d) => {
          err += String(d);
          if (/#signin=\S+\n/.test(err)) child.kill("SIGTERM");
        });
        child.on("exit", () => resolve(err));
        setTimeout(() => reject(new Error(`no link: ${err}`)), 60_000);
      });
    try {
      const first = await startOnce();
      const hint = /Create one.*with: maas-base (keys create .*?) --data-dir/.exec(first)?.[1] ?? "";
      expect(hint).toContain("--scope inference,management");
      await new Promise<void>((ok, fail) =>
        execFile(process.execPath, [bin, ...hint.split(" "), "--data-dir", dir], (e) => (e ? fail(e) : ok())),
      );
      const second = await startOnce();
      const links = [first, second].map((out) => /#signin=(\S+)/.exec(out)?.[1]);
      expect(links[1]).toBeTruthy();
      expect(links[1]).not.toBe(links[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
