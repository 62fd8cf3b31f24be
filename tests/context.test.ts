import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function contextOf(server: TestServer, id: string): Promise<number | undefined> {
  const res = await fetch(`${server.url}/api/admin/engine`, { headers: { authorization: `Bearer ${server.adminKey}` } });
  const body = (await res.json()) as { models: Array<{ id: string; contextSize: number }> };
  return body.models.find((m) => m.id === id)?.contextSize;
}

describe("context size", () => {
  it("gives a model its training context when the cap and memory allow it", async () => {
    const server = await startTestServer({ contextSize: 65_536, parallel: 1 });
    servers.push(server);
    const client = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
    await client.chat.completions.create({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 1 });
    // tiny-chat is trained for 4096 tokens.
    expect(await contextOf(server, "tiny-chat")).toBe(4096);
  });

  it("answers a prompt longer than the loaded context with the numbers and the flag to change", async () => {
    const server = await startTestServer({ contextSize: 1024, parallel: 1 });
    servers.push(server);
    const client = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
    const error = await client.chat.completions
      .create({ model: "tiny-chat", messages: [{ role: "user", content: "a b ".repeat(700) }], max_tokens: 1 })
      .catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error.code).toBe("context_length_exceeded");
    expect(error.message).toMatch(/The prompt is \d+ tokens long, but 'tiny-chat' is loaded with a context of 1024 tokens/);
    expect(error.message).toContain("trained for 4096");
    expect(error.message).toContain("--context-size");
  });
});
