/**
 * `npm run bench`: streamed decode throughput and time to first token, side by side,
 * in one run, on the same generated model with the same settings and greedy decoding:
 *
 *   direct        node-llama-cpp used plainly (one context, a LlamaCompletion/LlamaChat per stream)
 *   engine        our Engine in-process (its batching and scheduling, no HTTP)
 *   process       the same Engine in an engine process, through the Supervisor (IPC, no HTTP)
 *   api           `maas-base serve`, streamed /v1/completions or /v1/chat/completions
 *   llama-server  llama.cpp's own server, when --llama-server PATH is given
 *                 (bench/build-llama-server.sh builds it from the same bundled source)
 *
 * Every side runs in a process of its own, all started before measuring; the runs are
 * interleaved (every side once per level per repeat, in rotating order). Each cell is
 * the median of --repeats runs.
 *
 *   npm run bench -- [--threads 1,2] [--streams 1,4,8] [--tokens 64] [--repeats 5]
 *                    [--modes completions,chat] [--llama-server PATH] [--model path.gguf]
 *                    [--quant Q8_0|Q4_K_M [--llama-quantize PATH]] [--uv-pool 1] [--no-record]
 */

import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";
import {
  BENCH_QUANTS,
  type BenchQuant,
  benchEncoders,
  benchModel,
  benchQuantized,
  type EncoderResult,
  embeddingInputs,
  type Mode,
  median,
  percentile,
  promptFor,
  RERANK_QUERY,
  type RunResult,
  rerankDocuments,
  sseData,
  waitHealthy,
} from "./common.js";
import { benchIsolation } from "./isolation.js";
import { benchProxy } from "./proxy.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1,2" },
    streams: { type: "string", default: "1,4,8" },
    tokens: { type: "string", default: "64" },
    repeats: { type: "string", default: "5" },
    modes: { type: "string", default: "completions,chat" },
    "llama-server": { type: "string" },
    model: { type: "string" },
    quant: { type: "string" },
    "llama-quantize": { type: "string" },
    "uv-pool": { type: "string", default: "1" },
    "no-encoders": { type: "boolean", default: false },
    "no-proxy": { type: "boolean", default: false },
    "only-proxy": { type: "boolean", default: false },
    "no-record": { type: "boolean", default: false },
    "no-isolation": { type: "boolean", default: false },
  },
});
const threadCounts = (values.threads ?? "1").split(",").map(Number);
const levels = (values.streams ?? "1,4,8").split(",").map(Number);
const maxTokens = Number(values.tokens);
const repeats = Number(values.repeats);
const modes = (values.modes ?? "completions").split(",") as Mode[];
const llamaServer = values["llama-server"] ? resolve(values["llama-server"]) : undefined;
const uvPool = values["uv-pool"] ?? "1";
const parallel = Math.max(...levels);
const contextSize = 1024;
const root = resolve(import.meta.dirname, "..");

if (llamaServer && !existsSync(llamaServer)) throw new Error(`no llama-server at ${llamaServer}`);
const quant = values.quant as BenchQuant | undefined;
if (quant && !BENCH_QUANTS.includes(quant)) throw new Error(`--quant takes ${BENCH_QUANTS.join(" or ")}`);
if (quant && values.model) throw new Error("--quant quantizes the bench model; it does not combine with --model");
const cacheDir = join(root, "bench", ".cache");
const quantizeBin = resolve(values["llama-quantize"] ?? join(root, "bench", "llama-server", "bin", "llama-quantize"));
const modelPath = values.model
  ? resolve(values.model)
  : quant
    ? benchQuantized(cacheDir, quant, quantizeBin)
    : benchModel(cacheDir);
const work = mkdtempSync(join(tmpdir(), "maas-bench-"));
const modelsDir = join(work, "models");
mkdirSync(modelsDir);
symlinkSync(modelPath, join(modelsDir, "bench.gguf"));
const encoderModels = benchEncoders(cacheDir);
symlinkSync(encoderModels.rerank, join(modelsDir, "bench-rerank.gguf"));
symlinkSync(encoderModels.embed, join(modelsDir, "bench-embed.gguf"));
const childEnv = { ...process.env, UV_THREADPOOL_SIZE: uvPool };

function run(command: string, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { env: childEnv, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => (code === 0 ? ok(out) : fail(new Error(`${command} ${args.join(" ")} exited ${code}`))));
  });
}

/** A side that can run one measurement at a time, kept running across the interleaved runs. */
interface LiveSide {
  run(streams: number, repeat: number): Promise<RunResult>;
  stop(): Promise<void>;
}

/** An in-process side (`bench/worker.ts`), warm and waiting for commands on stdin. */
async function workerSide(side: "direct" | "engine" | "process", mode: Mode, threads: number): Promise<LiveSide> {
  const child = spawn(
    process.execPath,
    [
      join(root, "bin", "run-ts.mjs"),
      join(root, "bench", "worker.ts"),
      ...["--side", side, "--mode", mode, "--model", join(modelsDir, "bench.gguf"), "--threads", String(threads)],
      ...["--levels", levels.join(","), "--tokens", String(maxTokens), "--repeats", String(repeats)],
      ...["--context", String(contextSize)],
    ],
    { env: childEnv, stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await lines.next();
    if (line.done) throw new Error(`${side} worker exited (${child.exitCode})`);
    return JSON.parse(line.value);
  };
  await next(); // {"ready":true}
  return {
    async run(streams, repeat) {
      child.stdin.write(`${JSON.stringify({ streams, repeat })}\n`);
      return (await next()) as RunResult;
    },
    async stop() {
      child.stdin.end();
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
    },
  };
}

/** Streams `streams` generations at once through an OpenAI-compatible HTTP server. */
async function httpRun(base: string, headers: Record<string, string>, mode: Mode, streams: number, r: number) {
  const ttftMs: number[] = [];
  let tokens = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      const prompt = r < 0 ? "Warm up." : promptFor(streams, r, i);
      const body = {
        model: "bench",
        ...(mode === "completions" ? { prompt } : { messages: [{ role: "user", content: prompt }] }),
        max_tokens: maxTokens,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      };
      const t0 = performance.now();
      const res = await fetch(`${base}/v1/${mode === "completions" ? "completions" : "chat/completions"}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      let first = true;
      let counted = 0;
      let usage: number | undefined;
      for await (const data of sseData(res.body as unknown as AsyncIterable<Uint8Array>)) {
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        const choice = chunk.choices?.[0];
        const text = choice?.text ?? choice?.delta?.content;
        if (text) {
          counted++;
          if (first) {
            first = false;
            ttftMs.push(performance.now() - t0);
          }
        }
        if (chunk.usage?.completion_tokens !== undefined) usage = chunk.usage.completion_tokens;
      }
      tokens += usage ?? counted;
    }),
  );
  return { streams, tokens, seconds: (performance.now() - started) / 1000, ttftMs };
}

/** Starts `maas-base serve` (our API) or llama-server on a free port; resolves once healthy. */
async function startServer(side: "api" | "llama-server", threads: number, tag: string) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let headers: Record<string, string> = {};
  let child: ChildProcess;
  if (side === "api") {
    const dataDir = join(work, `data-${tag}`);
    const cli = join(root, "bin", "maas-base.mjs");
    const created = await run(process.execPath, [cli, "keys", "create", "--name", "bench", "--json", "--data-dir", dataDir]);
    headers = { authorization: `Bearer ${JSON.parse(created).key}` };
    child = spawn(
      process.execPath,
      [
        cli,
        "serve",
        // A background engine build would compete with what is measured (the bench measures steady state).
        "--no-engine-build",
        ...["--port", String(port), "--data-dir", dataDir, "--models-dir", modelsDir, "--threads", String(threads)],
        ...["--parallel", String(parallel), "--context-size", String(contextSize), "--cpu", "--log-level", "warn"],
      ],
      { env: childEnv, stdio: ["ignore", "ignore", "ignore"] },
    );
  } else {
    child = spawn(
      llamaServer as string,
      [
        ...["-m", join(modelsDir, "bench.gguf"), "--alias", "bench", "--host", "127.0.0.1", "--port", String(port)],
        ...["-t", String(threads), "-tb", String(threads), "-np", String(parallel)],
        ...["-c", String(contextSize * parallel), "--no-webui", "--log-disable"],
      ],
      { stdio: ["ignore", "ignore", "ignore"] },
    );
  }
  const stop = async () => {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
  };
  try {
    await waitHealthy(`${base}/health`, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { base, headers, stop };
}

async function httpSide(side: "api" | "llama-server", mode: Mode, threads: number): Promise<LiveSide> {
  const server = await startServer(side, threads, `${mode}-${threads}`);
  await httpRun(server.base, server.headers, mode, 1, -1); // warm-up (and, for our server, the model load)
  return { run: (streams, repeat) => httpRun(server.base, server.headers, mode, streams, repeat), stop: server.stop };
}

/** Rerank (1 query × 64 documents) and embeddings (a batch of 32) through our API. */
async function encodersApi(threads: number): Promise<EncoderResult[]> {
  const server = await startServer("api", threads, `encoders-${threads}`);
  const post = async (path: string, body: object) => {
    const res = await fetch(`${server.base}${path}`, {
      method: "POST",
      headers: { ...server.headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    await res.json();
  };
  const documents = rerankDocuments();
  const inputs = embeddingInputs();
  const rerank = { model: "bench-rerank", query: RERANK_QUERY, documents, return_documents: false };
  const embed = { model: "bench-embed", input: inputs, encoding_format: "float" };
  try {
    await post("/v1/rerank", { ...rerank, documents: ["warm up"] });
    await post("/v1/embeddings", { ...embed, input: "warm up" });
    const results: EncoderResult[] = [];
    for (let r = 0; r < repeats; r++) {
      let t0 = performance.now();
      await post("/v1/rerank", rerank);
      const rerankSeconds = (performance.now() - t0) / 1000;
      t0 = performance.now();
      await post("/v1/embeddings", embed);
      const embedSeconds = (performance.now() - t0) / 1000;
      results.push({ rerankDocsPerSecond: documents.length / rerankSeconds, embedInputsPerSecond: inputs.length / embedSeconds });
    }
    return results;
  } finally {
    await server.stop();
  }
}

async function encodersDirect(threads: number): Promise<EncoderResult[]> {
  const out = await run(process.execPath, [
    join(root, "bin", "run-ts.mjs"),
    join(root, "bench", "worker.ts"),
    ...["--side", "encoders", "--mode", "completions", "--model", join(modelsDir, "bench.gguf")],
    ...["--threads", String(threads), "--levels", "1", "--tokens", "1", "--repeats", String(repeats), "--context", "512"],
    ...["--rerank-model", join(modelsDir, "bench-rerank.gguf"), "--embed-model", join(modelsDir, "bench-embed.gguf")],
  ]);
  return out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as EncoderResult);
}

interface Cell {
  /** Median tok/s, and the best run: this shared machine's noise only ever slows a run down. */
  rate: number;
  best: number;
  ttft50: number;
  ttft95: number;
  tokens: number;
}

function summarize(results: RunResult[], streams: number): Cell {
  const runs = results.filter((r) => r.streams === streams);
  return {
    rate: median(runs.map((r) => r.tokens / r.seconds)),
    best: Math.max(...runs.map((r) => r.tokens / r.seconds)),
    ttft50: median(runs.map((r) => percentile(r.ttftMs, 50))),
    ttft95: median(runs.map((r) => percentile(r.ttftMs, 95))),
    tokens: median(runs.map((r) => r.tokens)),
  };
}

const sides: Array<"direct" | "engine" | "process" | "api" | "llama-server"> = [
  "direct",
  "engine",
  "process",
  "api",
  ...(llamaServer ? (["llama-server"] as const) : []),
];
const sections: string[] = [];
const machine = `${cpus()[0]?.model.trim() ?? "?"}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const engineInfo = await run(process.execPath, [join(root, "bin", "maas-base.mjs"), "gpus", "--json", "--cpu"]).then(
  (out) => JSON.parse(out) as { engine: { build: string; source: string; cpuVariant: string | null; cpuKernels: string } },
  () => null,
);
for (const mode of values["only-proxy"] ? [] : modes) {
  for (const threads of threadCounts) {
    const results = new Map<string, RunResult[]>(sides.map((side) => [side, []]));
    const live = new Map<string, LiveSide>();
    for (const side of sides) {
      process.stderr.write(`bench: ${mode}, ${threads} thread(s), starting ${side}…\n`);
      live.set(
        side,
        side === "direct" || side === "engine" || side === "process"
          ? await workerSide(side, mode, threads)
          : await httpSide(side, mode, threads),
      );
    }
    // Interleaved: each repeat runs every side once per level, in a rotating order, so a
    // slow spell of this shared machine lands on all sides rather than on one.
    for (let r = 0; r < repeats; r++) {
      process.stderr.write(`bench: ${mode}, ${threads} thread(s), repeat ${r + 1} of ${repeats}…\n`);
      for (const [li, streams] of levels.entries()) {
        const order = sides.map((_, i) => sides[(i + r + li) % sides.length] as string);
        for (const side of order) results.get(side)?.push(await (live.get(side) as LiveSide).run(streams, r));
      }
    }
    for (const side of live.values()) await side.stop();
    const header = [
      "streams",
      ...sides.map((s) => `${s} tok/s median (best)`),
      "process/engine",
      "api/engine",
      ...(llamaServer ? ["engine/llama-server", "api/llama-server"] : []),
      ...sides.map((s) => `${s} TTFT p50/p95 ms`),
    ];
    const rows = levels.map((n) => {
      const cell = Object.fromEntries(sides.map((s) => [s, summarize(results.get(s) ?? [], n)])) as Record<string, Cell>;
      const ratio = (a: string, b: string) =>
        `${((cell[a]?.rate ?? 0) / (cell[b]?.rate ?? 1)).toFixed(2)} (${((cell[a]?.best ?? 0) / (cell[b]?.best ?? 1)).toFixed(2)})`;
      return [
        String(n),
        ...sides.map((s) => `${(cell[s]?.rate ?? 0).toFixed(1)} (${(cell[s]?.best ?? 0).toFixed(1)})`),
        ratio("process", "engine"),
        ratio("api", "engine"),
        ...(llamaServer ? [ratio("engine", "llama-server"), ratio("api", "llama-server")] : []),
        ...sides.map((s) => `${(cell[s]?.ttft50 ?? 0).toFixed(0)} / ${(cell[s]?.ttft95 ?? 0).toFixed(0)}`),
      ];
    });
    const table = [
      `| ${header.join(" | ")} |`,
      `|${header.map(() => "---").join("|")}|`,
      ...rows.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
    const section = `### ${mode}, ${threads} thread(s)\n\n${table}\n`;
    console.log(section);
    sections.push(section);
  }
}
if (!values["no-encoders"] && !values["only-proxy"]) {
  const header = [
    "threads",
    "rerank docs/s direct",
    "rerank docs/s api",
    "api/direct",
    "embed inputs/s direct",
    "embed inputs/s api",
    "api/direct",
  ];
  const rows: string[][] = [];
  for (const threads of threadCounts) {
    process.stderr.write(`bench: rerank and embeddings, ${threads} thread(s)…\n`);
    const direct = await encodersDirect(threads);
    const api = await encodersApi(threads);
    const d = {
      rerank: median(direct.map((r) => r.rerankDocsPerSecond)),
      embed: median(direct.map((r) => r.embedInputsPerSecond)),
    };
    const a = { rerank: median(api.map((r) => r.rerankDocsPerSecond)), embed: median(api.map((r) => r.embedInputsPerSecond)) };
    rows.push([
      String(threads),
      d.rerank.toFixed(1),
      a.rerank.toFixed(1),
      (a.rerank / d.rerank).toFixed(3),
      d.embed.toFixed(1),
      a.embed.toFixed(1),
      (a.embed / d.embed).toFixed(3),
    ]);
  }
  const table = [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
  const section = `### rerank (1 query × 64 documents) and embeddings (batch of 32), 6×384 BERTs\n\n${table}\n`;
  console.log(section);
  sections.push(section);
}
if (!values["no-proxy"]) {
  process.stderr.write("bench: generic proxy vs direct, 64 connections…\n");
  const rows = await benchProxy(root);
  const lines = ["| upstream answers in | target | requests/s | p50 ms | p99 ms | proxy/direct |", "|---|---|---|---|---|---|"];
  for (const delay of [...new Set(rows.map((r) => r.upstreamDelayMs))]) {
    const direct = rows.find((r) => r.upstreamDelayMs === delay && r.target === "direct");
    const proxied = rows.find((r) => r.upstreamDelayMs === delay && r.target === "proxy");
    if (!direct || !proxied) continue;
    const ratio = (proxied.requestsPerSecond / direct.requestsPerSecond).toFixed(3);
    for (const r of [direct, proxied]) {
      lines.push(
        `| ${delay} ms | ${r.target} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms} | ${r.p99Ms} | ${r.target === "proxy" ? `${ratio} (+${proxied.p50Ms - direct.p50Ms} ms p50)` : ""} |`,
      );
    }
  }
  const section = `### generic proxy: GET /model/proxy/<id>/v1/models vs the upstream directly (64 connections, autocannon, median of 3 × 5 s)\n\n${lines.join("\n")}\n`;
  console.log(section);
  sections.push(section);
}
if (!values["no-isolation"] && !values["only-proxy"]) {
  process.stderr.write("bench: engine isolation (looping template, 30 000-value enum, 10 MB prompt)…\n");
  const section = await benchIsolation();
  console.log(section);
  sections.push(section);
}
rmSync(work, { recursive: true, force: true });

const heading = values["only-proxy"]
  ? `## ${new Date().toISOString().slice(0, 10)} — generic proxy only\n\nMachine: ${machine}.\n`
  : `## ${new Date().toISOString().slice(0, 10)} — side by side, ${values.model ? values.model : `bench-medium (12×768 ${quant ?? "F16"} llama, ASCII vocabulary)`}, ` +
    `${maxTokens} tokens, greedy, median of ${repeats}\n\n` +
    `Machine: ${machine}. Engine binary: ${engineInfo ? `${engineInfo.engine.build} (${engineInfo.engine.source}, CPU ${engineInfo.engine.cpuVariant ?? "?"}, kernels ${engineInfo.engine.cpuKernels})` : "?"}. ` +
    `UV_THREADPOOL_SIZE=${uvPool} for the Node sides. ${parallel} sequences per context, ${contextSize} tokens each.\n`;
if (!values["no-record"]) {
  const file = join(import.meta.dirname, "RESULTS.md");
  if (!existsSync(file)) appendFileSync(file, "# Benchmark results\n\nAppended by `npm run bench`; newest last.\n\n");
  appendFileSync(file, `${heading}\n${sections.join("\n")}\n`);
}
