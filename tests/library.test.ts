import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DownloadInfo } from "../src-main/core/domain/downloads.js";
import { writeFixtureModels, writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { FakeHub } from "./helpers/fakeHub.js";
import { engineStats, startTestServer, type TestServer, waitFor } from "./helpers/server.js";

const hub = new FakeHub();
const source = mkdtempSync(join(tmpdir(), "maas-hub-"));
let fixtures: ReturnType<typeof writeFixtureModels>;
let hubChat: string;
let server: TestServer;

beforeAll(async () => {
  fixtures = writeFixtureModels(source);
  // A few megabytes, so throttled downloads take long enough to watch, cut and cancel.
  hubChat = join(source, "hub-chat.gguf");
  writeTinyLlama(hubChat, { layers: 4, embedding: 256, heads: 4, feedForward: 512, type: "f16", seed: 5 });
  hub.addRepo("acme/tiny-GGUF", [
    { path: "tiny-q8_0.gguf", file: hubChat },
    { path: "sub/tiny-embed-F16.gguf", file: fixtures.embed },
  ]);
  hub.addRepo("acme/liar-GGUF", [{ path: "liar-Q4_K_M.gguf", file: fixtures.chat, reportedSha256: "0".repeat(64) }]);
  hub.addRepo("acme/huge-GGUF", [{ path: "huge-Q4_K_M.gguf", file: fixtures.chat, reportedSize: 2 ** 53 }]);
  await hub.start();
  server = await startTestServer({ parallel: 2, hfEndpoint: hub.url });
});

afterAll(async () => {
  await server?.stop();
  await hub.stop();
  rmSync(source, { recursive: true, force: true });
});

function admin(path: string, init: RequestInit = {}) {
  return fetch(`${server.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${server.adminKey}`,
      ...(init.body ? { "content-type": "application/json" } : {}),
    },
  });
}

async function pull(ref: string): Promise<DownloadInfo> {
  const res = await admin("/api/admin/downloads", { method: "POST", body: JSON.stringify({ ref }) });
  const body = await res.json();
  if (res.status !== 202) throw new Error(`${res.status}: ${JSON.stringify(body)}`);
  return body as DownloadInfo;
}

async function settled(id: string, ms = 30_000): Promise<DownloadInfo> {
  let last: DownloadInfo | undefined;
  await waitFor(async () => {
    last = server.core.downloads.get(id);
    return ["done", "failed", "cancelled"].includes(last?.status ?? "");
  }, ms);
  return last as DownloadInfo;
}

describe("Hugging Face", () => {
  it("searches repositories and lists their GGUF files with quantization and size", async () => {
    const search = await (await admin("/api/admin/hf/search?q=tiny")).json();
    expect(search.data.map((r: { id: string }) => r.id)).toEqual(["acme/tiny-GGUF"]);
    const files = await (await admin("/api/admin/hf/files?repo=acme/tiny-GGUF")).json();
    expect(files.data).toMatchObject([
      { path: "sub/tiny-embed-F16.gguf", quantization: "F16", fits: true },
      { path: "tiny-q8_0.gguf", quantization: "Q8_0", size: readFileSync(hubChat).length },
    ]);
  });

  it("downloads with progress events, checks the sha256 and registers a usable model", async () => {
    hub.behaviour = { bytesPerSecond: 2 * 1024 * 1024 };
    const events: DownloadInfo[] = [];
    const unsubscribe = server.core.downloads.subscribe((d) => events.push(d));
    const started = await pull("hf:acme/tiny-GGUF:Q8_0");
    const done = await settled(started.id);
    unsubscribe();
    expect(done.status).toBe("done");
    expect(done.modelId).toBe("tiny-q8_0");
    const progress = events.filter((e) => e.status === "downloading" && e.downloadedBytes > 0);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)?.totalBytes).toBe(readFileSync(hubChat).length);
    const model = server.core.models.get("tiny-q8_0");
    expect(model).toMatchObject({ source: "huggingface", hfRepo: "acme/tiny-GGUF", hfFile: "tiny-q8_0.gguf" });
    expect(model?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const client = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: "tiny-q8_0",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 2,
    });
    expect(answer.usage?.completion_tokens).toBe(2);
  });

  it("resumes when the server drops the connection midway", async () => {
    hub.behaviour = { dropAfterBytes: 1_000_000, dropTimes: 1, bytesPerSecond: 8 * 1024 * 1024 };
    if (server.core.models.get("tiny-q8_0")) server.core.models.remove("tiny-q8_0", () => false);
    const before = hub.requests.length;
    const started = await pull("hf:acme/tiny-GGUF/tiny-q8_0.gguf");
    const done = await settled(started.id);
    expect(done.error).toBeNull();
    expect(done.status).toBe("done");
    const fileRequests = hub.requests.slice(before).filter((r) => r.path.endsWith("tiny-q8_0.gguf") && r.method === "GET");
    expect(fileRequests.length).toBeGreaterThan(1);
    expect(fileRequests.some((r) => r.range && !r.range.startsWith("bytes=0-"))).toBe(true);
    expect(server.core.models.get("tiny-q8_0")?.sha256).toBeTruthy();
  });

  it("rejects a checksum mismatch and removes the file", async () => {
    hub.behaviour = {};
    const started = await pull("hf:acme/liar-GGUF:Q4_K_M");
    const failed = await settled(started.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/checksum mismatch/);
    expect(readdirSync(server.core.options.modelsDir).filter((f) => f.startsWith("liar"))).toEqual([]);
    expect(server.core.models.get("liar-Q4_K_M")).toBeUndefined();
  });

  it("cancels a running download and leaves no partial file", async () => {
    hub.behaviour = { bytesPerSecond: 256 * 1024 };
    if (server.core.models.get("tiny-q8_0")) server.core.models.remove("tiny-q8_0", () => false);
    const started = await pull("hf:acme/tiny-GGUF:Q8_0");
    await waitFor(() => (server.core.downloads.get(started.id)?.downloadedBytes ?? 0) > 0, 10_000);
    const res = await admin(`/api/admin/downloads/${started.id}`, { method: "DELETE" });
    expect((await res.json()).status).toBe("cancelled");
    await new Promise((r) => setTimeout(r, 300));
    expect(readdirSync(server.core.options.modelsDir).filter((f) => f.startsWith("tiny-q8_0"))).toEqual([]);
    expect(existsSync(join(server.core.options.modelsDir, ".downloads", started.id))).toBe(false);
    hub.behaviour = {};
  });

  it("answers unknown repositories and bad references clearly", async () => {
    const missing = await admin("/api/admin/downloads", {
      method: "POST",
      body: JSON.stringify({ ref: "hf:acme/nothing:Q4_K_M" }),
    });
    expect(missing.status).toBe(404);
    const noQuant = await admin("/api/admin/downloads", {
      method: "POST",
      body: JSON.stringify({ ref: "hf:acme/tiny-GGUF:Q2_K" }),
    });
    expect(noQuant.status).toBe(404);
    expect((await noQuant.json()).error.message).toMatch(/has no Q2_K.*Q8_0/);
    const bad = await admin("/api/admin/downloads", { method: "POST", body: JSON.stringify({ ref: "not a ref" }) });
    expect(bad.status).toBe(400);
    // Larger than the free disk: refused before anything is written.
    const huge = await admin("/api/admin/downloads", {
      method: "POST",
      body: JSON.stringify({ ref: "hf:acme/huge-GGUF:Q4_K_M" }),
    });
    expect(huge.status).toBe(507);
    expect((await huge.json()).error.message).toMatch(/needs .* GiB of disk/);
    expect(readdirSync(server.core.options.modelsDir).filter((f) => f.startsWith("huge"))).toEqual([]);
  });
});

describe("library", () => {
  it("imports by copy and by link, refuses corrupt files, and removes models", async () => {
    const outside = mkdtempSync(join(tmpdir(), "maas-import-"));
    try {
      const copyPath = join(outside, "copied.gguf");
      const linkPath = join(outside, "linked.gguf");
      writeFileSync(copyPath, readFileSync(fixtures.chat));
      writeFileSync(linkPath, readFileSync(fixtures.chat));
      const copied = await admin("/api/admin/models/import", { method: "POST", body: JSON.stringify({ path: copyPath }) });
      expect(copied.status).toBe(201);
      expect((await copied.json()).capabilities).toContain("chat");
      const linked = await admin("/api/admin/models/import", {
        method: "POST",
        body: JSON.stringify({ path: linkPath, mode: "link", id: "my-linked" }),
      });
      expect(linked.status).toBe(201);
      const truncated = join(outside, "broken.gguf");
      writeFileSync(truncated, readFileSync(fixtures.chat).subarray(0, 100));
      const broken = await admin("/api/admin/models/import", { method: "POST", body: JSON.stringify({ path: truncated }) });
      expect(broken.status).toBe(400);
      expect((await broken.json()).error.message).toMatch(/not a readable GGUF/);

      // Removing a linked model keeps the original; removing a copy deletes the copy.
      expect((await admin("/api/admin/models/my-linked", { method: "DELETE" })).status).toBe(200);
      expect(existsSync(linkPath)).toBe(true);
      expect((await admin("/api/admin/models/copied", { method: "DELETE" })).status).toBe(200);
      expect(existsSync(join(server.core.options.modelsDir, "copied.gguf"))).toBe(false);
      expect(existsSync(copyPath)).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("imports a split model (all its parts), serves it, and removes every part", async () => {
    const outside = mkdtempSync(join(tmpdir(), "maas-split-"));
    try {
      writeTinyLlama(join(outside, "split.gguf"), { seed: 8, splitParts: 3 });
      const first = join(outside, "split-00001-of-00003.gguf");
      const res = await admin("/api/admin/models/import", { method: "POST", body: JSON.stringify({ path: first }) });
      expect(res.status).toBe(201);
      const model = await res.json();
      expect(model).toMatchObject({ id: "split", parts: 3 });
      const parts = readdirSync(server.core.options.modelsDir).filter((f) => f.startsWith("split-"));
      expect(parts).toHaveLength(3);
      const sizes = parts.map((f) => readFileSync(join(server.core.options.modelsDir, f)).length).reduce((a, b) => a + b, 0);
      expect(model.sizeBytes).toBe(sizes);
      const client = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
      const answer = await client.chat.completions.create({
        model: "split",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      });
      expect(answer.usage?.completion_tokens).toBe(2);
      await admin("/api/admin/models/split/unload", { method: "POST" });
      expect((await admin("/api/admin/models/split", { method: "DELETE" })).status).toBe(200);
      expect(readdirSync(server.core.options.modelsDir).filter((f) => f.startsWith("split-"))).toEqual([]);
      // A part missing: refused with the part named.
      rmSync(join(outside, "split-00002-of-00003.gguf"));
      const broken = await admin("/api/admin/models/import", { method: "POST", body: JSON.stringify({ path: first }) });
      expect(broken.status).toBe(400);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("refuses to remove a loaded model", async () => {
    await admin("/api/admin/models/tiny-chat/load", { method: "POST" });
    const res = await admin("/api/admin/models/tiny-chat", { method: "DELETE" });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe("model_loaded");
  });

  it("gives every model a fit estimate and a state, and updates settings", async () => {
    const library = await (await admin("/api/admin/library")).json();
    expect(library.data.length).toBeGreaterThanOrEqual(3);
    for (const model of library.data) {
      expect(model.fit.ram).toBeGreaterThan(0);
      expect(typeof model.fit.fits).toBe("boolean");
      expect(["unloaded", "loading", "ready", "error"]).toContain(model.state);
    }
    const small = await (
      await admin("/api/admin/models/tiny-chat/fit", { method: "POST", body: JSON.stringify({ contextSize: 256 }) })
    ).json();
    const big = await (
      await admin("/api/admin/models/tiny-chat/fit", { method: "POST", body: JSON.stringify({ contextSize: 4096 }) })
    ).json();
    expect(big.ram).toBeGreaterThan(small.ram);
    const bad = await admin("/api/admin/models/tiny-chat/settings", { method: "PUT", body: JSON.stringify({ parallel: 0 }) });
    expect(bad.status).toBe(400);
    const updated = await (
      await admin("/api/admin/models/tiny-embed/settings", {
        method: "PUT",
        body: JSON.stringify({ ttlMinutes: 30, threads: 1 }),
      })
    ).json();
    expect(updated.effectiveSettings).toMatchObject({ ttlMinutes: 30, threads: 1 });
  });
});

describe("loading", () => {
  it("unloads a model after its idle TTL", async () => {
    // 6 s: long enough that a loaded machine still sees the model loaded right after the answer.
    const ttl = await startTestServer({ modelTtlMinutes: 0.1 });
    try {
      const client = new OpenAI({ apiKey: ttl.key, baseURL: ttl.baseURL, maxRetries: 0 });
      await client.chat.completions.create({ model: "tiny-chat", messages: [{ role: "user", content: "x" }], max_tokens: 1 });
      expect((await engineStats(ttl)).models.map((m) => m.id)).toContain("tiny-chat");
      expect(await waitFor(async () => (await engineStats(ttl)).models.length === 0, 20_000)).toBe(true);
    } finally {
      await ttl.stop();
    }
  }, 60_000);

  it("evicts the least recently used model beyond the maximum", async () => {
    const lru = await startTestServer({ maxLoadedModels: 1 });
    try {
      const client = new OpenAI({ apiKey: lru.key, baseURL: lru.baseURL, maxRetries: 0 });
      await client.chat.completions.create({ model: "tiny-chat", messages: [{ role: "user", content: "x" }], max_tokens: 1 });
      await client.embeddings.create({ model: "tiny-embed", input: "x" });
      expect((await engineStats(lru)).models.map((m) => m.id)).toEqual(["tiny-embed"]);
    } finally {
      await lru.stop();
    }
    // Two engine processes start one after the other: on a loaded machine that takes a while.
  }, 120_000);

  it("refuses a model that does not fit, naming the memory needed and available", async () => {
    const tight = await startTestServer({ ramBudgetBytes: 1024 });
    try {
      const res = await fetch(`${tight.baseURL}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${tight.key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "x" }], max_tokens: 1 }),
      });
      expect(res.status).toBe(503);
      const body = await res.json();
      expect(body.error.code).toBe("insufficient_memory");
      expect(body.error.message).toMatch(/needs about .* GiB of RAM .* but 0\.00 GiB is available/);
      const stats = await engineStats(tight);
      expect(stats.models).toMatchObject([{ id: "tiny-chat", state: "error" }]);
    } finally {
      await tight.stop();
    }
  });
});

describe("downloads across restarts", () => {
  it("resumes a download the previous run left unfinished", async () => {
    const dir = mkdtempSync(join(tmpdir(), "maas-resume-"));
    const modelsDir = join(dir, "models");
    mkdirSync(modelsDir);
    hub.behaviour = { bytesPerSecond: 512 * 1024 };
    try {
      const first = await startTestServer({ hfEndpoint: hub.url, dataDir: dir, modelsDir });
      const started = await first.core.downloads.start("hf:acme/tiny-GGUF:Q8_0");
      await waitFor(() => (first.core.downloads.get(started.id)?.downloadedBytes ?? 0) > 1_000_000, 15_000);
      await first.stop();
      // The partial file waits in the staging folder; nothing half-done is in the models folder.
      expect(readdirSync(modelsDir).filter((f) => f.endsWith(".gguf"))).toEqual([]);
      expect(readdirSync(join(modelsDir, ".downloads", started.id)).length).toBe(1);
      hub.behaviour = {};
      const before = hub.requests.length;
      const second = await startTestServer({ hfEndpoint: hub.url, dataDir: dir, modelsDir });
      try {
        let status = "";
        await waitFor(() => {
          status = second.core.downloads.get(started.id)?.status ?? "";
          return status === "done" || status === "failed";
        }, 20_000);
        expect(status).toBe("done");
        expect(second.core.models.get("tiny-q8_0")?.sha256).toBe(
          createHash("sha256").update(readFileSync(hubChat)).digest("hex"),
        );
        // ipull resumes at chunk granularity: the chunks the first run finished are not fetched again.
        const fetched = hub.requests
          .slice(before)
          .filter((r) => r.method === "GET" && r.range)
          .reduce((n, r) => {
            const [, from, to] = /bytes=(\d+)-(\d+)/.exec(r.range ?? "") ?? [];
            return n + (Number(to) - Number(from) + 1);
          }, 0);
        expect(fetched).toBeGreaterThan(0);
        expect(fetched).toBeLessThan(readFileSync(hubChat).length);
      } finally {
        await second.stop();
      }
    } finally {
      hub.behaviour = {};
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
