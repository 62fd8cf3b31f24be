/**
 * `npm run bench`: decode throughput and time to first token through our
 * streaming /v1/chat/completions versus node-llama-cpp called directly, in the
 * same run, on the same generated model with the same settings.
 *
 *   npm run bench -- [--threads 1] [--tokens 64] [--concurrency 1,4,8] [--model path.gguf]
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, LlamaLogLevel } from "node-llama-cpp";
import pino from "pino";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { createCore } from "../src-main/core/index.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    tokens: { type: "string", default: "64" },
    concurrency: { type: "string", default: "1,4,8" },
    model: { type: "string" },
    "no-record": { type: "boolean", default: false },
  },
});
const threads = Number(values.threads);
const maxTokens = Number(values.tokens);
const levels = (values.concurrency ?? "1,4,8").split(",").map(Number);
const parallel = Math.max(...levels);
const contextSize = 1024;
// Stream i of a run at concurrency n gets the same prompt on both sides (greedy
// decoding then yields the same tokens), and no prompt repeats within a side, so
// neither gains from a cached prefix.
const promptFor = (n: number, i: number) => `Story ${n}.${i}: write a long story about a lighthouse keeper and the sea.`;

interface RunResult {
  tokens: number;
  seconds: number;
  ttftMs: number[];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const work = mkdtempSync(join(tmpdir(), "maas-bench-"));
const modelsDir = join(work, "models");
mkdirSync(modelsDir);
let modelPath = values.model;
if (!modelPath) {
  modelPath = join(modelsDir, "bench-llama.gguf");
  // A mid-sized random llama (~45 MB F16): big enough that decode, not overhead, dominates.
  writeTinyLlama(modelPath, {
    layers: 8,
    embedding: 512,
    heads: 8,
    feedForward: 1408,
    type: "f16",
    vocabulary: "ascii",
    seed: 11,
  });
} else if (!existsSync(modelPath)) throw new Error(`no such model: ${modelPath}`);
const modelId = values.model ? (modelPath.split("/").pop() ?? "").replace(/\.gguf$/, "") : "bench-llama";
if (values.model) {
  const { symlinkSync } = await import("node:fs");
  symlinkSync(modelPath, join(modelsDir, `${modelId}.gguf`));
}

async function direct(concurrency: number): Promise<RunResult> {
  const llama = await getLlama({ gpu: false, maxThreads: threads, build: "never", logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: join(modelsDir, `${modelId}.gguf`) });
  const context = await model.createContext({ sequences: parallel, contextSize, threads });
  // Warm-up, as the server gets one below.
  const warm = new LlamaChat({ contextSequence: context.getSequence() });
  await warm.generateResponse(
    [
      { type: "user", text: "hi" },
      { type: "model", response: [] },
    ],
    { maxTokens: 2 },
  );
  warm.dispose({ disposeSequence: true });
  const sequences = Array.from({ length: concurrency }, () => context.getSequence());
  const ttft: number[] = [];
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    sequences.map(async (sequence, i) => {
      const chat = new LlamaChat({ contextSequence: sequence });
      const prompt = promptFor(concurrency, i);
      const t0 = performance.now();
      let first = true;
      await chat.generateResponse(
        [
          { type: "user", text: prompt },
          { type: "model", response: [] },
        ],
        {
          maxTokens,
          // The engine's settings for a request that sets temperature 0 and nothing else.
          temperature: 0,
          topK: 40,
          topP: 0.95,
          minP: 0.05,
          repeatPenalty: false,
          onResponseChunk: (chunk) => {
            if (first && chunk.tokens.length > 0) {
              first = false;
              ttft.push(performance.now() - t0);
            }
            tokens += chunk.tokens.length;
          },
        },
      );
      chat.dispose({ disposeSequence: false });
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await context.dispose();
  await model.dispose();
  return { tokens, seconds, ttftMs: ttft };
}

async function throughApi(url: string, key: string, concurrency: number, warmUp = false): Promise<RunResult> {
  const ttft: number[] = [];
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: modelId,
          messages: [{ role: "user", content: warmUp ? "hi" : promptFor(concurrency, i) }],
          max_tokens: maxTokens,
          temperature: 0,
          stream: true,
          stream_options: { include_usage: true },
        }),
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      const decoder = new TextDecoder();
      let buffer = "";
      let first = true;
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(piece, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
          const chunk = JSON.parse(line.slice(6));
          if (first && chunk.choices?.[0]?.delta?.content) {
            first = false;
            ttft.push(performance.now() - t0);
          }
          if (chunk.usage) tokens += chunk.usage.completion_tokens;
        }
      }
    }),
  );
  return { tokens, seconds: (performance.now() - started) / 1000, ttftMs: ttft };
}

const rows: string[][] = [];
const directResults = new Map<number, RunResult>();
for (const n of levels) directResults.set(n, await direct(n));

const core = createCore({
  port: 0,
  dataDir: work,
  modelsDir,
  threads,
  gpu: false,
  parallel,
  contextSize,
  logger: pino({ level: "silent" }),
});
const url = await core.start();
const key = core.keys.create({ name: "bench", scope: "inference" }).key;
await throughApi(url, key, 1, true); // warm-up: loads the model
for (const n of levels) {
  const d = directResults.get(n) as RunResult;
  const a = await throughApi(url, key, n);
  const dRate = d.tokens / d.seconds;
  const aRate = a.tokens / a.seconds;
  rows.push([
    String(n),
    `${d.tokens} / ${a.tokens}`,
    dRate.toFixed(1),
    aRate.toFixed(1),
    (aRate / dRate).toFixed(3),
    percentile(d.ttftMs, 50).toFixed(0),
    percentile(a.ttftMs, 50).toFixed(0),
    percentile(d.ttftMs, 95).toFixed(0),
    percentile(a.ttftMs, 95).toFixed(0),
  ]);
}
const engine = core.engine;
const build = engine ? `${engine.llama.buildType} ${engine.llama.gpu === false ? "cpu" : engine.llama.gpu}` : "?";
await core.stop();
rmSync(work, { recursive: true, force: true });

const header = [
  "streams",
  "tokens direct / API",
  "direct tok/s",
  "API tok/s",
  "API/direct",
  "direct TTFT p50 ms",
  "API TTFT p50 ms",
  "direct TTFT p95 ms",
  "API TTFT p95 ms",
];
const table = [
  `| ${header.join(" | ")} |`,
  `|${header.map(() => "---").join("|")}|`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
].join("\n");
const machine = `${cpus()[0]?.model ?? "?"}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const heading = `## ${new Date().toISOString().slice(0, 10)} — chat completions, ${modelId}, ${maxTokens} tokens, ${threads} thread(s), greedy\n\nMachine: ${machine}. node-llama-cpp binary: ${build}.\n`;
console.log(`${heading}\n${table}\n`);
if (!values["no-record"]) {
  const file = join(import.meta.dirname, "RESULTS.md");
  if (!existsSync(file)) appendFileSync(file, "# Benchmark results\n\nAppended by `npm run bench`; newest last.\n\n");
  appendFileSync(file, `${heading}\n${table}\n\n`);
}
