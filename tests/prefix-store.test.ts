// Prefixes that outlive their sequence (engine/prefixStore.ts): with more sessions than
// sequences a returning session's prefix is read back from disk instead of recomputed,
// also after a restart; the disk bound evicts the least recently used file; a corrupt
// file is recomputed without an error; removing the model deletes its files. Real
// server, real engine, the tiny generated model, the real OpenAI SDK.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prefixCacheDir } from "../src-main/core/config.js";
import { createCore } from "../src-main/core/index.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

/** Small enough for the tiny model's prompts, which are a few hundred tokens. */
const MIN_TOKENS = 64;
const settings = { parallel: 2, contextSize: 1024, prefixCacheMinTokens: MIN_TOKENS } as const;

let server: TestServer;
/** The same model with the store off: what a cold computation answers. */
let cold: TestServer;
let core: ReturnType<typeof createCore> | null = null;
let url = "";

const storeDir = () => join(prefixCacheDir(server.dir), "tiny-chat");
const stateFiles = () =>
  existsSync(storeDir())
    ? readdirSync(storeDir())
        .filter((f) => f.endsWith(".state"))
        .map((f) => join(storeDir(), f))
    : [];

beforeAll(async () => {
  [server, cold] = await Promise.all([startTestServer(settings), startTestServer({ ...settings, prefixCacheMaxBytes: 0 })]);
  url = server.url;
}, 120_000);
afterAll(async () => {
  await core?.stop();
  await Promise.all([server?.core.stop(), cold?.stop()]);
  if (server) rmSync(server.dir, { recursive: true, force: true });
});

type Message = { role: "system" | "user" | "assistant"; content: string };

/** A session's system prompt: different from its first word, a few hundred tokens. */
const systemFor = (name: string) =>
  `${name} session. ${Array.from({ length: 14 }, (_, i) => `${name} rule ${i}: keep the edits small and tested.`).join(" ")}`;

async function ask(base: string, messages: Message[]) {
  const key = base === cold.url ? cold.key : server.key;
  const client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 120_000 });
  const answer = await client.chat.completions.create({ model: "tiny-chat", max_tokens: 4, temperature: 0, messages });
  return {
    text: answer.choices[0]?.message.content ?? "",
    prompt: answer.usage?.prompt_tokens ?? 0,
    cached: answer.usage?.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

const turn1 = (name: string): Message[] => [
  { role: "system", content: systemFor(name) },
  { role: "user", content: `Open the ${name} file.` },
];
const turn2 = (name: string, reply: string): Message[] => [
  ...turn1(name),
  { role: "assistant", content: reply || "ok" },
  { role: "user", content: "Now run its tests." },
];

const firstTurns = new Map<string, { text: string; prompt: number }>();

describe("prompt prefixes saved to disk", () => {
  it("a returning session's prefix is restored after two others took both sequences", async () => {
    // Three sessions, two sequences: the third takes the first one's sequence, which is saved first.
    for (const name of ["alpha", "bravo", "charlie"]) {
      const first = await ask(url, turn1(name));
      expect(first.prompt).toBeGreaterThan(MIN_TOKENS * 2);
      firstTurns.set(name, first);
    }
    expect(stateFiles().length).toBeGreaterThanOrEqual(1);

    const alpha = firstTurns.get("alpha") as { text: string; prompt: number };
    const messages = turn2("alpha", alpha.text);
    const restored = await ask(url, messages);
    // Its system prompt and first turn came back from disk, not from a warm sequence.
    expect(restored.cached).toBeGreaterThan(alpha.prompt * 0.8);
    expect(restored.cached).toBeLessThan(restored.prompt);
    // Greedy, the answer is the one a cold computation gives.
    const reference = await ask(cold.url, messages);
    expect(reference.cached).toBeLessThan(alpha.prompt * 0.2);
    expect(restored.text).toBe(reference.text);
  }, 180_000);

  it("after a restart the prefix is restored, and a lower disk bound evicts the least recently used file", async () => {
    const before = stateFiles();
    expect(before.length).toBeGreaterThanOrEqual(1);
    await server.core.stop();
    // The unload saved the prefixes the sequences still held (charlie's among them).
    const saved = stateFiles();
    expect(saved.length).toBeGreaterThan(before.length);
    const sizes = saved.map((f) => statSync(f).size).sort((x, y) => y - x);
    // Room for the two largest files: opening the store deletes the least recently used one.
    const bound = (sizes[0] ?? 0) + (sizes[1] ?? 0) + 1;
    // The least recently used file (written or read back longest ago), as the index records it.
    const saving = JSON.parse(readFileSync(join(storeDir(), "index.json"), "utf8")) as {
      entries: Array<{ file: string; lastUsed: number }>;
    };
    const lru = [...saving.entries].sort((x, y) => x.lastUsed - y.lastUsed)[0];
    const oldest = join(storeDir(), lru?.file ?? "none");
    expect(existsSync(oldest)).toBe(true);
    core = createCore({
      host: "127.0.0.1",
      port: 0,
      dataDir: server.dir,
      modelsDir: join(server.dir, "models"),
      threads: 1,
      gpu: false,
      ...settings,
      prefixCacheMaxBytes: bound,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    });
    url = await core.start();

    const charlie = firstTurns.get("charlie") as { text: string; prompt: number };
    const messages = turn2("charlie", charlie.text);
    const restored = await ask(url, messages);
    expect(restored.cached).toBeGreaterThan(charlie.prompt * 0.8);
    expect(restored.text).toBe((await ask(cold.url, messages)).text);
    expect(existsSync(oldest)).toBe(false);
    expect(stateFiles().length).toBeLessThan(saved.length);

    // New sessions push older files out; the folder stays within the bound, the index agrees.
    for (const name of ["delta", "echo", "foxtrot"]) firstTurns.set(name, await ask(url, turn1(name)));
    const files = stateFiles();
    const total = files.reduce((n, f) => n + statSync(f).size, 0);
    expect(total).toBeLessThanOrEqual(bound);
    expect(files.length).toBeGreaterThanOrEqual(1);
    expect(files.length).toBeLessThan(saved.length + 2);
    const index = JSON.parse(readFileSync(join(storeDir(), "index.json"), "utf8")) as { entries: Array<{ file: string }> };
    expect(index.entries.map((e) => join(storeDir(), e.file)).sort()).toEqual([...files].sort());
  }, 240_000);

  it("a corrupt state file is recomputed without an error and deleted", async () => {
    // delta's prefix went to disk when foxtrot took its sequence; damage every file.
    const files = stateFiles();
    expect(files.length).toBeGreaterThanOrEqual(1);
    for (const file of files) {
      const bytes = readFileSync(file);
      bytes.fill(7, Math.floor(bytes.length / 3), Math.floor(bytes.length / 3) + 4096);
      writeFileSync(file, bytes);
    }
    const delta = firstTurns.get("delta") as { text: string; prompt: number };
    const messages = turn2("delta", delta.text);
    const again = await ask(url, messages);
    // Computed, not read from the damaged file, and the same answer a cold computation gives.
    expect(again.cached).toBeLessThan(delta.prompt * 0.5);
    expect(again.text).toBe((await ask(cold.url, messages)).text);
    expect(files.some((f) => !existsSync(f))).toBe(true);
  }, 240_000);

  it("removing the model deletes its saved prefixes", async () => {
    const headers = { authorization: `Bearer ${server.adminKey}` };
    expect((await fetch(`${url}/api/admin/models/tiny-chat/unload`, { method: "POST", headers })).status).toBe(200);
    expect(stateFiles().length).toBeGreaterThanOrEqual(1);
    const removed = await fetch(`${url}/api/admin/models/tiny-chat`, { method: "DELETE", headers });
    expect(removed.status).toBe(200);
    expect(existsSync(storeDir())).toBe(false);
  }, 60_000);
});
