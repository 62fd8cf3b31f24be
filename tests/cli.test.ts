import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin", "maas-base.mjs");
const dir = mkdtempSync(join(tmpdir(), "maas-base-cli-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  return run(process.execPath, [BIN, ...args], { cwd: dir });
}

/** Resolves with the URL once `serve` prints its listening line. */
function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
    child.stdout?.on("data", (data) => {
      out += String(data);
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

describe("maas-base CLI", () => {
  it("gpus --json says which backend and which engine build are in use", async () => {
    const { stdout } = await cli("gpus", "--json", "--cpu");
    const info = JSON.parse(stdout);
    expect(info.engine.backend).toBe("cpu");
    expect(["localBuild", "prebuilt"]).toContain(info.engine.build);
    // Which CPU backend serves: a prebuilt variant (haswell, zen4, …) or a native local build.
    if (process.platform === "linux") expect(info.engine.cpuVariant).toMatch(/^[a-z0-9_]+$/);
    expect(info.engine.cpuMathCores).toBeGreaterThan(0);
    expect(info.engine.ram.total).toBeGreaterThan(info.engine.ram.free);
    expect(info.devices).toEqual([]);
  });

  it("engine build without cmake or a compiler says what is missing and keeps the prebuilt engine", async () => {
    const failed = await run(process.execPath, [BIN, "engine", "build", "--cpu"], {
      cwd: dir,
      env: { ...process.env, PATH: join(dir, "no-tools-here") },
    }).catch((error: { code: number; stderr: string }) => error);
    expect("code" in failed && failed.code).toBe(1);
    expect("stderr" in failed && failed.stderr).toMatch(/cannot build here: missing cmake, .*The prebuilt engine stays in use/);
  });

  it("fixtures --out writes the three tiny models", async () => {
    const { stdout } = await cli("fixtures", "--out", join(dir, "models"));
    for (const name of ["tiny-chat.gguf", "tiny-embed.gguf", "tiny-rerank.gguf"]) {
      const path = join(dir, "models", name);
      expect(stdout).toContain(path);
      expect(existsSync(path)).toBe(true);
      expect(statSync(path).size).toBeGreaterThan(10_000);
    }
  });

  it("keys create prints only the key; keys list --json shows it masked", async () => {
    const { stdout } = await cli("keys", "create", "--name", "cli", "--data-dir", dir);
    expect(stdout).toMatch(/^mb_[0-9a-f]{16}_[0-9a-f]{32}\n$/);
    const list = JSON.parse((await cli("keys", "list", "--json", "--data-dir", dir)).stdout);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: "cli", scope: "inference" });
    expect(JSON.stringify(list)).not.toContain(stdout.trim().split("_")[2]);
  });

  it("rejects a bad scope with a usage error", async () => {
    await expect(cli("keys", "create", "--name", "x", "--scope", "root", "--data-dir", dir)).rejects.toMatchObject({ code: 1 });
  });

  it("models list --json registers the models folder", async () => {
    const list = JSON.parse((await cli("models", "list", "--json", "--data-dir", dir)).stdout);
    expect(list.map((m: { id: string }) => m.id)).toEqual(["tiny-chat", "tiny-embed", "tiny-rerank"]);
    expect(list[0].capabilities).toEqual(["chat", "embedding"]);
  });

  it("models import copies a file in; models rm removes it", async () => {
    const outside = join(dir, "outside.gguf");
    const { copyFileSync } = await import("node:fs");
    copyFileSync(join(dir, "models", "tiny-chat.gguf"), outside);
    const imported = JSON.parse((await cli("models", "import", outside, "--id", "imported", "--json", "--data-dir", dir)).stdout);
    expect(imported).toMatchObject({ id: "imported", capabilities: ["chat", "embedding"] });
    expect(existsSync(join(dir, "models", "outside.gguf"))).toBe(true);
    await cli("models", "rm", "imported", "--data-dir", dir);
    expect(existsSync(join(dir, "models", "outside.gguf"))).toBe(false);
    expect(existsSync(outside)).toBe(true);
    await expect(cli("models", "import", join(dir, "nope.gguf"), "--data-dir", dir)).rejects.toMatchObject({ code: 1 });
  });

  it("routes create prints an id; routes list --json shows it without the upstream key; routes rm removes it", async () => {
    const { stdout } = await cli(
      "routes",
      "create",
      "--name",
      "remote",
      "--upstream",
      "http://127.0.0.1:9/v1",
      "--upstream-key",
      "very-secret",
      "--generic-proxy",
      "--data-dir",
      dir,
    );
    const id = Number(stdout.trim());
    expect(Number.isInteger(id)).toBe(true);
    const list = JSON.parse((await cli("routes", "list", "--json", "--data-dir", dir)).stdout);
    const route = list.find((r: { id: number }) => r.id === id);
    expect(route).toMatchObject({ name: "remote", genericProxy: true, targets: [{ kind: "upstream", hasUpstreamKey: true }] });
    expect(JSON.stringify(list)).not.toContain("very-secret");
    expect(list.some((r: { name: string; auto: boolean }) => r.name === "tiny-chat" && r.auto)).toBe(true);
    await cli("routes", "rm", String(id), "--data-dir", dir);
    const after = JSON.parse((await cli("routes", "list", "--json", "--data-dir", dir)).stdout);
    expect(after.some((r: { id: number }) => r.id === id)).toBe(false);
    await expect(cli("routes", "create", "--name", "x", "--data-dir", dir)).rejects.toMatchObject({ code: 1 });
  });

  it("serve --port 0 prints its URL, serves the SDK, and exits cleanly on SIGTERM", async () => {
    const key = (await cli("keys", "create", "--name", "serve", "--data-dir", dir)).stdout.trim();
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--port", "0", "--data-dir", dir, "--threads", "1", "--cpu", "--log-level", "warn"],
      {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const url = await waitForListening(child);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
      const answer = await client.chat.completions.create({
        model: "tiny-chat",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 3,
      });
      expect(answer.usage?.completion_tokens).toBe(3);
      // A key created while the server runs works at once.
      const late = (await cli("keys", "create", "--name", "late", "--data-dir", dir)).stdout.trim();
      const res = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${late}` } });
      expect(res.status).toBe(200);
      // keys revoke: the running server refuses the key at once.
      const keys = JSON.parse((await cli("keys", "list", "--json", "--data-dir", dir)).stdout);
      const lateId = keys.find((k: { name: string }) => k.name === "late").id;
      expect((await cli("keys", "revoke", String(lateId), "--data-dir", dir)).stdout).toBe(`revoked ${lateId}\n`);
      const refused = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${late}` } });
      expect(refused.status).toBe(401);
      // models load / unload on the running server, with a management key.
      const admin = (await cli("keys", "create", "--name", "admin", "--scope", "management", "--data-dir", dir)).stdout.trim();
      const loaded = await cli("models", "load", "tiny-embed", "--url", url, "--key", admin);
      expect(loaded.stdout).toBe("loaded tiny-embed (ready)\n");
      const unloaded = await cli("models", "unload", "tiny-embed", "--url", url, "--key", admin);
      expect(unloaded.stdout).toBe("unloaded tiny-embed\n");
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  });

  it("usage --json groups the rollups: the chat that serve answered is counted under its operation", async () => {
    const out = JSON.parse((await cli("usage", "--json", "--group-by", "operation", "--data-dir", dir)).stdout);
    expect(out.groupBy).toBe("operation");
    expect(out.from).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const chat = out.data.find((row: { group: string }) => row.group === "chat");
    expect(chat).toMatchObject({ requests: 1, completionTokens: 3 });
  });
});
