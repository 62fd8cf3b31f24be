/**
 * Continuous batching, counted in decode steps (not times): requests that arrive together
 * share their first step whether the engine runs in this process or in an engine process,
 * and a request that arrives while another streams joins it at once instead of waiting
 * for it to end (node-llama-cpp's decode loop holds its context's lock while anything is
 * queued; sequenceAlign.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../src-main/core/engine/Engine.js";
import { nodeLauncher } from "../src-main/core/engine/process/launcher.js";
import { Inspector } from "../src-main/core/engine/supervisor/Inspector.js";
import { Supervisor } from "../src-main/core/engine/supervisor/Supervisor.js";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import type { GenerationStream, ModelInfo } from "../src-main/core/inference/types.js";
import { drain } from "./helpers/streams.js";

const STREAMS = 8;
const TOKENS = 24;
let dir: string;
let info: ModelInfo;

interface Side {
  complete(request: {
    model: string;
    prompt: string;
    sampling: { maxTokens: number; temperature: number };
  }): Promise<GenerationStream>;
  steps(): Promise<number>;
  dispose(): Promise<void>;
}

function options() {
  return {
    gpu: false as const,
    threads: 1,
    parallel: STREAMS,
    maxQueue: 64,
    contextSize: 512,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    resolveModel: (id: string) => (id === info.id ? info : undefined),
  };
}

async function inProcess(): Promise<Side> {
  const engine = await Engine.create(options());
  return {
    complete: (request) => engine.complete(request),
    steps: async () => {
      const stat = engine.pool.stats().find((s) => s.id === info.id);
      return stat && "decodeBatches" in stat ? stat.decodeBatches : 0;
    },
    dispose: () => engine.dispose(),
  };
}

function throughProcess(): Side {
  const launcher = nodeLauncher();
  const inspector = new Inspector({ launcher });
  const supervisor = new Supervisor({ ...options(), logLevel: "silent", launcher, inspector, spareProcess: false });
  return {
    complete: (request) => supervisor.complete(request),
    steps: async () => {
      const stats = (await supervisor.stats()) as Array<{ id: string; decodeBatches?: number }>;
      return stats.find((s) => s.id === info.id)?.decodeBatches ?? 0;
    },
    dispose: async () => {
      await supervisor.dispose();
      await inspector.stop();
    },
  };
}

const request = (prompt: string, maxTokens = TOKENS) => ({ model: info.id, prompt, sampling: { maxTokens, temperature: 0 } });

type Drained = Awaited<ReturnType<typeof drain>>;

/**
 * Starts `running` streams of `long` tokens; once the first has 4 tokens, sends a
 * newcomer with `prompt`. Returns how far the first stream was when the newcomer's first
 * token came (-1: never; `long`: only after a stream had ended), with every result.
 */
async function newcomerAt(
  complete: (r: ReturnType<typeof request>) => Promise<GenerationStream>,
  {
    running,
    long,
    prompt,
    streamPrompt,
    newcomerTokens,
  }: {
    running: number;
    long: number;
    prompt: string;
    streamPrompt: (i: number) => string;
    newcomerTokens: number;
  },
): Promise<{ at: number; results: Drained[]; late: Drained }> {
  let ended = 0;
  let textsOfFirst = 0;
  let at = -1;
  let newcomer: Promise<Drained> | null = null;
  const streams = await Promise.all(Array.from({ length: running }, (_, i) => complete(request(streamPrompt(i), long))));
  const results = await Promise.all(
    streams.map((stream, i) =>
      drain(stream, (n) => {
        if (i !== 0) return;
        textsOfFirst = n;
        if (n === 4 && !newcomer) {
          newcomer = complete(request(prompt, newcomerTokens)).then((s) =>
            drain(s, (m) => {
              if (m === 1) at = ended > 0 ? long : textsOfFirst;
            }),
          );
        }
      }).finally(() => {
        ended++;
      }),
    ),
  );
  const late = await (newcomer as unknown as Promise<Drained>);
  return { at, results, late };
}

/** Every sequence used once (so each holds a stale cache, as on a server that has run a while), then 8 at once. */
async function stepsForBurst(side: Side): Promise<number> {
  await Promise.all(Array.from({ length: STREAMS }, async (_, i) => drain(await side.complete(request(`Warm up ${i}.`, 2)))));
  const before = await side.steps();
  const results = await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) =>
      drain(await side.complete(request(`Story ${i}: the lighthouse and the sea.`))),
    ),
  );
  for (const r of results) expect(r.tokens).toBeGreaterThan(0);
  return (await side.steps()) - before;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "maas-batching-"));
  const path = join(dir, "tiny.gguf");
  writeTinyLlama(path, { seed: 5, vocabulary: "ascii" });
  info = { id: "tiny", path, sizeBytes: 0, architecture: "llama", contextLength: null, capabilities: ["chat"], createdAt: 0 };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("decode steps in and out of an engine process", () => {
  it("8 concurrent completions through an engine process take no more decode steps than in-process", async () => {
    const local = await inProcess();
    let inSteps: number;
    try {
      inSteps = await stepsForBurst(local);
    } finally {
      await local.dispose();
    }
    const remote = throughProcess();
    let outSteps: number;
    try {
      outSteps = await stepsForBurst(remote);
    } finally {
      await remote.dispose();
    }
    // One prompt step plus a step per generated token, shared by all 8 streams.
    expect(inSteps).toBeLessThanOrEqual(TOKENS + 1);
    expect(outSteps).toBeLessThanOrEqual(inSteps);
  }, 300_000);

  it("a request arriving while others stream joins their decode steps instead of waiting for them to end", async () => {
    const local = await inProcess();
    try {
      // Every sequence used once: the newcomer's sequence holds tokens it must drop first.
      await Promise.all(
        Array.from({ length: STREAMS }, async (_, i) => drain(await local.complete(request(`Warm up ${i}.`, 2)))),
      );
      const long = 120;
      const {
        at: atNewcomer,
        results,
        late,
      } = await newcomerAt(local.complete, {
        running: 4,
        long,
        prompt: "A newcomer with a prompt of its own.",
        streamPrompt: (i) => `Long stream ${i}, the first ones.`,
        newcomerTokens: 4,
      });
      for (const r of results) expect(r.finish).toBe("length");
      expect(late.tokens).toBeGreaterThan(0);
      // Without the fix the newcomer's first token came only once the long streams had ended.
      expect(atNewcomer).toBeGreaterThan(0);
      expect(atNewcomer).toBeLessThan(long / 2);
    } finally {
      await local.dispose();
    }
  }, 300_000);

  it("a prefix saved to disk or read back while others stream waits for one step, not for them to end", async () => {
    // Four sequences, the prefix store on, three long streams: the newcomer's sequence holds
    // a long prefix that must be saved before it is overwritten (and, after a restart, is
    // read back); both take the context's lock, which the streams' decode loop holds.
    const storeDir = join(dir, "prefixes");
    const open = () =>
      Engine.create({ ...options(), parallel: 4, prefixCache: { dir: storeDir, maxBytes: 2 ** 30, minTokens: 32 } });
    const long = 120;
    const prefixCache = (engine: Engine) =>
      (engine.pool.stats().find((s) => s.id === info.id) as { prefixCache?: { saves: number; restores: number } })
        .prefixCache ?? { saves: 0, restores: 0 };
    /** How far the first of three long streams was when a newcomer, sent once it had 4 tokens, got its first one. */
    const savedOrRestoredAt = async (engine: Engine, prompt: string) => {
      const { at, results } = await newcomerAt((r) => engine.complete(r), {
        running: 3,
        long,
        prompt,
        streamPrompt: (i) => `Long stream ${i} of its own.`,
        newcomerTokens: 3,
      });
      for (const r of results) expect(r.finish).toBe("length");
      return at;
    };
    const session = `The session's long system prefix. ${"Keep every edit small and tested. ".repeat(8)}`;
    let engine = await open();
    let savedAt: number;
    try {
      await drain(await engine.complete(request(session, 2)));
      // Every sequence but the session's is used once and short: a side request can only take the session's.
      await Promise.all([0, 1, 2].map(async (i) => drain(await engine.complete(request(`Warm up ${i}.`, 2)))));
      savedAt = await savedOrRestoredAt(engine, "A side request.");
      expect(prefixCache(engine).saves).toBeGreaterThanOrEqual(1);
    } finally {
      await engine.dispose();
    }
    // After a restart the session returns while three streams run: its prefix is read back.
    engine = await open();
    try {
      const restoredAt = await savedOrRestoredAt(engine, `${session} And the next turn.`);
      expect(prefixCache(engine).restores).toBe(1);
      // Before, both waited for the long streams to end (`long`).
      expect(savedAt).toBeGreaterThan(0);
      expect(savedAt).toBeLessThan(long / 2);
      expect(restoredAt).toBeGreaterThan(0);
      expect(restoredAt).toBeLessThan(long / 2);
    } finally {
      await engine.dispose();
    }
  }, 300_000);

  it("concurrent streams take adjacent sequences, so llama.cpp decodes each step in one pass", async () => {
    const engine = await Engine.create(options());
    const stat = () => {
      const found = engine.pool.stats().find((s) => s.id === info.id);
      if (!found || !("splitSteps" in found)) throw new Error("no batch stats for the model");
      return found;
    };
    const splitSteps = () => stat().splitSteps;
    try {
      // Every sequence used; the even ones end first, so they are the least recently used.
      await Promise.all(
        Array.from({ length: STREAMS }, async (_, i) =>
          drain(await engine.complete(request(`Warm up ${i}.`, i % 2 === 0 ? 2 : 40))),
        ),
      );
      const before = splitSteps();
      // The warm-up's odd streams ran on 1, 3, 5, 7 once the even ones had ended: the count sees splits.
      expect(before).toBeGreaterThan(0);
      // Before the choice looked at neighbours, these took the coldest: sequences 0, 2, 4, 6.
      const results = await Promise.all(
        Array.from({ length: 4 }, async (_, i) => drain(await engine.complete(request(`Story ${i}: the lighthouse.`)))),
      );
      for (const r of results) expect(r.tokens).toBe(TOKENS);
      // Before: every one of the ~25 steps was split. A step whose batch ran out of waiting
      // for a straggler in the middle may still count.
      expect(splitSteps() - before).toBeLessThanOrEqual(2);
      expect(stat().unknownSequences).toBe(0);
    } finally {
      await engine.dispose();
    }
  }, 300_000);
});
