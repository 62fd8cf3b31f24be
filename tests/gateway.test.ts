import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

/**
 * The gateway under attack (issue 19): the real server, raw sockets where the attack
 * needs them, and real upstream servers on loopback that record what they receive.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
}
const seen: Seen[] = [];
const servers: Server[] = [];
let recorder: string;
let stalls = 0;
let server: TestServer;
const UPSTREAM_KEY = "sk-PAID-UPSTREAM";

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  recorder = await listen(
    createServer((req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
      if (req.url?.includes("stall")) stalls++;
      req.resume();
      req.on("end", () => {
        res.writeHead(200, {
          "content-type": "application/json",
          connection: "x-upstream-hop, keep-alive",
          "x-upstream-hop": "secret-hop",
          "x-upstream-ok": "kept",
          "set-cookie": "session=upstream; Path=/",
          "access-control-allow-origin": "*",
          "access-control-allow-credentials": "true",
        });
        res.end(JSON.stringify({ ok: true, usage: { prompt_tokens: 1, completion_tokens: 1 } }));
      });
    }),
  );
  server = await startTestServer({
    allowLoopbackWithoutKey: true,
    upstreamConcurrencyPerRoute: 4,
    requestBodyIdleTimeoutMs: 5000,
    headersTimeoutMs: 1000,
    requestTimeoutMs: 3000,
    keepAliveTimeoutMs: 500,
  });
});

afterAll(async () => {
  await server?.stop();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function createRoute(body: object): Promise<Response> {
  return fetch(`${server.url}/api/admin/routes`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function proxyRoute(name: string, upstream = `${recorder}/base/v1`, key = UPSTREAM_KEY): Promise<number> {
  const res = await createRoute({
    name,
    genericProxy: true,
    targets: [{ kind: "upstream", upstreamUrl: upstream, upstreamKey: key }],
  });
  const json = await res.json();
  if (res.status !== 201) throw new Error(JSON.stringify(json));
  return json.id as number;
}

/** One request with the path exactly as given (no client-side normalisation, like `curl --path-as-is`). */
function raw(
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: IncomingMessage["headers"]; body: string }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers ?? {} },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += String(d);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Resolves with how long until the server closes a raw socket that sent `bytes`. */
function closedAfter(bytes: string): Promise<number> {
  const { port } = new URL(server.url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(port), "127.0.0.1", () => {
      if (bytes) socket.write(bytes);
    });
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => resolve(Date.now() - started));
    setTimeout(() => {
      socket.destroy();
      resolve(Number.POSITIVE_INFINITY);
    }, 15_000).unref();
  });
}

describe("proxy confinement", () => {
  it("keeps every forwarded path under the route's base path: dot segments and their encodings get 400", async () => {
    const id = await proxyRoute("confined");
    const before = seen.length;
    for (const trick of [
      "../../etc",
      "%2e%2e/%2e%2e/etc",
      "%2E%2E/%2E%2E/etc",
      "..%2f..%2fetc",
      "%252e%252e/%252e%252e/etc",
      "v1/../../etc",
      "..\\..\\etc",
      "%5c..%5c..%5cetc",
      "a/%2e%2e/%2e%2e/%2e%2e/etc",
    ]) {
      const res = await raw(`/model/proxy/${id}/${trick}`, { headers: { authorization: `Bearer ${server.key}` } });
      expect(res.status, trick).toBe(400);
      expect(JSON.parse(res.body).error.code, trick).toBe("invalid_proxy_path");
    }
    // The deprecated form is confined the same way.
    const named = await raw("/model/proxy/../../etc", { headers: { "x-gpustack-model": "confined" } });
    expect(named.status).toBe(400);
    expect(seen.length).toBe(before);
    // Dot segments that stay inside are resolved before forwarding.
    const inside = await raw(`/model/proxy/${id}/chat/%2e%2e/models?x=1`, { headers: { authorization: `Bearer ${server.key}` } });
    expect(inside.status).toBe(200);
    expect(seen.at(-1)?.url).toBe("/base/v1/models?x=1");
    expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it("forwards only the methods an API uses: TRACE, CONNECT-style and WebDAV verbs never reach the upstream", async () => {
    const id = await proxyRoute("methods");
    const before = seen.length;
    for (const method of ["TRACE", "PROPFIND", "MKCOL"]) {
      const res = await raw(`/model/proxy/${id}/x`, { method, headers: { authorization: `Bearer ${server.key}` } });
      expect([404, 405], method).toContain(res.status);
    }
    expect(seen.length).toBe(before);
    for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const res = await raw(`/model/proxy/${id}/x`, { method, headers: { authorization: `Bearer ${server.key}` } });
      expect(res.status, method).toBe(200);
    }
    expect(seen.slice(before).map((s) => s.method)).toEqual(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
  });

  it("drops hop-by-hop headers both ways, and the upstream's cookies and CORS headers", async () => {
    const id = await proxyRoute("headers");
    const res = await raw(`/model/proxy/${id}/x`, {
      headers: {
        authorization: `Bearer ${server.key}`,
        connection: "x-caller-hop, keep-alive",
        "x-caller-hop": "secret",
        "x-caller-ok": "kept",
        te: "trailers",
        cookie: "ours=1",
      },
    });
    expect(res.status).toBe(200);
    const got = seen.at(-1)?.headers ?? {};
    expect(got["x-caller-hop"]).toBeUndefined();
    expect(got.te).toBeUndefined();
    expect(got.cookie).toBeUndefined();
    expect(got["x-caller-ok"]).toBe("kept");
    expect(got.via).toMatch(/^1\.1 maas-base-[0-9a-f]+$/);
    expect(res.headers["x-upstream-hop"]).toBeUndefined();
    expect(res.headers["x-upstream-ok"]).toBe("kept");
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
  });

  it("refuses routes that point at this server, and stops a loop through another proxy with 508", async () => {
    const { port } = new URL(server.url);
    for (const upstream of [
      `${server.url}/model/proxy/1`,
      `http://localhost:${port}/v1`,
      `http://[::1]:${port}`,
      `http://127.0.0.2:${port}`,
    ]) {
      const res = await createRoute({ name: `self-${seen.length}`, targets: [{ kind: "upstream", upstreamUrl: upstream }] });
      expect(res.status, upstream).toBe(400);
      expect((await res.json()).error.code).toBe("upstream_is_self");
    }
    // A relay on loopback that sends everything back to our proxy: the loop the creation check cannot see.
    let relayed = 0;
    let loopId = 0;
    const relay = await listen(
      createServer((req, res) => {
        relayed++;
        const back = httpRequest(
          { host: "127.0.0.1", port, method: req.method, path: `/model/proxy/${loopId}/again`, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        req.pipe(back);
      }),
    );
    // The route's stored key is this server's own key: without the Via check every hop would pass.
    loopId = await proxyRoute("loop", relay, server.key);
    const rowsBefore = server.core.usage.requests({ limit: 1 }).total;
    const res = await raw(`/model/proxy/${loopId}/start`, { headers: { authorization: `Bearer ${server.key}` } });
    expect(res.status).toBe(508);
    expect(JSON.parse(res.body).error.code).toBe("proxy_loop");
    expect(relayed).toBe(1);
    // Two requests reached this server, each logged once: the client's, and the relayed one refused with 508.
    expect(server.core.usage.requests({ limit: 1 }).total - rowsBefore).toBe(2);
  });

  it("refuses link-local and metadata upstreams at creation, in every spelling (nothing is sent)", async () => {
    for (const upstream of [
      "http://169.254.169.254/latest",
      "http://[::ffff:169.254.169.254]/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://[fd00:ec2::254]/",
      "http://[fe80::1]:8080/",
      "http://[64:ff9b::169.254.169.254]/",
      "http://2852039166/",
      "http://0xa9.0xfe.0xa9.0xfe/",
      "http://metadata.google.internal/computeMetadata/v1",
    ]) {
      const res = await createRoute({ name: "metadata", targets: [{ kind: "upstream", upstreamUrl: upstream }] });
      expect(res.status, upstream).toBe(400);
      expect((await res.json()).error.code, upstream).toBe("upstream_not_allowed");
    }
    // LAN and loopback upstreams (a local llama-server) stay allowed.
    expect(
      (await createRoute({ name: "lan", targets: [{ kind: "upstream", upstreamUrl: "http://192.168.1.20:8080/v1" }] })).status,
    ).toBe(201);
  });

  it("does not let stalled uploads starve a route: small bodies are read first, streamed ones time out and free their slot", async () => {
    const id = await proxyRoute("stalled");
    const { port } = new URL(server.url);
    const head = (length: string) =>
      `POST /model/proxy/${id}/stall HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${server.key}\r\n` +
      `Content-Type: application/json\r\n${length}\r\n{"`;
    // 256 uploads that promise 1000 bytes and send 2.
    let closedSoFar = 0;
    const small = Array.from({ length: 256 }, () =>
      closedAfter(head("Content-Length: 1000\r\n")).then((ms) => {
        closedSoFar++;
        return ms;
      }),
    );
    await new Promise((r) => setTimeout(r, 200));

    const ok = await raw(`/model/proxy/${id}/ok`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}` },
      body: "{}",
    });
    expect(ok.status).toBe(200);
    // Answered while all 256 still hang: the idle timeout (5 s) has freed none of them.
    expect(closedSoFar).toBe(0);
    expect(stalls).toBe(0); // none of them reached the upstream
    const closed = await Promise.all(small);
    expect(Math.max(...closed)).toBeLessThan(12_000);
    // Chunked uploads stream (they take a slot); the per-route limit answers 429 at once, the idle timeout frees them.
    const chunked = Array.from({ length: 4 }, () => closedAfter(head("Transfer-Encoding: chunked\r\n\r\n2")));
    await new Promise((r) => setTimeout(r, 300));
    const busy = await raw(`/model/proxy/${id}/ok`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}` },
      body: "{}",
    });
    expect(busy.status).toBe(429);
    expect(JSON.parse(busy.body).error.code).toBe("route_busy");
    await Promise.all(chunked);
    const after = await raw(`/model/proxy/${id}/ok`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}` },
      body: "{}",
    });
    expect(after.status).toBe(200);
  });
});

describe("cross-site requests", () => {
  it("keyless mode: a web page's text/plain or form POST to the proxy and images endpoint never reaches the upstream", async () => {
    const id = await proxyRoute("paid");
    await createRoute({
      name: "paid-images",
      targets: [{ kind: "upstream", upstreamUrl: `${recorder}/v1`, upstreamKey: UPSTREAM_KEY }],
    });
    const before = seen.length;
    for (const headers of <Array<Record<string, string>>>[
      { origin: "http://evil.example", "content-type": "text/plain" },
      { "sec-fetch-site": "cross-site", "content-type": "text/plain" },
      { origin: "http://localhost:3000", "sec-fetch-site": "same-site", "content-type": "text/plain" },
      { origin: "null", "content-type": "application/x-www-form-urlencoded" },
    ]) {
      const proxied = await raw(`/model/proxy/${id}/chat/completions`, { method: "POST", headers, body: '{"model":"x"}' });
      expect(proxied.status).toBe(403);
      expect(JSON.parse(proxied.body).error.code).toBe("cross_site_request");
      const images = await raw("/v1/images/generations", { method: "POST", headers, body: '{"model":"paid-images"}' });
      expect(images.status).toBe(403);
      // A GET through the proxy forwards too.
      expect((await raw(`/model/proxy/${id}/models`, { headers })).status).toBe(403);
    }
    expect(seen.length).toBe(before);
    // The engine and the admin API refuse the same pages.
    const chat = await raw("/v1/chat/completions", {
      method: "POST",
      headers: { origin: "http://evil.example", "content-type": "application/json" },
      body: '{"model":"tiny-chat","messages":[{"role":"user","content":"x"}],"max_tokens":1}',
    });
    expect(chat.status).toBe(403);
    const admin = await raw("/api/admin/keys", {
      method: "POST",
      headers: { origin: "http://evil.example", authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
      body: '{"name":"x"}',
    });
    expect(admin.status).toBe(403);
  });

  it("non-JSON bodies are refused where JSON is expected (415), with or without a key", async () => {
    const chat = await raw("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: `Bearer ${server.key}` },
      body: '{"model":"tiny-chat","messages":[{"role":"user","content":"x"}],"max_tokens":1}',
    });
    expect(chat.status).toBe(415);
    const images = await raw("/v1/images/generations", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: '{"model":"paid-images"}',
    });
    expect(images.status).toBe(415);
  });

  it("keyless mode still forwards same-origin browser requests and non-browser clients", async () => {
    const id = await proxyRoute("keyless-ok");
    const own = new URL(server.url).host;
    const same = await raw(`/model/proxy/${id}/models`, {
      headers: { origin: `http://${own}`, "sec-fetch-site": "same-origin" },
    });
    expect(same.status).toBe(200);
    expect(seen.at(-1)?.headers.origin).toBeUndefined();
    const curl = await raw(`/model/proxy/${id}/models`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hi",
    });
    expect(curl.status).toBe(200);
    expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });
});

describe("timeouts and Host parsing", () => {
  it("closes half-open requests: no bytes, partial headers, partial bodies, idle keep-alive", async () => {
    const { port } = new URL(server.url);
    const results = await Promise.all([
      closedAfter(""),
      closedAfter("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
      closedAfter(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mo`,
      ),
      closedAfter(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`),
    ]);
    const [none, partialHeaders, partialBody, keepAlive] = results;
    // headers 1 s, whole request 3 s, keep-alive 0.5 s (each checked every 250 ms).
    expect(none).toBeLessThan(4000);
    expect(partialHeaders).toBeLessThan(4000);
    expect(partialBody).toBeLessThan(5000);
    expect(keepAlive).toBeLessThan(2000);
  });

  it("refuses Host values that are not a hostname and a port", async () => {
    const { port } = new URL(server.url);
    for (const host of [`[::1].evil.com`, `[::1]evil.com:80`, `localhost:${port}@evil.com`, "localhost:99999", "[evil.com]"]) {
      const res = await raw("/v1/models", { headers: { host, authorization: `Bearer ${server.key}` } });
      expect(res.status, host).toBe(403);
    }
    expect((await raw("/v1/models", { headers: { host: `[::1]:${port}`, authorization: `Bearer ${server.key}` } })).status).toBe(
      200,
    );
  });
});
