/**
 * The real coding-agent clients, headless, against the real server on the scripted
 * fixture model: each is set up with `maas-base connect <client> --write` in a fresh
 * HOME, as a user would, and must finish one turn with exit code 0 and print the text
 * the server sent. Run with `npm run test:agents` (it installs the clients from
 * tests/agents/package-lock.json first).
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_CONTEXT_CAP } from "../../src-main/core/engine/contextSize.js";
import { AGENT_REPLY, writeAgentChatFixture } from "../../src-main/core/fixtures/tinyModels.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "..", "bin", "maas-base.mjs");
const CLIENTS_BIN = join(import.meta.dirname, "node_modules", ".bin");
const MODEL = "tiny-agent";

/**
 * Telemetry, update checks and model-list downloads off; any HTTP a client still tries
 * goes to a dead loopback proxy, so nothing leaves the machine.
 */
const QUIET = {
  DISABLE_TELEMETRY: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
  DISABLE_ERROR_REPORTING: "1",
  OPENCODE_DISABLE_AUTOUPDATE: "1",
  OPENCODE_DISABLE_MODELS_FETCH: "1",
  OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
  CONTINUE_TELEMETRY_ENABLED: "0",
  HTTP_PROXY: "http://127.0.0.1:9",
  HTTPS_PROXY: "http://127.0.0.1:9",
  NO_PROXY: "127.0.0.1,localhost",
};

let server: TestServer;
const timings: Record<string, number> = {};

beforeAll(async () => {
  server = await startTestServer({ contextSize: DEFAULT_CONTEXT_CAP, parallel: 1 }, (dir) =>
    writeAgentChatFixture(join(dir, `${MODEL}.gguf`)),
  );
});

afterAll(async () => {
  process.stdout.write(`agent turn times (ms): ${JSON.stringify(timings)}\n`);
  await server?.stop();
});

interface Connection {
  env: Record<string, string>;
  files: Array<{ path: string }>;
  key: string;
}

/** `maas-base connect <client> --write` in a fresh HOME, as a user types it. */
async function connect(client: string, home: string): Promise<Connection> {
  const { stdout } = await run(
    process.execPath,
    [
      BIN,
      "connect",
      client,
      "--model",
      MODEL,
      "--url",
      server.url,
      "--data-dir",
      server.dir,
      "--models-dir",
      join(server.dir, "models"),
      "--write",
      "--yes",
      "--json",
    ],
    { env: { PATH: process.env.PATH, HOME: home } },
  );
  return JSON.parse(stdout) as Connection;
}

/** Runs a client to its end; its environment is only what is given (no ANTHROPIC_MODEL, no real keys). */
function runClient(command: string, args: string[], home: string, env: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "maas-base-agent-work-"));
  const started = Date.now();
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    const child = spawn(join(CLIENTS_BIN, command), args, {
      cwd,
      env: { PATH: `${CLIENTS_BIN}:${process.env.PATH}`, HOME: home, TERM: "dumb", ...QUIET, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += String(d);
    });
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 540_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const freshHome = () => mkdtempSync(join(tmpdir(), "maas-base-agent-home-"));
const lastRequest = () => server.core.usage.requests({ limit: 1 }).data[0];

describe("coding agents against the real server", () => {
  it("Claude Code: a glob alias answers its default model name, with no ANTHROPIC_MODEL", async () => {
    const home = freshHome();
    await connect("claude-code", home);
    // Everything it needs comes from ~/.claude/settings.json, written by connect.
    const result = await runClient("claude", ["-p", "Say hi", "--output-format", "json"], home);
    timings["claude-code"] = result.ms;
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const output = JSON.parse(result.stdout) as { result: string; is_error: boolean };
    expect(output.is_error).toBe(false);
    expect(output.result).toBe(AGENT_REPLY);
    expect(lastRequest()).toMatchObject({
      operation: "messages",
      model: MODEL,
      status: 200,
      route: expect.stringMatching(/^claude-/),
    });
  });

  it("Codex: the Responses provider with its default features (namespace and web_search tools)", async () => {
    const home = freshHome();
    const connection = await connect("codex", home);
    const result = await runClient("codex", ["exec", "--skip-git-repo-check", "Say hi"], home, connection.env);
    timings.codex = result.ms;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n").at(-1)).toBe(AGENT_REPLY);
    expect(lastRequest()).toMatchObject({ operation: "responses", model: MODEL, status: 200 });
  });

  it("opencode: its openai-compatible provider", async () => {
    const home = freshHome();
    const connection = await connect("opencode", home);
    const result = await runClient("opencode", ["run", "Say hi", "--format", "json"], home, connection.env);
    timings.opencode = result.ms;
    expect(result.code, result.stderr).toBe(0);
    const texts = result.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { type: string; part?: { text?: string } })
      .filter((event) => event.type === "text")
      .map((event) => event.part?.text);
    expect(texts).toContain(AGENT_REPLY);
    expect(lastRequest()).toMatchObject({ operation: "chat", model: MODEL, status: 200 });
  });

  it("Continue CLI: its config.yaml model", async () => {
    const home = freshHome();
    const connection = await connect("continue", home);
    const config = connection.files[0]?.path ?? "";
    const result = await runClient("cn", ["-p", "Say hi", "--config", config, "--format", "json"], home, connection.env);
    timings.continue = result.ms;
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { response: string }).response).toBe(AGENT_REPLY);
    expect(lastRequest()).toMatchObject({ operation: "chat", model: MODEL, status: 200 });
  });
});
