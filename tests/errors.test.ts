import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;

beforeAll(async () => {
  // One sequence and no waiting room, so a second concurrent request is refused at once.
  server = await startTestServer({ parallel: 1, maxQueue: 0, bodyLimit: 64 * 1024 }, (modelsDir) => {
    const good = readFileSync(join(modelsDir, "tiny-chat.gguf"));
    writeFileSync(join(modelsDir, "truncated.gguf"), good.subarray(0, Math.floor(good.length / 2)));
    writeFileSync(join(modelsDir, "garbage.gguf"), "this is not a GGUF file");
    // Complete, but for an architecture llama.cpp does not know: it registers, then fails to load.
    writeFileSync(join(modelsDir, "alien.gguf"), Buffer.from(good.toString("latin1").replaceAll("llama", "llamo"), "latin1"));
  });
});

afterAll(async () => {
  await server?.stop();
});

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json", ...headers },
    body,
  });
}

const chatBody = (extra: object = {}) =>
  JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 2, ...extra });

describe("errors in the OpenAI shape", () => {
  it("401 without a key, with a wrong key and with a revoked key", async () => {
    const none = await fetch(`${server.url}/v1/models`);
    expect(none.status).toBe(401);
    const body = await none.json();
    expect(body.error).toMatchObject({ type: "authentication_error", code: "invalid_api_key" });
    expect(typeof body.error.message).toBe("string");

    const wrong = await fetch(`${server.url}/v1/models`, {
      headers: { authorization: "Bearer mb_0000000000000000_00000000000000000000000000000000" },
    });
    expect(wrong.status).toBe(401);

    const { key, record } = server.core.keys.create({ name: "short-lived", scopes: ["inference"] });
    const ok = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    server.core.keys.revoke(record.id);
    const revoked = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(revoked.status).toBe(401);

    const sdk = new OpenAI({ apiKey: "nope", baseURL: server.baseURL, maxRetries: 0 });
    await expect(sdk.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("accepts the key in api-key and x-api-key headers", async () => {
    for (const header of ["api-key", "x-api-key"]) {
      const res = await fetch(`${server.url}/v1/models`, { headers: { [header]: server.key } });
      expect(res.status).toBe(200);
    }
  });

  it("403 for an inference key on the admin API", async () => {
    const res = await fetch(`${server.url}/api/admin/engine`, { headers: { authorization: `Bearer ${server.key}` } });
    expect(res.status).toBe(403);
    expect((await res.json()).error.type).toBe("permission_error");
  });

  it("404 for an unknown model, naming it", async () => {
    const res = await post("/v1/chat/completions", chatBody({ model: "gpt-17" }));
    expect(res.status).toBe(404);
    const body = await res.json();
    expect(body.error).toMatchObject({ type: "not_found_error", param: "model", code: "model_not_found" });
    expect(body.error.message).toContain("gpt-17");
  });

  it("404 for an unknown route", async () => {
    const res = await post("/v1/nothing-here", "{}");
    expect(res.status).toBe(404);
    expect((await res.json()).error.type).toBe("not_found_error");
  });

  it("400 for malformed JSON, an empty body and a non-object body", async () => {
    for (const body of ['{"model": "tiny-chat", ', "[1,2,3]", '"text"']) {
      const res = await post("/v1/chat/completions", body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.type).toBe("invalid_request_error");
    }
    const empty = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
    });
    expect(empty.status).toBe(400);
  });

  it("400 naming the field for wrong types and missing fields", async () => {
    const cases: Array<[object, string]> = [
      [{ messages: "hello" }, "messages"],
      [{ messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
      [{ temperature: "hot" }, "temperature"],
      [{ max_tokens: -1 }, "max_tokens"],
      [{ n: 3 }, "n"],
    ];
    for (const [extra, param] of cases) {
      const res = await post("/v1/chat/completions", chatBody(extra));
      expect(res.status, JSON.stringify(extra)).toBe(400);
      const body = await res.json();
      expect(body.error.param, JSON.stringify(extra)).toBe(param);
    }
    const missing = await post("/v1/chat/completions", JSON.stringify({ messages: [{ role: "user", content: "x" }] }));
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toMatchObject({ param: "model" });
  });

  it("400 for image content on a text model", async () => {
    const res = await post(
      "/v1/chat/completions",
      chatBody({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:," } }] }] }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe("messages[0].content[0].type");
  });

  it("400 when the prompt is longer than the context", async () => {
    const res = await post(
      "/v1/completions",
      JSON.stringify({ model: "tiny-chat", prompt: "word ".repeat(3000), max_tokens: 2 }),
    );
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe("context_length_exceeded");
  });

  it("413 for a body over the limit", async () => {
    const res = await post("/v1/chat/completions", chatBody({ messages: [{ role: "user", content: "x".repeat(100 * 1024) }] }));
    expect(res.status).toBe(413);
    expect((await res.json()).error).toMatchObject({ type: "invalid_request_error", code: "request_too_large" });
  });

  it("415 for a body that is not JSON", async () => {
    const res = await post("/v1/chat/completions", "hello", { "content-type": "text/csv" });
    expect(res.status).toBe(415);
  });

  it("429 with Retry-After when the model's queue is full, and the SDK sees a RateLimitError", async () => {
    const sdk = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
    const stream = await sdk.chat.completions.create({
      model: "tiny-chat",
      messages: [{ role: "user", content: "long" }],
      max_tokens: 600,
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the first chunk: the only sequence is now busy

    const res = await post("/v1/chat/completions", chatBody());
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await res.json()).error).toMatchObject({ type: "rate_limit_error", code: "queue_full" });
    await expect(
      sdk.chat.completions.create({ model: "tiny-chat", messages: [{ role: "user", content: "x" }], max_tokens: 1 }),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);

    stream.controller.abort();
    // Once the first stream is gone, the model answers again.
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      status = (await post("/v1/chat/completions", chatBody())).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
  });
});

describe("model files that cannot be used", () => {
  it("skips files that are not GGUF or are cut off at start, and keeps serving", async () => {
    const res = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${server.key}` } });
    const ids = (await res.json()).data.map((m: { id: string }) => m.id);
    expect(ids).not.toContain("garbage");
    expect(ids).not.toContain("truncated");
    expect(ids).toContain("alien");
  });

  it("answers 500 model_load_failed for a GGUF llama.cpp cannot load, without taking the server down", async () => {
    const res = await post("/v1/chat/completions", chatBody({ model: "alien" }));
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.error).toMatchObject({ type: "server_error", code: "model_load_failed" });
    expect(body.error.message).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
    expect((await post("/v1/chat/completions", chatBody())).status).toBe(200);
  });
});

describe("server hygiene", () => {
  it("puts a request id on every response, and keeps a sane incoming one", async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{24}$/);
    const echoed = await fetch(`${server.url}/health`, { headers: { "x-request-id": "trace-123" } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-123");
  });

  it("refuses a foreign Host header (DNS rebinding)", async () => {
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(server.url);
      const req = request(
        { host: url.hostname, port: url.port, path: "/health", headers: { host: "evil.example:80" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
  });
});
