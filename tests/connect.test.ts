import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin", "maas-base.mjs");
const dir = mkdtempSync(join(tmpdir(), "maas-base-connect-"));
const home = join(dir, "home");
const models = join(dir, "models");
mkdirSync(home);
mkdirSync(models);
writeTinyLlama(join(models, "coder.gguf"), { contextLength: 32768 });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (...args: string[]) =>
  run(process.execPath, [BIN, ...args, "--data-dir", join(dir, "data"), "--models-dir", models], {
    env: { PATH: process.env.PATH, HOME: home },
  });

// Each CLI call starts Node and tsx; on a busy 2-core machine that takes seconds.
describe("connect and routes before the first start", { timeout: 240_000 }, () => {
  it("routes create --model works before any serve has scanned the models folder", async () => {
    const { stdout } = await cli("routes", "create", "--name", "my-coder", "--model", "coder", "--json");
    expect(JSON.parse(stdout)).toMatchObject({ name: "my-coder", targets: [{ kind: "model", modelId: "coder" }] });
  });

  it("connect codex --write writes a Responses provider with the model's context, and a key", async () => {
    const { stdout, stderr } = await cli("connect", "codex", "--write", "--yes");
    const path = join(home, ".codex", "config.toml");
    expect(stderr).toContain(`wrote ${path}`);
    const toml = readFileSync(path, "utf8");
    expect(toml).toContain('model = "coder"');
    expect(toml).toContain("model_context_window = 32768");
    expect(toml).toContain('wire_api = "responses"');
    expect(stdout).toMatch(/export MAAS_BASE_API_KEY="mb_/);
    expect(stdout).toContain("gets up to 32768 tokens of context");
    // Run again: nothing left to change.
    const again = await cli("connect", "codex", "--write", "--yes", "--key", "mb_existing");
    expect(again.stdout).toContain("already set up");
  });

  it("connect openai-sdk, anthropic-sdk and continue give each client what it needs; continue --write writes its config", async () => {
    const openai = JSON.parse((await cli("connect", "openai-sdk", "--model", "coder", "--json")).stdout);
    expect(openai.env).toMatchObject({
      OPENAI_BASE_URL: "http://127.0.0.1:8421/v1",
      OPENAI_API_KEY: expect.stringMatching(/^mb_/),
    });
    const anthropic = JSON.parse((await cli("connect", "anthropic-sdk", "--model", "coder", "--json")).stdout);
    expect(anthropic.env).toMatchObject({
      ANTHROPIC_BASE_URL: "http://127.0.0.1:8421",
      ANTHROPIC_API_KEY: expect.stringMatching(/^mb_/),
    });
    const { stderr } = await cli("connect", "continue", "--model", "coder", "--write", "--yes");
    const path = join(home, ".continue", "config.yaml");
    expect(stderr).toContain(`wrote ${path}`);
    const yaml = readFileSync(path, "utf8");
    expect(yaml).toContain("coder");
    expect(yaml).toContain("http://127.0.0.1:8421/v1");
  });

  it("connect claude-code creates the claude-* alias; with two chat models and no terminal it asks for --model", async () => {
    const { stdout } = await cli("connect", "claude-code", "--json");
    const out = JSON.parse(stdout);
    expect(out.changes).toContain("alias created: claude-* → coder");
    expect(out.env).toMatchObject({ ANTHROPIC_BASE_URL: "http://127.0.0.1:8421" });
    const listed = await run(process.execPath, [BIN, "routes", "list", "--json", "--data-dir", join(dir, "data")]);
    expect(JSON.parse(listed.stdout).map((r: { name: string }) => r.name)).toContain("claude-*");

    writeTinyLlama(join(models, "second.gguf"));
    const error = await cli("connect", "opencode").catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(/several chat models; pick one with --model: (coder, second|second, coder)/);
  });
});
