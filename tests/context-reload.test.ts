import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_REPLY, writeAgentChatFixture } from "../src-main/core/fixtures/tinyModels.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Trained for 4096 tokens; loaded with 256 at first, as memory might have allowed when it loaded.
const MODEL = "long-chat";
const TRAINED = 4096;
const SMALL = 256;
/** ~370 tokens with the fixtures' byte vocabulary: longer than SMALL, far shorter than TRAINED. */
const LONG_PROMPT = "a b ".repeat(120);

interface EngineModel {
  id: string;
  state: string;
  contextSize: number;
  contextReloads: number;
  lastReload: { at: number; from: number; to: number; reason: string } | null;
}

async function admin(server: TestServer, path: string, init: RequestInit = {}) {
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json", ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function engineModel(server: TestServer): Promise<EngineModel | undefined> {
  const { body } = await admin(server, "/api/admin/engine");
  return (body.models as EngineModel[]).find((m) => m.id === MODEL);
}

async function loadSmall(server: TestServer) {
  const res = await admin(server, `/api/admin/models/${MODEL}/load`, {
    method: "POST",
    body: JSON.stringify({ contextSize: SMALL }),
  });
  expect(res.status).toBe(200);
  expect((await engineModel(server))?.contextSize).toBe(SMALL);
}

const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: LONG_PROMPT }], max_tokens: 32 });

// Each test restarts the engine twice (a sized load, then the reload): slow on a busy 2-core machine.
describe("a prompt longer than the loaded context", { timeout: 240_000 }, () => {
  let server: TestServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startTestServer({ contextSize: 65_536, parallel: 2 }, (dir) =>
      writeAgentChatFixture(join(dir, `${MODEL}.gguf`), TRAINED),
    );
    client = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
  });
  afterAll(() => server?.stop());

  it("reloads the model with a larger context and answers", async () => {
    await loadSmall(server);
    const response = await ask(client);
    expect(response.choices[0]?.message.content).toBe(AGENT_REPLY);
    expect(response.usage?.prompt_tokens).toBeGreaterThan(SMALL);
    const model = await engineModel(server);
    expect(model?.state).toBe("ready");
    // The largest memory allows, up to what it was trained for (the cap is higher).
    expect(model?.contextSize).toBe(TRAINED);
    expect(model?.contextReloads).toBe(1);
    expect(model?.lastReload).toMatchObject({ from: SMALL, to: TRAINED });
    expect(model?.lastReload?.reason).toMatch(/a prompt of \d+ tokens did not fit the context of 256/);
  });

  it("reloads once for two long prompts at once, and both are answered", async () => {
    await loadSmall(server);
    const before = (await engineModel(server))?.contextReloads ?? 0;
    const [a, b] = await Promise.all([ask(client), ask(client)]);
    expect(a.choices[0]?.message.content).toBe(AGENT_REPLY);
    expect(b.choices[0]?.message.content).toBe(AGENT_REPLY);
    const model = await engineModel(server);
    // The sized load started a new engine (its counters too), so the count is this test's alone.
    expect(model?.contextReloads).toBe(before + 1);
    expect(model?.contextSize).toBe(TRAINED);
  });

  it("lets a short request that arrives during a reload wait for it instead of failing", async () => {
    await loadSmall(server);
    const [long, short] = await Promise.all([
      ask(client),
      client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    ]);
    expect(long.choices[0]?.message.content).toBe(AGENT_REPLY);
    expect(short.choices[0]?.message.content).toBeTypeOf("string");
    expect((await engineModel(server))?.contextSize).toBe(TRAINED);
  });

  it("keeps a pinned context: the 400 names the numbers and the setting to change", async () => {
    const pinned = await admin(server, `/api/admin/models/${MODEL}/settings`, {
      method: "PUT",
      body: JSON.stringify({ contextSize: SMALL }),
    });
    expect(pinned.status).toBe(200);
    await admin(server, `/api/admin/models/${MODEL}/unload`, { method: "POST", body: "{}" });
    const before = (await engineModel(server))?.contextReloads ?? 0;
    const error = await ask(client).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe("context_length_exceeded");
    expect(error.message).toMatch(/The prompt is \d+ tokens long, but 'long-chat' is loaded with a context of 256 tokens/);
    expect(error.message).toContain(`trained for ${TRAINED}`);
    expect(error.message).toContain(`Its context size setting is ${SMALL}`);
    expect(error.message).toContain("PUT /api/admin/models/{id}/settings");
    const model = await engineModel(server);
    expect(model?.contextSize).toBe(SMALL);
    expect(model?.contextReloads).toBe(before);
  });
});
