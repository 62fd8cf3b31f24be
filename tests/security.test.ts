import { readFileSync } from "node:fs";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ parallel: 2, bodyLimit: 64 * 1024, corsOrigins: ["http://app.example"] });
});

afterAll(async () => {
  await server?.stop();
});

const chat = (model = "tiny-chat") => JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 });

function call(path: string, key: string | null, init: RequestInit = {}) {
  return fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(init.body ? { "content-type": "application/json" } : {}),
      ...(init.headers as Record<string, string>),
    },
  });
}

async function adminCreate(body: object) {
  const res = await call("/api/admin/keys", server.adminKey, { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as { key: string; id: number; maskedValue: string };
}

describe("API keys", () => {
  it("stores no plaintext key in the database file", async () => {
    const created = await adminCreate({ name: "secret-check", scopes: ["inference"] });
    server.core.db.pragma("wal_checkpoint(TRUNCATE)");
    const file = readFileSync(join(server.dir, "maas-base.sqlite"));
    const secret = created.key.split("_")[2] ?? "";
    expect(secret).toHaveLength(32);
    expect(file.includes(Buffer.from(secret))).toBe(false);
    expect(file.includes(Buffer.from(server.key))).toBe(false);
    expect(created.maskedValue).not.toContain(secret);
    const listed = await (await call("/api/admin/keys", server.adminKey)).json();
    expect(JSON.stringify(listed)).not.toContain(secret);
  });

  it("separates scopes: management-only keys cannot infer, inference keys cannot manage", async () => {
    expect((await call("/v1/models", server.adminKey)).status).toBe(403);
    expect((await call("/api/admin/keys", server.key)).status).toBe(403);
    const both = await adminCreate({ name: "both", scopes: ["inference", "management"] });
    expect((await call("/v1/models", both.key)).status).toBe(200);
    expect((await call("/api/admin/keys", both.key)).status).toBe(200);
  });

  it("revokes through the admin API at once, and expired keys get 401", async () => {
    const created = await adminCreate({ name: "to-revoke", scopes: ["inference"] });
    expect((await call("/v1/models", created.key)).status).toBe(200);
    const revoked = await call(`/api/admin/keys/${created.id}`, server.adminKey, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect((await call("/v1/models", created.key)).status).toBe(401);
    const expired = await adminCreate({ name: "expired", scopes: ["inference"], expiresAt: Date.now() - 1000 });
    expect((await call("/v1/models", expired.key)).status).toBe(401);
  });

  it("limits a key to its routes: 403 on another model, in each dialect", async () => {
    const limited = await adminCreate({ name: "only-chat", scopes: ["inference"], allowedRoutes: ["tiny-chat"] });
    expect((await call("/v1/chat/completions", limited.key, { method: "POST", body: chat() })).status).toBe(200);
    const other = await call("/v1/embeddings", limited.key, {
      method: "POST",
      body: JSON.stringify({ model: "tiny-embed", input: "x" }),
    });
    expect(other.status).toBe(403);
    expect((await other.json()).error.type).toBe("permission_error");
    const anthropic = new Anthropic({ apiKey: limited.key, baseURL: server.url, maxRetries: 0 });
    const denied = await anthropic.messages
      .create({ model: "tiny-embed", max_tokens: 1, messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    const models = await (await call("/v1/models", limited.key)).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(["tiny-chat"]);
  });

  it("enforces requests per minute with 429 and Retry-After, in the caller's dialect", async () => {
    const slow = await adminCreate({ name: "rpm", scopes: ["inference"], rpmLimit: 2 });
    expect((await call("/v1/models", slow.key)).status).toBe(200);
    expect((await call("/v1/models", slow.key)).status).toBe(200);
    const third = await call("/v1/models", slow.key);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await third.json()).error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
    const anthropic = await call("/v1/messages", slow.key, {
      method: "POST",
      body: JSON.stringify({ model: "tiny-chat", max_tokens: 1, messages: [{ role: "user", content: "x" }] }),
    });
    expect(anthropic.status).toBe(429);
    expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error" } });
  });

  it("enforces tokens per day from recorded usage", async () => {
    const small = await adminCreate({ name: "tpd", scopes: ["inference"], tokensPerDay: 5 });
    const first = await call("/v1/chat/completions", small.key, { method: "POST", body: chat() });
    expect(first.status).toBe(200);
    const second = await call("/v1/chat/completions", small.key, { method: "POST", body: chat() });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("accepts a strong custom key and refuses a weak one", async () => {
    const weak = await call("/api/admin/keys", server.adminKey, {
      method: "POST",
      body: JSON.stringify({ name: "weak", scopes: ["inference"], key: "password123" }),
    });
    expect(weak.status).toBe(400);
    expect((await weak.json()).error.message).toMatch(/too weak/);
    const custom = "My-Own-Key-For-Continue-2026!x";
    const created = await adminCreate({ name: "custom", scopes: ["inference"], key: custom });
    expect(created.key).toBe(custom);
    expect(created.maskedValue).not.toContain(custom.slice(6));
    expect((await call("/v1/models", custom)).status).toBe(200);
  });
});

describe("usage", () => {
  it("records rows and daily rollups that match the requests sent, with CSV export", async () => {
    const key = await adminCreate({ name: "metered", scopes: ["inference"] });
    const client = new OpenAI({ apiKey: key.key, baseURL: server.baseURL, maxRetries: 0 });
    const a = await client.chat.completions.create({
      model: "tiny-chat",
      messages: [{ role: "user", content: "a" }],
      max_tokens: 3,
    });
    const b = await client.embeddings.create({ model: "tiny-embed", input: ["x", "y"] });
    const anthropic = new Anthropic({ apiKey: key.key, baseURL: server.url, maxRetries: 0 });
    const c = await anthropic.messages.create({ model: "tiny-chat", max_tokens: 2, messages: [{ role: "user", content: "c" }] });

    const rows = await (await call(`/api/admin/usage/requests?keyId=${key.id}`, server.adminKey)).json();
    expect(rows.total).toBe(3);
    expect(rows.data.map((r: { operation: string }) => r.operation).sort()).toEqual(["chat", "embedding", "messages"]);
    const byOp = await (await call("/api/admin/usage?groupBy=key", server.adminKey)).json();
    const mine = byOp.data.find((r: { group: string }) => r.group === String(key.id));
    expect(mine.requests).toBe(3);
    // Anthropic's input_tokens leave out the prompt tokens read from the cache (cache_read_input_tokens).
    const cPrompt = c.usage.input_tokens + (c.usage.cache_read_input_tokens ?? 0);
    expect(mine.promptTokens).toBe((a.usage?.prompt_tokens ?? 0) + b.usage.prompt_tokens + cPrompt);
    expect(mine.completionTokens).toBe((a.usage?.completion_tokens ?? 0) + c.usage.output_tokens);

    const csv = await call(`/api/admin/usage/requests?keyId=${key.id}&format=csv`, server.adminKey);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toMatch(/^createdAt,requestId,apiKeyId,route,model,operation/);
    expect(lines).toHaveLength(4);
    const bad = await call("/api/admin/usage?groupBy=colour", server.adminKey);
    expect(bad.status).toBe(400);
    const series = await (await call("/api/admin/usage/series?groupBy=operation", server.adminKey)).json();
    const today = new Date().toISOString().slice(0, 10);
    const chat = series.data.find((r: { day: string; group: string }) => r.day === today && r.group === "chat");
    expect(chat.tokens).toBeGreaterThanOrEqual((a.usage?.prompt_tokens ?? 0) + (a.usage?.completion_tokens ?? 0));
  });

  it("serves Prometheus metrics to a management key, and its counters move", async () => {
    expect((await call("/metrics", server.key)).status).toBe(403);
    const before = await (await call("/metrics", server.adminKey)).text();
    await call("/v1/chat/completions", server.key, { method: "POST", body: chat() });
    // The engine process reports the sequence free a moment after the answer went out.
    let res = await call("/metrics", server.adminKey);
    let after = await res.text();
    await waitFor(async () => {
      res = await call("/metrics", server.adminKey);
      after = await res.text();
      return /^maas_active_sequences\{model="tiny-chat"\} 0$/m.test(after);
    }, 10_000);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const count = (text: string) =>
      Number(/maas_requests_total\{operation="chat",model="tiny-chat",status="200"\} (\d+)/.exec(text)?.[1] ?? 0);
    expect(count(after)).toBe(count(before) + 1);
    expect(after).toMatch(/^# TYPE maas_time_to_first_token_seconds histogram$/m);
    expect(after).toMatch(/^maas_loaded_models \d+$/m);
    expect(after).toMatch(/^maas_active_sequences\{model="tiny-chat"\} 0$/m);
    for (const line of after.split("\n")) {
      if (line && !line.startsWith("#")) {
        expect(line).toMatch(/^[a-zA-Z_:][\w:]*(\{.*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|NaN|Nan|[+-]Inf)$/);
      }
    }
  });
});

describe("server defaults", () => {
  it("refuses foreign Host headers and answers CORS only for configured origins", async () => {
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/v1/models`, {
        headers: { host: "evil.example", authorization: `Bearer ${server.key}` },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
    const allowed = await call("/v1/models", null, {
      method: "OPTIONS",
      headers: { origin: "http://app.example", "access-control-request-method": "POST" },
    });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const foreign = await call("/v1/models", server.key, { headers: { origin: "http://evil.example" } });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    // Streamed answers are written on the raw socket: they must keep the CORS headers too.
    const streamed = await call("/v1/chat/completions", server.key, {
      method: "POST",
      headers: { origin: "http://app.example", "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "x" }], max_tokens: 2, stream: true }),
    });
    expect(streamed.headers.get("content-type")).toMatch(/event-stream/);
    expect(streamed.headers.get("access-control-allow-origin")).toBe("http://app.example");
    await streamed.text();
  });

  it("answers oversized bodies with 413 in the caller's dialect", async () => {
    const big = "x".repeat(80 * 1024);
    const openai = await call("/v1/chat/completions", server.key, {
      method: "POST",
      body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: big }] }),
    });
    expect(openai.status).toBe(413);
    expect((await openai.json()).error.code).toBe("request_too_large");
    const anthropic = await call("/v1/messages", server.key, {
      method: "POST",
      body: JSON.stringify({ model: "tiny-chat", max_tokens: 1, messages: [{ role: "user", content: big }] }),
    });
    expect(anthropic.status).toBe(413);
    expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
  });

  it("refuses JSON nested too deeply, and oversized headers", async () => {
    const deep = `${"[".repeat(100)}${"]".repeat(100)}`;
    const res = await call("/v1/chat/completions", server.key, {
      method: "POST",
      body: `{"model":"tiny-chat","messages":${deep}}`,
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe("json_too_deep");
    const long = await call(`/v1/models?pad=${"a".repeat(20_000)}`, server.key);
    expect(long.status).toBe(431);
  });

  it("lets loopback clients in without a key only when the setting is on", async () => {
    expect((await call("/v1/models", null)).status).toBe(401);
    const open = await startTestServer({ allowLoopbackWithoutKey: true });
    try {
      const res = await fetch(`${open.url}/v1/models`);
      expect(res.status).toBe(200);
      expect((await fetch(`${open.url}/api/admin/keys`)).status).toBe(401);
    } finally {
      await open.stop();
    }
  });
});
