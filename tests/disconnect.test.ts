import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer, waitFor } from "./helpers/server.js";

let server: TestServer;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  server = await startTestServer({ logger: pino({ level: "info" }, sink) });
});

afterAll(async () => {
  await server?.stop();
});

const requestLines = (url: string) => lines.filter((l) => l.msg === "request" && l.url === url);

async function cutAfterFirstChunk(path: string, body: object): Promise<void> {
  const controller = new AbortController();
  const res = await fetch(`${server.baseURL}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  const reader = res.body?.getReader();
  await reader?.read();
  controller.abort();
}

describe("a client that disconnects", () => {
  it("leaves a request log line with status 499 and the tokens so far, like its usage row", async () => {
    await cutAfterFirstChunk("/chat/completions", {
      model: "tiny-chat",
      messages: [{ role: "user", content: "Tell a long story" }],
      max_tokens: 900,
      stream: true,
    });
    expect(await waitFor(() => requestLines("/v1/chat/completions").length > 0, 5000)).toBe(true);
    const [line] = requestLines("/v1/chat/completions");
    expect(line).toMatchObject({ status: 499, model: "tiny-chat", keyId: expect.any(Number) });
    expect(line?.promptTokens).toBeGreaterThan(0);
    expect(server.core.usage.requests({ operation: "chat", limit: 1 }).data[0]?.status).toBe(499);
  });

  it("logs a cut Responses stream and a cut non-streamed request once each", async () => {
    await cutAfterFirstChunk("/responses", {
      model: "tiny-chat",
      input: "Tell a long story",
      max_output_tokens: 900,
      stream: true,
    });
    const controller = new AbortController();
    const pending = fetch(`${server.baseURL}/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-chat", prompt: "Once", max_tokens: 900 }),
      signal: controller.signal,
    }).catch(() => null);
    setTimeout(() => controller.abort(), 300);
    await pending;
    expect(
      await waitFor(() => requestLines("/v1/responses").length > 0 && requestLines("/v1/completions").length > 0, 5000),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(requestLines("/v1/responses").map((l) => l.status)).toEqual([499]);
    expect(requestLines("/v1/completions").map((l) => l.status)).toEqual([499]);
  });
});
