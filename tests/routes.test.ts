import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startTestServer, type TestServer, waitFor } from "./helpers/server.js";

/** Real upstream servers on loopback, each with one behaviour. */
const upstreams: Server[] = [];
const seen: Array<{ path: string; headers: IncomingMessage["headers"] }> = [];
let sseClosedEarly = false;
const largeBody = randomBytes(5 * 1024 * 1024);

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  upstreams.push(server);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let echo: string;
let sse: string;
let failing: string;
let hanging: string;
let large: string;
let refused: string;
let server: TestServer;
let remote: TestServer;

beforeAll(async () => {
  echo = await upstream(async (req, res) => {
    const body = await readAll(req);
    seen.push({ path: req.url ?? "", headers: req.headers });
    res.writeHead(200, { "content-type": "application/json", "x-upstream": "echo", connection: "keep-alive" });
    res.end(
      JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: body.toString("utf8"),
        usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
      }),
    );
  });
  sse = await upstream((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    let i = 0;
    const timer = setInterval(() => {
      if (i === 5) {
        clearInterval(timer);
        res.end("data: [DONE]\n\n");
        return;
      }
      res.write(`data: {"i":${i++}}\n\n`);
    }, 150);
    req.on("close", () => {
      if (i < 5) sseClosedEarly = true;
      clearInterval(timer);
    });
  });
  failing = await upstream((_req, res) => {
    res.writeHead(500, { "content-type": "application/json" }).end('{"error":"boom"}');
  });
  hanging = await upstream(() => {});
  large = await upstream((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(largeBody.length) });
    res.end(largeBody);
  });
  const closed = createServer();
  await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
  refused = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((ok) => closed.close(() => ok()));

  remote = await startTestServer({ parallel: 2 });
  server = await startTestServer({ parallel: 2, upstreamTimeoutMs: 500 });
});

afterAll(async () => {
  await server?.stop();
  await remote?.stop();
  for (const s of upstreams) {
    s.closeAllConnections();
    s.close();
  }
});

async function createRoute(body: object): Promise<{ id: number; name: string }> {
  const res = await fetch(`${server.url}/api/admin/routes`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 201) throw new Error(JSON.stringify(json));
  return json;
}

function call(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  return fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${server.key}`, ...init.headers },
  });
}

describe("routes", () => {
  it("gives every local model a route of its own name, with a stable id", async () => {
    const res = await fetch(`${server.url}/api/admin/routes`, { headers: { authorization: `Bearer ${server.adminKey}` } });
    const routes = (await res.json()).data as Array<{
      id: number;
      name: string;
      auto: boolean;
      targets: Array<{ kind: string }>;
    }>;
    const chat = routes.find((r) => r.name === "tiny-chat");
    expect(chat).toMatchObject({ auto: true, targets: [{ kind: "model" }] });
    const again = await (
      await fetch(`${server.url}/api/admin/routes`, { headers: { authorization: `Bearer ${server.adminKey}` } })
    ).json();
    expect(again.data.find((r: { name: string }) => r.name === "tiny-chat").id).toBe(chat?.id);
  });

  it("round-trips a route of three targets: a GET's route sent back as the PUT body changes nothing and keeps the key", async () => {
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${server.adminKey}`,
          ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
        },
      });
    const created = await createRoute({
      name: "three-ways",
      targets: [
        { kind: "model", modelId: "tiny-chat", weight: 5 },
        { kind: "upstream", upstreamUrl: echo, upstreamKey: "three-secret", upstreamModel: "far", fallback: true },
        { kind: "process", command: "llama-server --port {port}", weight: 2 },
      ],
    });
    const got = await (await admin(`/api/admin/routes`)).json();
    const route = got.data.find((r: { id: number }) => r.id === created.id);
    // The public shape: camelCase, the key only as `hasUpstreamKey`.
    expect(JSON.stringify(got)).not.toContain("three-secret");
    expect(route.targets.map((t: { hasUpstreamKey: boolean }) => t.hasUpstreamKey)).toEqual([false, true, false]);
    const put = await admin(`/api/admin/routes/${created.id}`, { method: "PUT", body: JSON.stringify(route) });
    expect(put.status).toBe(200);
    const after = await put.json();
    const strip = (r: { targets: Array<{ id: number }>; updatedAt: number }) => ({
      ...r,
      updatedAt: 0,
      targets: r.targets.map(({ id: _id, ...t }) => t),
    });
    expect(strip(after)).toEqual(strip(route));
    // The key is still the stored one: the fallback upstream gets it.
    const secrets = server.core.routes.secretTargets(created.id);
    expect(secrets.map((t) => t.upstream_key !== null)).toEqual([false, true, false]);
    // Errors name the camelCase field.
    const bad = await admin("/api/admin/routes", {
      method: "POST",
      body: JSON.stringify({ name: "bad", targets: [{ kind: "model", modelId: "no-such-model" }] }),
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ param: "targets[0].modelId" });
    const weight = await admin("/api/admin/routes", {
      method: "POST",
      body: JSON.stringify({ name: "bad", targets: [{ kind: "model", modelId: "tiny-chat", weight: 0 }] }),
    });
    expect((await weight.json()).error).toMatchObject({
      param: "targets[0].weight",
      message: expect.stringContaining("1 to 1000"),
    });
    // Gone with its process target (which the app started when the route was made).
    expect((await admin(`/api/admin/routes/${created.id}`, { method: "DELETE" })).status).toBe(200);
    await waitFor(async () => server.core.processes.status().length === 0, 10_000);
  });

  it("serves an alias of a local model (Claude Code's model names) in every dialect", async () => {
    await createRoute({ name: "claude-sonnet-4", targets: [{ kind: "model", modelId: "tiny-chat" }] });
    const anthropic = new Anthropic({ apiKey: server.key, baseURL: server.url, maxRetries: 0 });
    const message = await anthropic.messages.create({
      model: "claude-sonnet-4",
      max_tokens: 2,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(message.model).toBe("claude-sonnet-4");
    expect(message.usage.output_tokens).toBe(2);
    const openai = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
    const chat = await openai.chat.completions.create({
      model: "claude-sonnet-4",
      messages: [{ role: "user", content: "x" }],
      max_tokens: 1,
    });
    expect(chat.model).toBe("claude-sonnet-4");
  });

  it("forwards to another OpenAI-compatible server, streamed and not, with one key and usage on both sides", async () => {
    // The remote runs a real model (loading it on a loaded machine can take seconds): this test is about
    // forwarding, not about the 500 ms timeout the 504 test below needs, so it gets a generous one.
    server.core.options.upstreamTimeoutMs = 60_000;
    onTestFinished(() => {
      server.core.options.upstreamTimeoutMs = 500;
    });
    await createRoute({
      name: "remote-chat",
      targets: [{ kind: "upstream", upstreamUrl: `${remote.url}/v1`, upstreamKey: remote.key, upstreamModel: "tiny-chat" }],
    });
    const openai = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
    const answer = await openai.chat.completions.create({
      model: "remote-chat",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    expect(answer.usage?.completion_tokens).toBe(3);
    const stream = await openai.chat.completions.create({
      model: "remote-chat",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage = 0;
    for await (const chunk of stream) usage = chunk.usage?.completion_tokens ?? usage;
    expect(usage).toBe(3);
    const rows = server.core.usage.requests({ model: "tiny-chat" }).data.filter((r) => r.route === "remote-chat");
    expect(rows.map((r) => r.completionTokens)).toEqual([3, 3]);
    expect(remote.core.usage.requests({ model: "tiny-chat" }).total).toBeGreaterThanOrEqual(2);
  });

  it("falls back to the fallback target when the primary upstream fails", async () => {
    await createRoute({
      name: "with-fallback",
      targets: [
        { kind: "upstream", upstreamUrl: failing },
        { kind: "upstream", upstreamUrl: echo, fallback: true },
      ],
    });
    const res = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "with-fallback", messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-upstream")).toBe("echo");
  });

  it("answers 502 for a refused upstream and 504 for one that hangs", async () => {
    await createRoute({ name: "refused", targets: [{ kind: "upstream", upstreamUrl: refused }] });
    await createRoute({ name: "hangs", targets: [{ kind: "upstream", upstreamUrl: hanging }] });
    const body = (model: string) => JSON.stringify({ model, messages: [{ role: "user", content: "x" }] });
    const bad = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body("refused"),
    });
    expect(bad.status).toBe(502);
    expect((await bad.json()).error.code).toBe("upstream_unavailable");
    const slow = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body("hangs"),
    });
    expect(slow.status).toBe(504);
  });

  it("refuses images and audio for a local model, naming what it serves", async () => {
    const res = await call("/v1/images/generations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-chat", prompt: "a cat" }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/not image generation/);
  });

  it("forwards a multipart transcription to an upstream route", async () => {
    await createRoute({ name: "whisper", targets: [{ kind: "upstream", upstreamUrl: echo }] });
    const form = new FormData();
    form.append("model", "whisper");
    form.append("file", new Blob([Buffer.from("RIFF fake audio")]), "a.wav");
    const res = await call("/v1/audio/transcriptions", { method: "POST", body: form });
    expect(res.status).toBe(200);
    const echoed = await res.json();
    expect(echoed.url).toBe("/v1/audio/transcriptions");
    expect(echoed.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    expect(echoed.body).toContain("RIFF fake audio");
  });
});

describe("generic proxy", () => {
  let echoRoute: { id: number };
  beforeAll(async () => {
    echoRoute = await createRoute({
      name: "echo",
      genericProxy: true,
      targets: [{ kind: "upstream", upstreamUrl: echo, upstreamKey: "up-secret" }],
    });
  });

  it("forwards method, path, query, body and headers, swapping the caller's key for the upstream's", async () => {
    const res = await call(`/model/proxy/${echoRoute.id}/some/path?x=1&y=two`, {
      method: "PUT",
      headers: {
        "content-type": "text/plain",
        "x-custom": "kept",
        "x-gpustack-model": "echo",
        "proxy-authorization": "Basic nope",
        cookie: "session=1",
      },
      body: "hello upstream",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-upstream")).toBe("echo");
    const echoed = await res.json();
    expect(echoed).toMatchObject({ method: "PUT", url: "/some/path?x=1&y=two", body: "hello upstream" });
    expect(echoed.headers.authorization).toBe("Bearer up-secret");
    expect(echoed.headers["x-custom"]).toBe("kept");
    for (const name of ["x-gpustack-model", "proxy-authorization", "cookie", "x-api-key"])
      expect(echoed.headers[name]).toBeUndefined();
    expect(echoed.headers["x-request-id"]).toBe(res.headers.get("x-request-id"));
  });

  it("serves the deprecated header form (header beats body, GET without a body works) with a Deprecation header", async () => {
    await createRoute({ name: "other", genericProxy: true, targets: [{ kind: "upstream", upstreamUrl: large }] });
    const viaHeader = await call("/model/proxy/v1/things?z=9", { headers: { "x-gpustack-model": "echo" } });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.headers.get("deprecation")).toBe("true");
    expect((await viaHeader.json()).url).toBe("/v1/things?z=9");
    const viaBody = await call("/model/proxy/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "echo", messages: [] }),
    });
    expect((await viaBody.json()).url).toBe("/v1/chat/completions");
    const both = await call("/model/proxy/v1/x", {
      method: "POST",
      headers: { "content-type": "application/json", "x-gpustack-model": "echo" },
      body: JSON.stringify({ model: "other" }),
    });
    expect(both.headers.get("x-upstream")).toBe("echo");
  });

  it("streams SSE through without buffering and closes the upstream when the client leaves", async () => {
    const route = await createRoute({ name: "sse", genericProxy: true, targets: [{ kind: "upstream", upstreamUrl: sse }] });
    const started = performance.now();
    const res = await call(`/model/proxy/${route.id}/events`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('{"i":0}');
    expect(performance.now() - started).toBeLessThan(600); // all five would take 750 ms
    await reader.cancel();
    expect(await waitFor(() => sseClosedEarly, 3000)).toBe(true);
  });

  it("passes a large body through intact", async () => {
    const route = await createRoute({ name: "large", genericProxy: true, targets: [{ kind: "upstream", upstreamUrl: large }] });
    const res = await call(`/model/proxy/${route.id}/file.bin`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(createHash("sha256").update(body).digest("hex")).toBe(createHash("sha256").update(largeBody).digest("hex"));
  });

  it("is no open relay: only generic-proxy routes, unknown ids 404, keys still needed", async () => {
    const plain = await createRoute({ name: "plain", targets: [{ kind: "upstream", upstreamUrl: echo }] });
    expect((await call(`/model/proxy/${plain.id}/x`)).status).toBe(404);
    expect((await call("/model/proxy/999999/x")).status).toBe(404);
    expect((await fetch(`${server.url}/model/proxy/${echoRoute.id}/x`)).status).toBe(401);
    const limited = server.core.keys.create({ name: "only-chat", scopes: ["inference"], allowedRoutes: ["tiny-chat"] }).key;
    const denied = await fetch(`${server.url}/model/proxy/${echoRoute.id}/x`, {
      headers: { authorization: `Bearer ${limited}` },
    });
    expect(denied.status).toBe(403);
  });

  it("records usage for proxied requests with bytes and the upstream's token usage", async () => {
    const before = server.core.usage.requests({ operation: "proxy" }).total;
    await call(`/model/proxy/${echoRoute.id}/v1/anything`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    const rows = server.core.usage.requests({ operation: "proxy" });
    expect(rows.total).toBe(before + 1);
    expect(rows.data[0]).toMatchObject({ route: "echo", status: 200, promptTokens: 11, completionTokens: 7 });
    expect(rows.data[0]?.bytesOut).toBeGreaterThan(100);
    expect(rows.data[0]?.bytesIn).toBe(2);
  });
});

describe("managed processes", () => {
  it("starts a route's command on a free port, proxies to it, and restarts it when it dies", async () => {
    const script = `require('http').createServer((q,s)=>s.end(JSON.stringify({pid:process.pid,url:q.url}))).listen(Number(process.argv[1]),'127.0.0.1')`;
    const route = await createRoute({
      name: "managed",
      genericProxy: true,
      targets: [{ kind: "process", command: `${JSON.stringify(process.execPath)} -e ${JSON.stringify(script)} {port}` }],
    });
    const first = await (await call(`/model/proxy/${route.id}/hello`)).json();
    expect(first.url).toBe("/hello");
    process.kill(first.pid, "SIGKILL");
    let second: { pid: number } | null = null;
    await waitFor(async () => {
      const res = await call(`/model/proxy/${route.id}/again`);
      if (res.status !== 200) return false;
      second = await res.json();
      return true;
    }, 10_000);
    expect(second).not.toBeNull();
    expect((second as unknown as { pid: number }).pid).not.toBe(first.pid);
    const status = await (
      await fetch(`${server.url}/api/admin/processes`, { headers: { authorization: `Bearer ${server.adminKey}` } })
    ).json();
    expect(status.data[0]).toMatchObject({ state: "ready", restarts: 1 });
  });
});
