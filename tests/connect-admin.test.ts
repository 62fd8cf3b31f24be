import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ parallel: 1, contextSize: 65_536 });
});
afterAll(() => server?.stop());

async function connect(body: unknown) {
  const res = await fetch(`${server.url}/api/admin/connect`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the answer field by field
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe("the dashboard's Connect an app (POST /api/admin/connect)", () => {
  it("lists the clients and the chat models with their context", async () => {
    const res = await fetch(`${server.url}/api/admin/connect`, { headers: { authorization: `Bearer ${server.adminKey}` } });
    const body = (await res.json()) as {
      clients: Array<{ id: string }>;
      models: Array<{ id: string; context: { possible: number } }>;
    };
    expect(body.clients.map((c) => c.id)).toEqual([
      "claude-code",
      "codex",
      "opencode",
      "continue",
      "openai-sdk",
      "anthropic-sdk",
    ]);
    expect(body.models.map((m) => m.id)).toContain("tiny-chat");
    expect(body.models.map((m) => m.id)).not.toContain("tiny-embed");
    expect(body.models.find((m) => m.id === "tiny-chat")?.context.possible).toBe(4096);
  });

  it("previews without creating anything, and is honest about the context", async () => {
    const { status, body } = await connect({ client: "claude-code", model: "tiny-chat" });
    expect(status).toBe(200);
    expect(body.env).toMatchObject({ ANTHROPIC_BASE_URL: server.url, ANTHROPIC_AUTH_TOKEN: "<your-maas-base-key>" });
    expect(body.key).toBeNull();
    expect(body.createsKey).toBe(true);
    expect(body.aliases).toEqual([{ name: "claude-*", exists: false, pointsAt: null, action: "create" }]);
    expect(body.context).toMatchObject({ possible: 4096, firstRequest: 41_000, fits: false, pinned: false });
    expect(body.notes.join(" ")).toContain("first request is about 41000 tokens, more than the 4096");
    expect(body.files[0].path).toMatch(/\.claude\/settings\.json$/);
    expect(JSON.parse(body.files[0].contents).env.ANTHROPIC_BASE_URL).toBe(server.url);
    // Nothing was made.
    expect(server.core.routes.byName("claude-*")).toBeUndefined();
    expect(server.core.keys.list().some((k) => k.name === "connect-claude-code")).toBe(false);
  });

  it("gives Codex its Responses provider with the model's context", async () => {
    const { body } = await connect({ client: "codex", model: "tiny-chat" });
    expect(body.files[0].contents).toContain('wire_api = "responses"');
    expect(body.files[0].contents).toContain("model_context_window = 4096");
    expect(body.files[0].contents).toContain(`base_url = "${server.url}/v1"`);
    expect(body.env).toEqual({ MAAS_BASE_API_KEY: "<your-maas-base-key>" });
  });

  it("creates the aliases and a key on request; the configuration then works as given", async () => {
    const { status, body } = await connect({ client: "claude-code", model: "tiny-chat", create: true });
    expect(status).toBe(200);
    expect(body.key).toMatch(/^mb_/);
    expect(body.env.ANTHROPIC_AUTH_TOKEN).toBe(body.key);
    expect(body.changes).toContain("alias created: claude-* → tiny-chat");
    expect(body.aliases).toEqual([{ name: "claude-*", exists: true, pointsAt: "tiny-chat", action: "none" }]);
    const anthropic = new Anthropic({
      authToken: body.env.ANTHROPIC_AUTH_TOKEN,
      apiKey: null,
      baseURL: body.env.ANTHROPIC_BASE_URL,
      maxRetries: 0,
    });
    const message = await anthropic.messages.create({
      model: "claude-opus-5-5",
      max_tokens: 2,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(message.usage.output_tokens).toBe(2);
    // Once made, the alias needs nothing more.
    const again = await connect({ client: "claude-code", model: "tiny-chat" });
    expect(again.body.aliases).toEqual([{ name: "claude-*", exists: true, pointsAt: "tiny-chat", action: "none" }]);
  });

  it("answers a bad request in the admin dialect", async () => {
    expect((await connect({ client: "vim", model: "tiny-chat" })).status).toBe(400);
    expect((await connect({ client: "codex", model: "nope" })).status).toBe(404);
    const notChat = await connect({ client: "codex", model: "tiny-embed" });
    expect(notChat.status).toBe(400);
    expect(JSON.stringify(notChat.body)).toContain("not a chat model");
    const anonymous = await fetch(`${server.url}/api/admin/connect`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client: "codex", model: "tiny-chat" }),
    });
    expect(anonymous.status).toBe(401);
  });
});
