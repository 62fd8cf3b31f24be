import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let openai: OpenAI;

beforeAll(async () => {
  server = await startTestServer({ parallel: 1 });
  openai = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
  server.core.routes.create({ name: "claude-sonnet-4", targets: [{ kind: "model", modelId: "tiny-chat" }] });
  server.core.routes.create({ name: "claude-*", targets: [{ kind: "model", modelId: "tiny-chat" }] });
  server.core.routes.create({ name: "claude-haiku-*", targets: [{ kind: "model", modelId: "tiny-embed" }] });
});

afterAll(async () => {
  await server?.stop();
});

describe("aliases clients can see", () => {
  it("lists user aliases in GET /v1/models with what they point at, and retrieves them", async () => {
    const ids = [];
    for await (const model of openai.models.list()) ids.push(model);
    const alias = ids.find((m) => m.id === "claude-sonnet-4") as unknown as Record<string, unknown>;
    expect(alias).toMatchObject({ object: "model", owned_by: "maas-base", alias_of: "tiny-chat", context_length: 4096 });
    expect(ids.some((m) => m.id.includes("*"))).toBe(false);
    expect(ids.some((m) => m.id === "tiny-chat")).toBe(true);
    expect(await openai.models.retrieve("claude-sonnet-4")).toMatchObject({ id: "claude-sonnet-4", alias_of: "tiny-chat" });
  });

  it("answers any name a glob alias matches, the most specific glob first, exact names before globs", async () => {
    expect(await openai.models.retrieve("claude-opus-5-5")).toMatchObject({ id: "claude-opus-5-5", alias_of: "tiny-chat" });
    expect(await openai.models.retrieve("claude-haiku-5-5")).toMatchObject({ alias_of: "tiny-embed" });
    expect(await openai.models.retrieve("tiny-chat")).not.toHaveProperty("alias_of");
    await expect(openai.models.retrieve("gpt-9")).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    const anthropic = new Anthropic({ apiKey: server.key, baseURL: server.url, maxRetries: 0 });
    const message = await anthropic.messages.create({
      model: "claude-opus-5-5",
      max_tokens: 3,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(message.model).toBe("claude-opus-5-5");
    expect(message.usage.output_tokens).toBe(3);
    const listed = await anthropic.models.list();
    expect(listed.data.find((m) => m.id === "claude-sonnet-4")?.display_name).toBe("claude-sonnet-4 → tiny-chat");
    expect(server.core.usage.requests({ limit: 1 }).data[0]).toMatchObject({ route: "claude-opus-5-5", model: "tiny-chat" });
  });
});

describe("keys limited by glob", () => {
  it("a key limited to claude-* may call claude-opus-5-5 through the alias, and not tiny-chat", async () => {
    const { key } = server.core.keys.create({ name: "claude only", scopes: ["inference"], allowedRoutes: ["claude-*"] });
    const anthropic = new Anthropic({ apiKey: key, baseURL: server.url, maxRetries: 0 });
    const message = await anthropic.messages.create({
      model: "claude-opus-5-5",
      max_tokens: 2,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(message.usage.output_tokens).toBe(2);

    const limited = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });
    const denied = await limited.chat.completions
      .create({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 1 })
      .catch((e) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(denied.message).toContain("may not use 'tiny-chat'");
    expect(denied.message).toContain("claude-*");

    // What it may call is what it sees: aliases the glob matches, no models by their own name.
    const ids: string[] = [];
    for await (const model of limited.models.list()) ids.push(model.id);
    expect(ids).toContain("claude-sonnet-4");
    expect(ids).not.toContain("tiny-chat");
    expect(await limited.models.retrieve("claude-opus-5-5")).toMatchObject({ alias_of: "tiny-chat" });
    await expect(limited.models.retrieve("tiny-chat")).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});
