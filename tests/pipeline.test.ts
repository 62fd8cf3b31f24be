import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

// Every inference endpoint runs the one pipeline (http/pipeline.ts): whichever endpoint a
// request names, the key, the model route and the key's allowed routes are checked the
// same way, errors come in the caller's dialect, and usage is recorded the same way.

let server: TestServer;
let limited: { key: string; id: number };

beforeAll(async () => {
  server = await startTestServer({ parallel: 1 });
  const created = server.core.keys.create({ name: "only-chat", scopes: ["inference"], allowedRoutes: ["tiny-chat"] });
  limited = { key: created.key, id: created.record.id };
});

afterAll(async () => {
  await server?.stop();
});

type Body = (model: string) => { type: string; body: string };
const json =
  (extra: object): Body =>
  (model) => ({ type: "application/json", body: JSON.stringify({ model, ...extra }) });
const form: Body = (model) => {
  const boundary = "pipelineboundary";
  const body = `--${boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\n${model}\r\n--${boundary}--\r\n`;
  return { type: `multipart/form-data; boundary=${boundary}`, body };
};

const chat = { messages: [{ role: "user", content: "hi" }], max_tokens: 1 };
/** Every inference endpoint a client can name a model at (each request gets one usage row). */
const ENDPOINTS: Array<{ path: string; body: Body; anthropic?: boolean }> = [
  { path: "/v1/chat/completions", body: json(chat) },
  { path: "/v1/completions", body: json({ prompt: "hi", max_tokens: 1 }) },
  { path: "/v1/embeddings", body: json({ input: "hi" }) },
  { path: "/v1/messages", body: json(chat), anthropic: true },
  { path: "/v1/messages/count_tokens", body: json({ messages: chat.messages }), anthropic: true },
  { path: "/v1/responses", body: json({ input: "hi" }) },
  { path: "/v1/rerank", body: json({ query: "q", documents: ["d"] }) },
  { path: "/rerank", body: json({ query: "q", documents: ["d"] }) },
  { path: "/v2/rerank", body: json({ query: "q", documents: ["d"] }) },
  { path: "/v1/images/generations", body: json({ prompt: "a cat" }) },
  { path: "/v1/images/edits", body: form },
  { path: "/v1/audio/speech", body: json({ input: "hi" }) },
  { path: "/v1/audio/transcriptions", body: form },
  { path: "/v1/audio/translations", body: form },
];

function post(path: string, body: Body, model: string, key: string | null) {
  const { type, body: text } = body(model);
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": type, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: text,
  });
}

function expectDialect(anthropic: boolean | undefined, body: Record<string, unknown>, type: string) {
  if (anthropic) expect(body).toMatchObject({ type: "error", error: { type } });
  else expect((body.error as { type: string }).type).toBe(type);
}

describe("the inference pipeline, endpoint by endpoint", () => {
  it("answers 401 without a key, in the caller's dialect", async () => {
    for (const endpoint of ENDPOINTS) {
      const res = await post(endpoint.path, endpoint.body, "tiny-chat", null);
      expect([endpoint.path, res.status]).toEqual([endpoint.path, 401]);
      expectDialect(endpoint.anthropic, await res.json(), "authentication_error");
    }
  });

  it("answers 403 for a model route the key may not use, before any model work, and records it once", async () => {
    for (const endpoint of ENDPOINTS) {
      const before = server.core.usage.requests({ apiKeyId: limited.id, limit: 1000 }).total;
      const res = await post(endpoint.path, endpoint.body, "tiny-embed", limited.key);
      expect([endpoint.path, res.status]).toEqual([endpoint.path, 403]);
      expectDialect(endpoint.anthropic, await res.json(), "permission_error");
      const rows = server.core.usage.requests({ apiKeyId: limited.id, limit: 1000 });
      expect([endpoint.path, rows.total - before]).toEqual([endpoint.path, 1]);
      expect(rows.data[0]).toMatchObject({ route: "tiny-embed", status: 403, promptTokens: 0 });
    }
  });

  it("answers 404 for a model no route or local model has, with its usage row", async () => {
    for (const endpoint of ENDPOINTS) {
      const res = await post(endpoint.path, endpoint.body, "no-such-model", server.key);
      expect([endpoint.path, res.status]).toEqual([endpoint.path, 404]);
      expectDialect(endpoint.anthropic, await res.json(), "not_found_error");
    }
    const rows = server.core.usage.requests({ model: "no-such-model", limit: 1000 });
    expect(rows.total).toBe(ENDPOINTS.length);
  });

  it("records a request its dialect's parser refuses (400) like any other", async () => {
    const res = await post(
      "/v1/chat/completions",
      () => ({ type: "application/json", body: '{"model":"tiny-chat"}' }),
      "",
      server.key,
    );
    expect(res.status).toBe(400);
    const rows = server.core.usage.requests({ model: "tiny-chat", status: 400, limit: 10 });
    expect(rows.data[0]).toMatchObject({ operation: "chat", route: "tiny-chat", status: 400 });
  });

  it("refuses the generic proxy for a route the key may not use, with its usage row", async () => {
    const route = server.core.routes.create({
      name: "proxied",
      genericProxy: true,
      enabled: true,
      targets: [{ kind: "upstream", upstreamUrl: "http://127.0.0.1:9", fallback: false }],
    } as never);
    const res = await fetch(`${server.url}/model/proxy/${route.id}/v1/anything`, {
      headers: { authorization: `Bearer ${limited.key}` },
    });
    expect(res.status).toBe(403);
    const rows = server.core.usage.requests({ apiKeyId: limited.id, operation: "proxy", limit: 1 });
    expect(rows.data[0]).toMatchObject({ route: "proxied", status: 403 });
  });

  it("looks the model up by name once per request: the resolver hands the record to the engine", async () => {
    server.core.routes.create({ name: "alias-of-chat", targets: [{ kind: "model", modelId: "tiny-chat" }] });
    const lookups = vi.spyOn(server.core.models, "get");
    onTestFinished(() => lookups.mockRestore());
    for (const [path, model, body] of [
      ["/v1/chat/completions", "tiny-chat", json(chat)],
      ["/v1/chat/completions", "alias-of-chat", json(chat)],
      ["/v1/embeddings", "tiny-embed", json({ input: "hi" })],
      ["/v1/messages/count_tokens", "tiny-chat", json({ messages: chat.messages })],
    ] as const) {
      lookups.mockClear();
      const res = await post(path, body, model, server.key);
      expect(res.status, `${path} ${model}`).toBe(200);
      // One lookup of the model (for an alias: of its target), none by the engine.
      expect(
        lookups.mock.calls.map((c) => c[0]),
        `${path} ${model}`,
      ).toEqual([model === "alias-of-chat" ? "tiny-chat" : model]);
    }
  });
});
