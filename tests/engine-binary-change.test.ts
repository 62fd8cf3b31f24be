/**
 * A finished background engine build (autoBuild.ts) tells the supervisor, and each running
 * model moves to a new engine process (which loads the new binary) once no request of its is
 * in flight: a stream under way finishes where it started, a request sent right after it waits
 * for the move and is answered, and the old process is gone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeLauncher } from "../src-main/core/engine/process/launcher.js";
import { Inspector } from "../src-main/core/engine/supervisor/Inspector.js";
import { Supervisor } from "../src-main/core/engine/supervisor/Supervisor.js";
import { writeAgentChatFixture, writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import type { ModelInfo } from "../src-main/core/inference/types.js";
import { isAlive } from "./helpers/process.js";
import { drain } from "./helpers/streams.js";

let dir: string;
let info: ModelInfo;
/** Trained for 4096 tokens, loaded with 256. */
let long: ModelInfo;
/** A GGUF cut short: no engine loads it. */
let broken: ModelInfo;
/** Cut short, then whole again (a test mends it). */
let mended: ModelInfo;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "maas-binary-change-"));
  const path = join(dir, "tiny.gguf");
  writeTinyLlama(path, { seed: 3, vocabulary: "ascii" });
  info = { id: "tiny", path, sizeBytes: 0, architecture: "llama", contextLength: null, capabilities: ["chat"], createdAt: 0 };
  const longPath = join(dir, "long.gguf");
  writeAgentChatFixture(longPath, 4096);
  long = { ...info, id: "long", path: longPath, contextLength: 4096 };
  const brokenPath = join(dir, "broken.gguf");
  writeFileSync(brokenPath, readFileSync(path).subarray(0, 64 * 1024));
  broken = { ...info, id: "broken", path: brokenPath };
  mended = { ...info, id: "mended", path: join(dir, "mended.gguf") };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function supervise(localBuildInUse?: boolean, logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" })) {
  const launcher = nodeLauncher();
  const inspector = new Inspector({ launcher });
  const supervisor = new Supervisor({
    gpu: false,
    threads: 1,
    parallel: 2,
    maxQueue: 8,
    logger,
    logLevel: "silent",
    launcher,
    inspector,
    spareProcess: false,
    contextSize: 65_536,
    resolveModel: (id) => [info, long, broken, mended].find((m) => m.id === id),
    // Whether engines load a local build; by default the supervisor asks the engine's description.
    ...(localBuildInUse === undefined ? {} : { localBuildInUse: () => localBuildInUse }),
  });
  return { supervisor, inspector };
}

describe("a new engine binary", () => {
  it("moves a running model to a new engine process once its stream has ended, an idle one at once", async () => {
    const { supervisor, inspector } = supervise();
    const pid = () => supervisor.statsNow().find((s) => s.id === info.id)?.pid;
    const request = (maxTokens: number) => ({
      model: info.id,
      prompt: "Once upon a time",
      sampling: { maxTokens, temperature: 0 },
    });
    try {
      await drain(await supervisor.complete(request(2)));
      const first = pid() as number;
      expect(first).toBeGreaterThan(0);

      // The build finishes while two streams run: both end on the process they started on,
      // and the model moves only after the longer one.
      let told = false;
      const pids: Array<number | null | undefined> = [];
      const [long, short] = await Promise.all([
        supervisor.complete(request(120)).then((s) =>
          drain(s, () => {
            if (told) return;
            told = true;
            supervisor.engineBinaryChanged();
            pids.push(pid());
          }),
        ),
        supervisor.complete(request(20)).then((s) => drain(s).finally(() => pids.push(pid()))),
      ]);
      expect(long).toEqual({ texts: expect.any(Number), tokens: 120, finish: "length" });
      expect(short).toEqual({ texts: expect.any(Number), tokens: 20, finish: "length" });
      expect(pids).toEqual([first, first]);

      // Sent as the stream ends, while the model moves: it waits and is answered by the new process.
      const next = await drain(await supervisor.complete(request(4)));
      expect(next.tokens).toBe(4);
      const second = pid() as number;
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);
      expect(isAlive(first)).toBe(false);

      // An idle model moves at once.
      supervisor.engineBinaryChanged();
      expect(pid()).toBeNull();
      expect(supervisor.isLoaded(info.id)).toBe(true);
      await drain(await supervisor.complete(request(2)));
      const third = pid() as number;
      expect(third).not.toBe(second);
      expect(isAlive(second)).toBe(false);
    } finally {
      await supervisor.dispose();
      await inspector.stop();
    }
  }, 120_000);

  it("a prompt too long for the context, whose end starts the move, still gets the larger context", async () => {
    const { supervisor, inspector } = supervise();
    try {
      await supervisor.load(long, { contextSize: 256 });
      // In flight when the build is done; its failure (too long for 256) ends it, which starts the move.
      const pending = supervisor.complete({
        model: long.id,
        prompt: "a b ".repeat(120),
        sampling: { maxTokens: 4, temperature: 0 },
      });
      supervisor.engineBinaryChanged();
      const answer = await drain(await pending);
      expect(answer.tokens).toBe(4);
      const stats = (await supervisor.stats()) as Array<{ id: string; contextSize: number; contextReloads: number }>;
      const stat = stats.find((s) => s.id === long.id);
      expect(stat?.contextSize).toBeGreaterThan(256);
      expect(stat?.contextReloads).toBe(1);
    } finally {
      await supervisor.dispose();
      await inspector.stop();
    }
  }, 120_000);

  it("a model that crashes twice on a local build runs on the prebuilt engine from then on, and is not moved", async () => {
    for (const local of [true, false]) {
      const { supervisor, inspector } = supervise(local);
      const stat = () => supervisor.statsNow().find((s) => s.id === info.id);
      const answer = async () =>
        (await drain(await supervisor.complete({ model: info.id, prompt: "Once", sampling: { maxTokens: 2, temperature: 0 } })))
          .tokens;
      /** Kills the model's engine process as a crash would, and waits for the supervisor to see it. */
      const crash = async () => {
        const pid = stat()?.pid as number;
        process.kill(pid, "SIGKILL");
        for (let waited = 0; stat()?.state !== "crashed"; waited += 20) {
          if (waited > 10_000) throw new Error(`the supervisor did not see pid ${pid} die: ${JSON.stringify(stat())}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return pid;
      };
      try {
        expect(await answer()).toBe(2);
        await crash();
        expect(await answer()).toBe(2);
        expect(stat()?.prebuiltEngine).toBe(false);
        await crash();
        // The third engine process is started with the prebuilt engine (only where a local build is in use).
        expect(await answer()).toBe(2);
        expect(stat()?.prebuiltEngine).toBe(local);
        expect(stat()?.restarts).toBe(2);
        const pinned = stat()?.pid as number;
        // A finished build moves models to it, but not one pinned to the prebuilt engine.
        supervisor.engineBinaryChanged();
        expect(await answer()).toBe(2);
        if (local) expect(stat()?.pid).toBe(pinned);
        else expect(stat()?.pid).not.toBe(pinned);
      } finally {
        await supervisor.dispose();
        await inspector.stop();
      }
    }
  }, 120_000);

  it("a model that does not load on a local build is tried once on the prebuilt engine, and not pinned when that fails too", async () => {
    for (const local of [true, false]) {
      const lines: string[] = [];
      const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
      const { supervisor, inspector } = supervise(local, logger);
      const fellBack = () => lines.filter((line) => line.includes("trying node-llama-cpp's prebuilt engine")).length;
      try {
        const failed = await supervisor
          .complete({ model: broken.id, prompt: "Once", sampling: { maxTokens: 2, temperature: 0 } })
          .then(drain)
          .then(
            () => null,
            (error: Error) => error,
          );
        expect(failed?.message).toMatch(/broken/);
        // Only where a local build is in use, once; the prebuilt engine failed too, so the model is not pinned.
        expect(fellBack()).toBe(local ? 1 : 0);
        const stat = supervisor.statsNow().find((s) => s.id === broken.id);
        expect(stat).toMatchObject({ state: "error", prebuiltEngine: false });
        expect(stat?.pid).toBeNull();
        // The supervisor serves the other models as before.
        expect(
          (await drain(await supervisor.complete({ model: info.id, prompt: "Once", sampling: { maxTokens: 2, temperature: 0 } })))
            .tokens,
        ).toBe(2);
      } finally {
        await supervisor.dispose();
        await inspector.stop();
      }
    }
  }, 120_000);

  it("a model that loads on the prebuilt engine after failing on a local build stays there", async () => {
    // The file is whole again by the time the prebuilt engine tries it (the warning is
    // logged, synchronously, just before): what a library that fails on this model looks like.
    writeFileSync(mended.path, readFileSync(broken.path));
    const logger = pino(
      { level: "warn" },
      {
        write: (line: string) => {
          if (line.includes("trying node-llama-cpp's prebuilt engine")) writeFileSync(mended.path, readFileSync(info.path));
        },
      },
    );
    const { supervisor, inspector } = supervise(true, logger);
    try {
      const answer = await drain(
        await supervisor.complete({ model: mended.id, prompt: "Once", sampling: { maxTokens: 2, temperature: 0 } }),
      );
      expect(answer.tokens).toBe(2);
      expect(supervisor.statsNow().find((s) => s.id === mended.id)).toMatchObject({ state: "ready", prebuiltEngine: true });
    } finally {
      await supervisor.dispose();
      await inspector.stop();
    }
  }, 60_000);
});
