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
    expect(info.engine.cpuMathCores).toBeGreaterThan(0);
    expect(info.engine.ram.total).toBeGreaterThan(info.engine.ram.free);
    expect(info.devices).toEqual([]);
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
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  });
});
