/**
 * Bodies, arrays and schemas are bounded before any engine work: hostile bodies
 * (generated here) of 10^6 tiny values, huge schemas and a prompt no context can
 * hold get a clear error in the caller's dialect, the server's memory stays put, and
 * another client keeps getting answers.
 */
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonShape } from "../src-main/core/http/bodyShape.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let openai: OpenAI;

beforeAll(async () => {
  server = await startTestServer({ parallel: 2 });
  openai = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
  // Load tiny-chat first: its prompt bound comes from its engine's load.
  await openai.chat.completions.create({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 1 });
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

const MILLION = 1_000_000;
const zeros = (n: number) => Array(n).fill("0").join(",");

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json", ...headers },
    body,
  });
}

/** Another client's tiny chat, answered while (or right after) the hostile bodies arrive. */
async function otherClientAnswers() {
  const reply = await openai.chat.completions.create({
    model: "tiny-chat",
    messages: [{ role: "user", content: "still there?" }],
    max_tokens: 2,
  });
  expect(reply.usage?.completion_tokens).toBe(2);
}

describe("the shape of a JSON body", () => {
  it("counts depth, the longest array and all values, skipping strings", () => {
    expect(jsonShape('{"a":[1,2,3],"b":{"c":[[],[1]]},"s":"[,,,\\"]"}')).toEqual({ depth: 4, longestArray: 3, values: 10 });
    expect(jsonShape("[ ]")).toEqual({ depth: 1, longestArray: 0, values: 0 });
    expect(jsonShape('["\\\\",1]')).toEqual({ depth: 1, longestArray: 2, values: 2 });
  });
});

describe("hostile bodies of 10^6 tiny values (2 MB, within the byte limit)", () => {
  const cases: Array<[string, string, string, Record<string, string>?]> = [
    ["messages", "/v1/chat/completions", `{"model":"tiny-chat","max_tokens":2,"messages":[${zeros(MILLION)}]}`],
    [
      "tools",
      "/v1/chat/completions",
      `{"model":"tiny-chat","max_tokens":2,"messages":[{"role":"user","content":"x"}],"tools":[${zeros(MILLION)}]}`,
    ],
    [
      "a schema enum",
      "/v1/chat/completions",
      `{"model":"tiny-chat","max_tokens":2,"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"e","schema":{"enum":[${zeros(MILLION)}]}}}}`,
    ],
    ["embeddings input", "/v1/embeddings", `{"model":"tiny-embed","input":[${zeros(MILLION)}]}`],
    // 20 arrays of 60 000: no array is too long, the body holds too many values.
    [
      "nested arrays",
      "/v1/chat/completions",
      `{"model":"tiny-chat","max_tokens":2,"messages":[{"role":"user","content":"x"}],"metadata":[${Array(20)
        .fill(`[${zeros(60_000)}]`)
        .join(",")}]}`,
    ],
  ];

  it("are refused with a 413 naming the limit, the server's memory stays put, other clients get answers", async () => {
    const rssBefore = process.memoryUsage.rss();
    const other = otherClientAnswers();
    for (const [label, path, body] of cases) {
      const started = performance.now();
      const res = await post(path, body);
      const error = (await res.json()).error;
      expect(res.status, label).toBe(413);
      expect(error.code, label).toBe("json_too_large");
      expect(error.message, label).toMatch(label === "nested arrays" ? /more than 1000000 values/ : /more than 100000 items/);
      expect(error.message, label).toContain("maxJsonItems");
      // Before: 4–13 s each on the server's event loop.
      expect(performance.now() - started, label).toBeLessThan(5000);
    }
    await other;
    // Before: +580 MB for the first body alone.
    expect(process.memoryUsage.rss() - rssBefore).toBeLessThan(150 * 2 ** 20);
    await otherClientAnswers();
  }, 120_000);

  it("in Anthropic's dialect: request_too_large", async () => {
    const res = await post("/v1/messages", `{"model":"tiny-chat","max_tokens":2,"messages":[${zeros(MILLION)}]}`, {
      "anthropic-version": "2023-06-01",
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
  });

  it("an array within the limit but of bad items is a 400 at its first bad item, at once", async () => {
    const started = performance.now();
    const res = await post("/v1/chat/completions", `{"model":"tiny-chat","max_tokens":2,"messages":[${zeros(99_000)}]}`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe("messages[0]");
    // Validating every item took 1.6 s (and one issue object per item).
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("schemas a grammar would enforce", () => {
  it("one of more than 50 000 values is a 400 naming its param, before the engine", async () => {
    const error = await openai.chat.completions
      .create({
        model: "tiny-chat",
        messages: [{ role: "user", content: "x" }],
        max_tokens: 2,
        response_format: {
          type: "json_schema",
          json_schema: { name: "e", schema: { enum: Array.from({ length: 60_000 }, (_, i) => i) } },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as { code?: string }).code).toBe("schema_too_large");
    expect((error as { param?: string }).param).toBe("response_format.json_schema.schema");
  });

  it("a forced Anthropic tool's: the param names its input_schema", async () => {
    const anthropic = new Anthropic({ apiKey: server.key, baseURL: server.url, maxRetries: 0 });
    const error = await anthropic.messages
      .create({
        model: "tiny-chat",
        max_tokens: 2,
        messages: [{ role: "user", content: "go" }],
        tools: [
          {
            name: "t",
            input_schema: { type: "object", properties: { x: { enum: Array.from({ length: 60_000 }, (_, i) => i) } } },
          },
        ],
        tool_choice: { type: "tool", name: "t" },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as Error).message).toContain("tools[0].input_schema");
  });

  it("a 30 000-value enum is served (compiled in the engine, off the server's event loop)", async () => {
    const values = Array.from({ length: 30_000 }, (_, i) => `v${i}`);
    const reply = await openai.chat.completions.create({
      model: "tiny-chat",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 8,
      response_format: { type: "json_schema", json_schema: { name: "e", schema: { type: "string", enum: values } } },
    });
    const content = reply.choices[0]?.message.content ?? "";
    // Cut by max_tokens or whole: a prefix of one of the values, in quotes.
    expect(values.some((v) => `"${v}"`.startsWith(content))).toBe(true);
  }, 120_000);
});

describe("a prompt no context can hold", () => {
  it("10 MB is a context-overflow 400 without tokenizing it; the model keeps answering", async () => {
    const started = performance.now();
    const error = await openai.chat.completions
      .create({ model: "tiny-chat", messages: [{ role: "user", content: "lorem ipsum ".repeat(870_000) }], max_tokens: 2 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as { code?: string }).code).toBe("context_length_exceeded");
    expect((error as { param?: string }).param).toBe("messages");
    expect((error as Error).message).toMatch(/can never hold more than \d+ tokens/);
    expect(performance.now() - started).toBeLessThan(3000);
    await otherClientAnswers();
  }, 60_000);

  it("a completion prompt too: param prompt", async () => {
    const error = await openai.completions
      .create({ model: "tiny-chat", prompt: "x".repeat(2 * 2 ** 20), max_tokens: 2 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as { param?: string }).param).toBe("prompt");
  });
});

describe("maxJsonItems is a setting", () => {
  it("raised, a longer array gets past the body check to the usual answer", async () => {
    const roomy = await startTestServer({ maxJsonItems: 200_000 });
    try {
      const res = await fetch(`${roomy.url}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${roomy.key}`, "content-type": "application/json" },
        body: `{"model":"tiny-embed","input":[${zeros(150_000)}]}`,
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe("context_length_exceeded");
    } finally {
      await roomy.stop();
    }
  }, 180_000);
});
