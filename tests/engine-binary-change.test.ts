/**
 * A finished background engine build (autoBuild.ts) tells the supervisor, and each running
 * model moves to a new engine process (which loads the new binary) once no request of its is
 * in flight: a stream under way finishes where it started, a request sent right after it waits
 * for the move and is answered, and the old process is gone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeLauncher } from "../src-main/core/engine/process/launcher.js";
import { Inspector } from "../src-main/core/engine/supervisor/Inspector.js";
import { Supervisor } from "../src-main/core/engine/supervisor/Supervisor.js";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import type { GenerationStream, ModelInfo } from "../src-main/core/inference/types.js";

let dir: string;
let info: ModelInfo;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "maas-binary-change-"));
  const path = join(dir, "tiny.gguf");
  writeTinyLlama(path, { seed: 3, vocabulary: "ascii" });
  info = { id: "tiny", path, sizeBytes: 0, architecture: "llama", contextLength: null, capabilities: ["chat"], createdAt: 0 };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function drain(stream: GenerationStream, onText?: () => void) {
  let tokens = 0;
  let finish = "";
  for await (const event of stream) {
    if (event.type === "text") onText?.();
    if (event.type === "done") {
      tokens = event.usage.completionTokens;
      finish = event.finishReason;
    }
  }
  return { tokens, finish };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("a new engine binary", () => {
  it("moves a running model to a new engine process once its stream has ended, an idle one at once", async () => {
    const launcher = nodeLauncher();
    const inspector = new Inspector({ launcher });
    const supervisor = new Supervisor({
      gpu: false,
      threads: 1,
      parallel: 2,
      maxQueue: 8,
      contextSize: 512,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
      logLevel: "silent",
      launcher,
      inspector,
      spareProcess: false,
      resolveModel: (id) => (id === info.id ? info : undefined),
    });
    const pid = async () =>
      ((await supervisor.stats()) as Array<{ id: string; pid: number | null }>).find((s) => s.id === info.id)?.pid;
    const request = (maxTokens: number) => ({
      model: info.id,
      prompt: "Once upon a time",
      sampling: { maxTokens, temperature: 0 },
    });
    try {
      await drain(await supervisor.complete(request(2)));
      const first = (await pid()) as number;
      expect(first).toBeGreaterThan(0);

      // The build finishes while a stream runs: the stream ends on the process it started on.
      let told = false;
      let pidWhileStreaming: number | null | undefined;
      const stream = await drain(await supervisor.complete(request(120)), () => {
        if (told) return;
        told = true;
        supervisor.engineBinaryChanged();
        void pid().then((p) => {
          pidWhileStreaming = p;
        });
      });
      expect(stream).toEqual({ tokens: 120, finish: "length" });
      expect(pidWhileStreaming).toBe(first);

      // Sent as the stream ends, while the model moves: it waits and is answered by the new process.
      const next = await drain(await supervisor.complete(request(4)));
      expect(next.tokens).toBe(4);
      const second = (await pid()) as number;
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);
      expect(alive(first)).toBe(false);

      // An idle model moves at once.
      supervisor.engineBinaryChanged();
      expect(await pid()).toBeNull();
      await drain(await supervisor.complete(request(2)));
      const third = (await pid()) as number;
      expect(third).not.toBe(second);
      expect(alive(second)).toBe(false);
    } finally {
      await supervisor.dispose();
      await inspector.stop();
    }
  }, 120_000);
});
