import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let client: Anthropic;

beforeAll(async () => {
  server = await startTestServer({ parallel: 2 });
  // As Claude Code does: ANTHROPIC_BASE_URL is the server root, without /v1.
  client = new Anthropic({ apiKey: server.key, baseURL: server.url, maxRetries: 0 });
});

afterAll(async () => {
  await server?.stop();
});

const weatherTool = {
  name: "get_weather",
  description: "Current weather for a city",
  // Enums and booleans keep a random-weight model's forced call short and complete.
  input_schema: {
    type: "object" as const,
    properties: { unit: { type: "string", enum: ["c", "f"] }, rain: { type: "boolean" } },
    required: ["unit", "rain"],
  },
};

describe("Anthropic Messages API with @anthropic-ai/sdk", () => {
  it("creates a message with usage and a stop reason", async () => {
    const message = await client.messages.create({
      model: "tiny-chat",
      max_tokens: 8,
      system: "You are terse.",
      messages: [{ role: "user", content: "Hello" }],
    });
    expect(message.type).toBe("message");
    expect(message.id).toMatch(/^msg_/);
    expect(message.role).toBe("assistant");
    expect(message.content[0]?.type).toBe("text");
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.usage.output_tokens).toBe(8);
    expect(message.usage.input_tokens).toBeGreaterThan(3);
  });

  it("streams with messages.stream().finalMessage(), the same input_tokens as count_tokens", async () => {
    const params = { model: "tiny-chat", messages: [{ role: "user" as const, content: "Count me" }] };
    const stream = client.messages.stream({ ...params, max_tokens: 6 });
    const texts: string[] = [];
    stream.on("text", (t) => texts.push(t));
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.usage.output_tokens).toBe(6);
    const text = message.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    expect(text).toBe(texts.join(""));
    const counted = await client.messages.countTokens(params);
    expect(counted.input_tokens).toBe(message.usage.input_tokens);
  });

  it("round-trips a tool call: tool_use, then tool_result, then an answer", async () => {
    const first = await client.messages.create({
      model: "tiny-chat",
      max_tokens: 120,
      tools: [weatherTool],
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    expect(first.stop_reason).toBe("tool_use");
    const use = first.content.find((b) => b.type === "tool_use");
    if (use?.type !== "tool_use") throw new Error("no tool_use block");
    expect(use.name).toBe("get_weather");
    expect(use.id).toMatch(/^toolu_/);
    expect(["c", "f"]).toContain((use.input as { unit: unknown }).unit);
    const second = await client.messages.create({
      model: "tiny-chat",
      max_tokens: 5,
      tools: [weatherTool],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "21C and sunny" }] },
      ],
    });
    expect(second.stop_reason).toBe("max_tokens");
    // input_tokens counts only what was evaluated anew (Anthropic's meaning); the prompt as a
    // whole is that plus what the cache served, and it grew by the tool_use and tool_result.
    const prompt = (u: typeof first.usage) => u.input_tokens + (u.cache_read_input_tokens ?? 0);
    expect(prompt(second.usage)).toBeGreaterThan(prompt(first.usage));
  });

  it("streams a forced tool call as a tool_use block with input_json_delta", async () => {
    const stream = client.messages.stream({
      model: "tiny-chat",
      max_tokens: 120,
      tools: [weatherTool],
      tool_choice: { type: "any" },
      messages: [{ role: "user", content: "Weather in Oslo?" }],
    });
    let json = "";
    stream.on("inputJson", (partial) => {
      json += partial;
    });
    const message = await stream.finalMessage();
    const use = message.content.find((b) => b.type === "tool_use");
    expect(use?.type === "tool_use" && use.input).toEqual(JSON.parse(json));
    expect(message.stop_reason).toBe("tool_use");
  });

  it("serves beta.messages.create (?beta=true) and lists models in the Anthropic shape", async () => {
    const message = await client.beta.messages.create({
      model: "tiny-chat",
      max_tokens: 3,
      messages: [{ role: "user", content: "beta" }],
      betas: ["interleaved-thinking-2025-05-14"],
    });
    expect(message.usage.output_tokens).toBe(3);
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toContain("tiny-chat");
    expect(models.data[0]?.type).toBe("model");
  });

  it("accepts a bearer token (Claude Code's ANTHROPIC_AUTH_TOKEN) as well as x-api-key", async () => {
    const bearer = new Anthropic({ authToken: server.key, apiKey: null, baseURL: server.url, maxRetries: 0 });
    const message = await bearer.messages.create({
      model: "tiny-chat",
      max_tokens: 2,
      messages: [{ role: "user", content: "token" }],
    });
    expect(message.usage.output_tokens).toBe(2);
  });

  it("maps errors to the SDK's classes: 401, 404, 400", async () => {
    const wrong = new Anthropic({ apiKey: "mb_nope_nope", baseURL: server.url, maxRetries: 0 });
    const ask = { max_tokens: 2, messages: [{ role: "user" as const, content: "x" }] };
    await expect(wrong.messages.create({ model: "tiny-chat", ...ask })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const missing = await client.messages.create({ model: "no-such-model", ...ask }).catch((e) => e);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect(missing.error).toMatchObject({ type: "error", error: { type: "not_found_error" } });
    const bad = await client.messages
      .create({ model: "tiny-chat", messages: ask.messages } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(bad.error.error.message).toMatch(/max_tokens/);
    const embedOnly = await client.messages.create({ model: "tiny-embed", ...ask }).catch((e) => e);
    expect(embedOnly).toBeInstanceOf(Anthropic.BadRequestError);
  });

  it("names every SSE event and pings before the first block", async () => {
    const res = await fetch(`${server.url}/v1/messages?beta=true`, {
      method: "POST",
      headers: { "x-api-key": server.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-chat", max_tokens: 4, stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const frames = (await res.text()).trim().split("\n\n");
    for (const frame of frames) {
      const [event, data] = frame.split("\n");
      expect(event).toMatch(/^event: /);
      expect(JSON.parse((data ?? "").slice(6)).type).toBe(event?.slice(7));
    }
    const names = frames.map((f) => f.split("\n")[0]?.slice(7));
    expect(names.slice(0, 3)).toEqual(["message_start", "ping", "content_block_start"]);
    expect(names.slice(-2)).toEqual(["message_delta", "message_stop"]);
  });

  it("answers malformed JSON in the Anthropic error shape", async () => {
    const res = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": server.key, "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  });
});

describe("Anthropic overload", () => {
  it("answers 529 overloaded_error when the model's queue is full", async () => {
    const busy = await startTestServer({ parallel: 1, maxQueue: 0 });
    try {
      const sdk = new Anthropic({ apiKey: busy.key, baseURL: busy.url, maxRetries: 0 });
      const holder = new AbortController();
      const long = await fetch(`${busy.url}/v1/messages`, {
        method: "POST",
        signal: holder.signal,
        headers: { "x-api-key": busy.key, "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny-chat", max_tokens: 500, stream: true, messages: [{ role: "user", content: "go" }] }),
      });
      const reader = (long.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // the stream is running: the only sequence is taken
      const error = await sdk.messages
        .create({ model: "tiny-chat", max_tokens: 2, messages: [{ role: "user", content: "x" }] })
        .catch((e) => e);
      expect(error).toBeInstanceOf(Anthropic.OverloadedError);
      expect(error.status).toBe(529);
      expect(error.error).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
      holder.abort();
      await reader.cancel().catch(() => {});
    } finally {
      await busy.stop();
    }
  });
});
