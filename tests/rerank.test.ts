import { join } from "node:path";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ parallel: 2 });
});

afterAll(async () => {
  await server?.stop();
});

const query = "what colour is the sky";
const documents = [
  "the sky is blue",
  "the sea is green",
  "a red apple on the table",
  "paris is the capital of france",
  "blue sky, blue sea",
  "cats and dogs",
];

async function post(path: string, body: unknown, key = server.key) {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> & { results: never[] } };
}

describe("rerank", () => {
  it("ranks like node-llama-cpp ranking each document on its own (golden)", async () => {
    const res = await post("/v1/rerank", { model: "tiny-rerank", query, documents });
    expect(res.status).toBe(200);
    const results = res.body.results as Array<{ index: number; relevance_score: number; document: { text: string } }>;
    expect(results).toHaveLength(documents.length);
    for (const r of results) expect(r.document.text).toBe(documents[r.index]);

    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1 });
    try {
      const model = await llama.loadModel({ modelPath: join(server.dir, "models", "tiny-rerank.gguf") });
      const context = await model.createRankingContext({ threads: 1 });
      const direct: number[] = [];
      for (const d of documents) direct.push(await context.rank(query, d));
      const directOrder = direct.map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score);
      expect(results.map((r) => r.index)).toEqual(directOrder.map((d) => d.index));
      for (const r of results) expect(r.relevance_score).toBeCloseTo(direct[r.index] ?? Number.NaN, 5);
    } finally {
      await llama.dispose();
    }
    const scores = results.map((r) => r.relevance_score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(new Set(scores).size).toBeGreaterThan(1);
    const usage = res.body.usage as { prompt_tokens: number; total_tokens: number };
    expect(usage.prompt_tokens).toBeGreaterThan(documents.length * 3);
    expect(usage.total_tokens).toBe(usage.prompt_tokens);
  });

  it("serves /rerank and Cohere's /v2/rerank, with top_n and return_documents", async () => {
    const top = await post("/rerank", { model: "tiny-rerank", query, documents, top_n: 2, return_documents: false });
    expect(top.body.results).toHaveLength(2);
    expect(top.body.results[0]).not.toHaveProperty("document");
    const all = await post("/v1/rerank", {
      model: "tiny-rerank",
      query,
      documents: documents.map((text) => ({ text })),
      top_n: 99,
    });
    expect(all.body.results).toHaveLength(documents.length);
    const cohere = await post("/v2/rerank", { model: "tiny-rerank", query, documents, top_n: 3 });
    expect(cohere.status).toBe(200);
    expect(cohere.body.id).toBeTypeOf("string");
    expect(cohere.body.results).toHaveLength(3);
    expect(cohere.body.results[0]).toEqual({ index: expect.any(Number), relevance_score: expect.any(Number) });
    expect(cohere.body.meta).toMatchObject({ api_version: { version: "2" } });
    expect(cohere.body.results.map((r: { index: number }) => r.index)).toEqual(
      all.body.results.slice(0, 3).map((r: { index: number }) => r.index),
    );
  });

  it("ranks 64 documents across the model's contexts", async () => {
    const many = Array.from({ length: 64 }, (_, i) => `${documents[i % documents.length]} ${i}`);
    const res = await post("/v1/rerank", { model: "tiny-rerank", query, documents: many, return_documents: false });
    expect(res.status).toBe(200);
    expect(new Set(res.body.results.map((r: { index: number }) => r.index)).size).toBe(64);
  });

  it("cuts a document longer than the context and says so in a header", async () => {
    const long = "the sky is blue and the sea is green ".repeat(200);
    const res = await post("/v1/rerank", { model: "tiny-rerank", query, documents: ["short one", long] });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-maas-truncated-documents")).toBe("1");
    expect(res.body.results).toHaveLength(2);
  });

  it("answers bad requests in the OpenAI error shape", async () => {
    const empty = await post("/v1/rerank", { model: "tiny-rerank", query, documents: [] });
    expect([empty.status, (empty.body.error as { param: string }).param]).toEqual([400, "documents"]);
    const nonString = await post("/v1/rerank", { model: "tiny-rerank", query, documents: ["a", 5] });
    expect([nonString.status, (nonString.body.error as { param: string }).param]).toEqual([400, "documents[1]"]);
    const noQuery = await post("/v1/rerank", { model: "tiny-rerank", documents: ["a"] });
    expect([noQuery.status, (noQuery.body.error as { param: string }).param]).toEqual([400, "query"]);
    const unknown = await post("/v1/rerank", { model: "nope", query, documents });
    expect(unknown.status).toBe(404);
    const chat = await post("/v1/rerank", { model: "tiny-chat", query, documents });
    expect(chat.status).toBe(400);
    expect((chat.body.error as { message: string }).message).toMatch(/does not support reranking/);
    const noKey = await post("/v1/rerank", { model: "tiny-rerank", query, documents }, "mb_bad_bad");
    expect(noKey.status).toBe(401);
  });

  it("records usage rows for rerank", async () => {
    const res = await fetch(`${server.url}/api/admin/usage/requests?limit=50`, {
      headers: { authorization: `Bearer ${server.adminKey}` },
    });
    const rows = ((await res.json()) as { data: Array<{ operation: string; status: number }> }).data;
    expect(rows.some((r) => r.operation === "rerank" && r.status === 200)).toBe(true);
    expect(rows.some((r) => r.operation === "rerank" && r.status === 404)).toBe(true);
  });
});

describe("embeddings in parallel", () => {
  it("embeds a batch of 32 inputs with the same vectors as one at a time", async () => {
    const client = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
    const inputs = Array.from({ length: 32 }, (_, i) => `the cat ${i} sat on the mat`);
    const batch = await client.embeddings.create({ model: "tiny-embed", input: inputs, encoding_format: "float" });
    expect(batch.data.map((d) => d.index)).toEqual(inputs.map((_, i) => i));
    for (const i of [0, 17, 31]) {
      const one = await client.embeddings.create({ model: "tiny-embed", input: inputs[i] ?? "", encoding_format: "float" });
      (one.data[0]?.embedding ?? []).forEach((v, j) => {
        expect(batch.data[i]?.embedding[j]).toBeCloseTo(v, 5);
      });
    }
  });
});
