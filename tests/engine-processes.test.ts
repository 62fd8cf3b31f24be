/**
 * A model's crash, hang or hostile file stays inside its own process: real engine
 * processes, real llama.cpp, hostile files written by the test.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localEngineBuilds } from "../src-main/core/engine/cpuKernels.js";
import { HOSTILE_WRITERS, writeLoopingTemplateModel } from "../src-main/core/fixtures/hostileModels.js";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { createCore } from "../src-main/core/index.js";
import { isAlive } from "./helpers/process.js";
import { startTestServer, type TestServer, waitFor } from "./helpers/server.js";

const HOSTILE = ["dup-token", "zero-heads", "absurd-counts"] as const;
/** Engine and inspector processes start in seconds; on a shared 2-core machine, much longer. */
const STARTUP_MS = 180_000;

let server: TestServer;

interface ModelStat {
  id: string;
  state: string;
  reason: string | null;
  pid: number | null;
  restarts: number;
  crashes: number;
}

async function admin(path: string, init: RequestInit = {}) {
  return fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
}

async function modelStat(id: string): Promise<ModelStat | undefined> {
  const engine = (await (await admin("/api/admin/engine")).json()) as { models: ModelStat[] };
  return engine.models.find((m) => m.id === id);
}

function chat(model: string, maxTokens: number, stream = false, signal?: AbortSignal) {
  return fetch(`${server.baseURL}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: maxTokens, stream }),
    ...(signal ? { signal } : {}),
  });
}

async function expectAnswers(model: string) {
  const res = await chat(model, 4);
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.usage.completion_tokens).toBe(4);
}

/** Reads an SSE response until `chunks` data lines arrived; returns the reader to continue. */
async function readChunks(res: Response, chunks: number) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  while ((text.match(/^data: \{/gm) ?? []).length < chunks) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return {
    text,
    async rest() {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    },
  };
}

beforeAll(async () => {
  // The watchdog at its default (30 s): a first chat on a crowded 2-core machine can block an engine for 10+ s.
  server = await startTestServer({ engineWatchdogMs: 30_000, inspectorTimeoutMs: 30_000 }, (dir) => {
    for (const kind of HOSTILE) HOSTILE_WRITERS[kind](join(dir, `${kind}.gguf`));
    writeLoopingTemplateModel(join(dir, "looping-template.gguf"));
    writeTinyLlama(join(dir, "victim.gguf"), { seed: 7, contextLength: 1024 });
  });
}, STARTUP_MS);

afterAll(async () => {
  await server?.stop();
});

describe("hostile files", () => {
  it("starts with hostile files in the models folder and lists each as unreadable with its reason", async () => {
    const library = (await (await admin("/api/admin/library")).json()) as {
      data: Array<{ id: string }>;
      unreadable: Array<{ file: string; reason: string }>;
    };
    const ids = library.data.map((m) => m.id);
    expect(ids).toContain("tiny-chat");
    expect(ids).toContain("looping-template");
    const reasons = Object.fromEntries(library.unreadable.map((u) => [u.file, u.reason]));
    expect(Object.keys(reasons).sort()).toEqual(HOSTILE.map((k) => `${k}.gguf`).sort());
    expect(reasons["dup-token.gguf"]).toMatch(/crashed the inspector.*id_to_token\.size\(\) == token_to_id\.size\(\)/);
    expect(reasons["zero-heads.gguf"]).toMatch(/crashed the inspector.*GGML_ASSERT/);
    expect(reasons["absurd-counts.gguf"]).toMatch(/claims 281474976710656 key\/values/);
    for (const kind of HOSTILE) expect(ids).not.toContain(kind);
  });

  it(
    "fails a chat to a hostile file alone; tiny-chat keeps answering",
    async () => {
      for (const kind of HOSTILE) {
        const res = await chat(kind, 4);
        expect(res.status).toBe(404);
      }
      await expectAnswers("tiny-chat");
    },
    STARTUP_MS,
  );

  it(
    "refuses to import each hostile file with a 400 naming the reason, and leaves nothing in the models folder",
    async () => {
      const outside = join(server.dir, "outside");
      for (const kind of HOSTILE) {
        const path = join(outside, `${kind}-copy.gguf`);
        const { mkdirSync } = await import("node:fs");
        mkdirSync(outside, { recursive: true });
        HOSTILE_WRITERS[kind](path);
        const started = Date.now();
        const res = await admin("/api/admin/models/import", { method: "POST", body: JSON.stringify({ path }) });
        expect(res.status).toBe(400);
        const body = await res.json();
        expect(body.error.message).toMatch(/not a readable GGUF file: .*(crashed the inspector|claims|took longer than)/);
        // A hostile header fails fast: the absurd one before any allocation, the others as soon as the
        // inspector aborts (plus, on this shared machine, the start of a fresh inspector).
        expect(Date.now() - started).toBeLessThan(60_000);
        expect(existsSync(join(server.core.options.modelsDir, `${kind}-copy.gguf`))).toBe(false);
      }
      await expectAnswers("tiny-chat");
    },
    STARTUP_MS,
  );

  it(
    "restarts on the same folder without reading the unreadable files again",
    async () => {
      // The running server holds the data folder's lock (one server per folder), so the
      // restart gets a consistent copy of its database beside the same models folder.
      const copy = mkdtempSync(join(tmpdir(), "maas-base-restart-"));
      await server.core.db.backup(join(copy, "maas-base.sqlite"));
      const again = createCore({ ...server.core.options, port: 0, dataDir: copy, modelsDir: server.core.options.modelsDir });
      try {
        const started = Date.now();
        await again.start();
        expect(Date.now() - started).toBeLessThan(60_000);
        const unreadable = again.models.unreadable().map((u) => u.file);
        expect(unreadable.sort()).toEqual(HOSTILE.map((k) => `${k}.gguf`).sort());
      } finally {
        await again.stop();
      }
    },
    STARTUP_MS,
  );

  it(
    "stops a looping chat template with the watchdog; the server and tiny-chat stay responsive",
    async () => {
      const health: number[] = [];
      let looping = true;
      const probe = (async () => {
        while (looping) {
          const t = performance.now();
          await fetch(`${server.url}/health`);
          health.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const res = await chat("looping-template", 4);
      looping = false;
      await probe;
      expect(res.status).toBe(500);
      const body = await res.json();
      expect(body.error.message).toMatch(/Model 'looping-template' stopped .*no progress for .* watchdog/);
      // In-process, this template froze the whole server until it finished (forever, here). The
      // < 100 ms target is measured by the bench on a quiet machine; this shared one adds scheduling noise.
      expect(Math.max(...health)).toBeLessThan(2000);
      await expectAnswers("tiny-chat");
      expect((await modelStat("looping-template"))?.state).toBe("crashed");
    },
    STARTUP_MS,
  );
});

describe("supervision", () => {
  it(
    "ends a stream with an error event when its engine is killed (-9), shows crashed, answers the next request",
    async () => {
      await expectAnswers("victim");
      const pid = (await modelStat("victim"))?.pid;
      expect(pid).toBeTypeOf("number");
      const res = await chat("victim", 900, true);
      expect(res.status).toBe(200);
      const reader = await readChunks(res, 3);
      process.kill(pid as number, "SIGKILL");
      const text = await reader.rest();
      expect(text).toMatch(/"code":"engine_crashed"/);
      expect(text).toMatch(/killed by SIGKILL/);
      expect(text).not.toMatch(/\[DONE\]/);
      const stat = await modelStat("victim");
      expect(stat).toMatchObject({ state: "crashed", crashes: 1 });
      expect(stat?.reason).toMatch(/SIGKILL/);
      await expectAnswers("victim");
      expect(await modelStat("victim")).toMatchObject({ state: "ready", restarts: 1 });
      const metrics = await (await admin("/metrics")).text();
      expect(metrics).toMatch(/maas_engine_restarts\{model="victim"\} 1/);
    },
    STARTUP_MS,
  );

  it(
    "kills an engine that stops making progress (SIGSTOP) and answers the next request",
    async () => {
      const pid = (await modelStat("victim"))?.pid as number;
      const pending = chat("victim", 900);
      await new Promise((r) => setTimeout(r, 200));
      process.kill(pid, "SIGSTOP");
      const res = await pending;
      expect(res.status).toBe(500);
      expect((await res.json()).error.message).toMatch(/no progress for .* watchdog/);
      expect(await waitFor(() => !isAlive(pid), 5000)).toBe(true);
      await expectAnswers("victim");
    },
    STARTUP_MS,
  );

  it(
    "turns a model off after three crashes (503 naming the reason) until it is loaded by hand",
    async () => {
      // Two crashes so far (kill -9, watchdog): the third turns it off. Where engines load a
      // local build (`maas-base engine build` was run here), those two moved the model to the
      // prebuilt engine and its count started again there: three more turn it off.
      const builds = localEngineBuilds();
      const kills = builds.tuned || builds.kernels !== null ? 3 : 1;
      for (let kill = 1; kill <= kills; kill++) {
        const pid = (await modelStat("victim"))?.pid as number;
        process.kill(pid, "SIGKILL");
        const state = kill === kills ? "failed" : "crashed";
        expect(await waitFor(async () => (await modelStat("victim"))?.state === state, 5000)).toBe(true);
        if (kill < kills) await expectAnswers("victim");
      }
      const refused = await chat("victim", 4);
      expect(refused.status).toBe(503);
      const body = await refused.json();
      expect(body.error.code).toBe("model_failed");
      expect(body.error.message).toMatch(/3 crashes within 10 minutes \(last: its engine process was killed by SIGKILL/);
      const loaded = await admin("/api/admin/models/victim/load", { method: "POST", body: "{}" });
      expect(loaded.status).toBe(200);
      expect((await loaded.json()).state).toBe("ready");
      await expectAnswers("victim");
      await expectAnswers("tiny-chat");
    },
    STARTUP_MS,
  );

  it("stops every engine process with the server", async () => {
    const pids = ((await (await admin("/api/admin/engine")).json()) as { models: ModelStat[] }).models
      .map((m) => m.pid)
      .filter((p): p is number => typeof p === "number");
    expect(pids.length).toBeGreaterThan(0);
    const { rmSync } = await import("node:fs");
    await server.stop();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    rmSync(server.dir, { recursive: true, force: true });
    server = undefined as unknown as TestServer;
  });
});
