/**
 * One in-process side of `npm run bench`, run in a child process of its own:
 *   direct — node-llama-cpp used plainly: one context, a LlamaCompletion or LlamaChat per stream;
 *   engine — our Engine (the server's batching and scheduling) called in-process, no HTTP;
 *   process — the same Engine in an engine process of its own, through the server's Supervisor (IPC, no HTTP).
 * Prints `{"ready":true}` once warm, then answers each command line on stdin with a
 * JSON RunResult line.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, LlamaCompletion, LlamaLogLevel } from "node-llama-cpp";
import pino from "pino";
import { engineBuildOptions } from "../src-main/core/engine/cpuKernels.js";
import { Engine } from "../src-main/core/engine/Engine.js";
import { nodeLauncher } from "../src-main/core/engine/process/launcher.js";
import { Inspector } from "../src-main/core/engine/supervisor/Inspector.js";
import { Supervisor } from "../src-main/core/engine/supervisor/Supervisor.js";
import type { GenerationEvent } from "../src-main/core/inference/types.js";
import {
  type EncoderResult,
  embeddingInputs,
  type Mode,
  promptFor,
  RERANK_QUERY,
  type RunResult,
  rerankDocuments,
} from "./common.js";

const { values } = parseArgs({
  options: {
    side: { type: "string" },
    mode: { type: "string" },
    model: { type: "string" },
    threads: { type: "string" },
    levels: { type: "string" },
    tokens: { type: "string" },
    repeats: { type: "string" },
    context: { type: "string" },
    "rerank-model": { type: "string" },
    "embed-model": { type: "string" },
  },
});
const side = values.side as "direct" | "engine" | "process" | "encoders";
const mode = values.mode as Mode;
const modelPath = values.model as string;
const threads = Number(values.threads);
const levels = (values.levels as string).split(",").map(Number);
const maxTokens = Number(values.tokens);
const repeats = Number(values.repeats);
const contextSize = Number(values.context);
const parallel = Math.max(...levels);
const greedy = { temperature: 0, topK: 40, topP: 0.95, minP: 0.05 } as const;

type Generate = (prompt: string, onTokens: (n: number) => void) => Promise<void>;

/** node-llama-cpp on the CPU, loading the engine build the server's engines load (engineBuildOptions). */
function benchLlama() {
  return getLlama({ gpu: false, maxThreads: threads, build: "never", ...engineBuildOptions(), logLevel: LlamaLogLevel.error });
}

async function directSide(): Promise<{ generate: Generate; close(): Promise<void> }> {
  const llama = await benchLlama();
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ sequences: parallel, contextSize, threads });
  const free = Array.from({ length: parallel }, () => context.getSequence());
  return {
    async generate(prompt, onTokens) {
      const sequence = free.pop();
      if (!sequence) throw new Error("no free sequence");
      try {
        if (mode === "completions") {
          const completion = new LlamaCompletion({ contextSequence: sequence });
          await completion.generateCompletion(prompt, {
            maxTokens,
            ...greedy,
            repeatPenalty: false,
            onToken: (t) => onTokens(t.length),
          });
          completion.dispose({ disposeSequence: false });
        } else {
          const chat = new LlamaChat({ contextSequence: sequence });
          await chat.generateResponse(
            [
              { type: "user", text: prompt },
              { type: "model", response: [] },
            ],
            { maxTokens, ...greedy, repeatPenalty: false, onResponseChunk: (c) => onTokens(c.tokens.length) },
          );
          chat.dispose({ disposeSequence: false });
        }
      } finally {
        free.push(sequence);
      }
    },
    close: () => llama.dispose(),
  };
}

async function engineSide(): Promise<{ generate: Generate; close(): Promise<void> }> {
  const info = {
    id: "bench",
    path: modelPath,
    sizeBytes: 0,
    architecture: "llama",
    contextLength: null,
    capabilities: ["chat" as const],
    createdAt: 0,
  };
  const common = {
    gpu: false as const,
    threads,
    parallel,
    maxQueue: 64,
    contextSize,
    logger: pino({ level: "silent" }),
    resolveModel: (id: string) => (id === "bench" ? info : undefined),
  };
  const engine =
    side === "process"
      ? (() => {
          const launcher = nodeLauncher();
          const inspector = new Inspector({ launcher });
          const supervisor = new Supervisor({ ...common, logLevel: "silent", launcher, inspector, spareProcess: false });
          // The supervisor's own dispose, kept before it is replaced (calling the replacement recursed).
          const disposeSupervisor = supervisor.dispose.bind(supervisor);
          return Object.assign(supervisor, {
            dispose: async () => {
              await disposeSupervisor();
              await inspector.stop();
            },
          });
        })()
      : await Engine.create(common);
  const sampling = { maxTokens, temperature: 0 };
  return {
    async generate(prompt, onTokens) {
      const events: AsyncIterable<GenerationEvent> =
        mode === "completions"
          ? await engine.complete({ model: "bench", prompt, sampling })
          : await engine.chat({ model: "bench", messages: [{ role: "user", content: prompt }], sampling });
      for await (const event of events) {
        if (event.type === "text") onTokens(0);
        if (event.type === "done") onTokens(event.usage.completionTokens);
      }
    },
    close: () => engine.dispose(),
  };
}

/** node-llama-cpp used plainly for the encoder bench: one ranking and one embedding context. */
async function encoderSide(): Promise<void> {
  const llama = await benchLlama();
  const reranker = await llama.loadModel({ modelPath: values["rerank-model"] as string });
  const embedder = await llama.loadModel({ modelPath: values["embed-model"] as string });
  const ranking = await reranker.createRankingContext({ threads });
  const embedding = await embedder.createEmbeddingContext({ threads });
  const documents = rerankDocuments();
  const inputs = embeddingInputs();
  await ranking.rank(RERANK_QUERY, "warm up");
  await embedding.getEmbeddingFor("warm up");
  for (let r = 0; r < repeats; r++) {
    let t0 = performance.now();
    await ranking.rankAll(RERANK_QUERY, documents);
    const rerankSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    for (const input of inputs) await embedding.getEmbeddingFor(input);
    const embedSeconds = (performance.now() - t0) / 1000;
    const result: EncoderResult = {
      rerankDocsPerSecond: documents.length / rerankSeconds,
      embedInputsPerSecond: inputs.length / embedSeconds,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
  await llama.dispose();
}

if (side === "encoders") {
  await encoderSide();
  process.exit(0);
}
const runner = side === "direct" ? await directSide() : await engineSide();
await runner.generate("Warm up.", () => {});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

/** One run: `streams` generations started together. */
async function measure(streams: number, repeat: number): Promise<RunResult> {
  const ttftMs: number[] = [];
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      const t0 = performance.now();
      let first = true;
      await runner.generate(promptFor(streams, repeat, i), (n) => {
        if (first) {
          first = false;
          ttftMs.push(performance.now() - t0);
        }
        tokens += n;
      });
    }),
  );
  return { streams, tokens, seconds: (performance.now() - started) / 1000, ttftMs };
}

// Commands arrive one per line on stdin (`{"streams":4,"repeat":0}`), so the bench can
// interleave this side's runs with the other sides' and machine noise hits all alike.
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { streams, repeat } = JSON.parse(line) as { streams: number; repeat: number };
  process.stdout.write(`${JSON.stringify(await measure(streams, repeat))}\n`);
}
await runner.close();
