/**
 * `npm run bench:agent`: a workload shaped like coding agents (Claude Code, Codex).
 * Each session has a long system prefix of its own and a growing conversation; before
 * every turn it sends a short side request with another prompt (a title, a summary),
 * as those agents do. Sessions run at once against one server with `--slots` sequences.
 * Measured per turn: time to first token (streamed /v1/chat/completions) and the prompt
 * tokens the server reported as cached. Our server and, with --llama-server PATH,
 * llama.cpp's own (bench/build-llama-server.sh), the same model, slots and context.
 *
 *   npm run bench:agent -- [--sessions 2] [--slots 4] [--prefix-words 900] [--turns 4]
 *                          [--tokens 16] [--threads 1] [--model-size small|medium | --model path.gguf]
 *                          [--context-size 8192] [--llama-server PATH] [--no-record]
 *
 * Issue 16's shapes: 2 sessions on 4 slots (every prefix fits: turns should reuse it), and
 * 6 sessions on 4 slots (prefixes are evicted: our server restores them from disk,
 * engine/prefixStore.ts). A word of the prefix is about 5.4 tokens of the ASCII vocabulary,
 * so 900 words are ~5k tokens. The models are generated (ASCII vocabulary, 16k training
 * context so 5k-token prefixes fit): `medium` is bench-medium's 12×768 F16 shape, `small`
 * a 4×256 F16 llama for loaded machines. Besides times (load-dependent), the table counts
 * prompt tokens evaluated and reused over the turns, which do not depend on load.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";
import { median, percentile, sseData, waitHealthy } from "./common.js";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "2" },
    slots: { type: "string", default: "4" },
    "prefix-words": { type: "string", default: "900" },
    turns: { type: "string", default: "4" },
    tokens: { type: "string", default: "16" },
    threads: { type: "string", default: "1" },
    "context-size": { type: "string", default: "8192" },
    model: { type: "string" },
    "model-size": { type: "string", default: "small" },
    "llama-server": { type: "string" },
    "llama-cache-ram": { type: "string", default: "default" },
    "no-record": { type: "boolean", default: false },
  },
});
const sessions = Number(values.sessions);
const slots = Number(values.slots);
const prefixWords = Number(values["prefix-words"]);
const turns = Number(values.turns);
const maxTokens = Number(values.tokens);
const threads = Number(values.threads);
const contextSize = Number(values["context-size"]);
const root = resolve(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "maas-bench-agent-"));
const modelsDir = join(work, "models");
mkdirSync(modelsDir);

/** The generated agent-bench model (see the header), made once under bench/.cache. */
function agentModel(size: string): string {
  const shapes: Record<string, { layers: number; embedding: number; heads: number; feedForward: number }> = {
    small: { layers: 4, embedding: 256, heads: 4, feedForward: 1024 },
    medium: { layers: 12, embedding: 768, heads: 12, feedForward: 2048 },
  };
  const shape = shapes[size];
  if (!shape) throw new Error(`--model-size: small or medium, not '${size}'`);
  const cacheDir = join(root, "bench", ".cache");
  const path = join(cacheDir, `bench-agent-${size}-v1.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(cacheDir, { recursive: true });
  writeTinyLlama(`${path}.partial`, { ...shape, type: "f16", vocabulary: "ascii", contextLength: 16384, seed: 12 });
  renameSync(`${path}.partial`, path);
  return path;
}
const modelPath = values.model ? resolve(values.model) : agentModel(values["model-size"] as string);
symlinkSync(modelPath, join(modelsDir, "bench.gguf"));

interface Side {
  name: string;
  base: string;
  headers: Record<string, string>;
  /** Our engine's prefix-store counters (GET /api/admin/engine); null for llama-server. */
  prefixStats(): Promise<Record<string, number> | null>;
  stop(): Promise<void>;
}

async function startOurs(): Promise<Side> {
  const port = await freePort();
  const cli = join(root, "bin", "maas-base.mjs");
  const dataDir = join(work, "data");
  const created = await new Promise<string>((ok, fail) => {
    const c = spawn(
      process.execPath,
      [cli, "keys", "create", "--name", "bench", "--scope", "inference,management", "--json", "--data-dir", dataDir],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    c.stdout.on("data", (d) => {
      out += String(d);
    });
    c.on("exit", (code) => (code === 0 ? ok(out) : fail(new Error(`keys create exited ${code}`))));
  });
  const child = spawn(
    process.execPath,
    [
      cli,
      "serve",
      ...["--port", String(port), "--data-dir", dataDir, "--models-dir", modelsDir, "--threads", String(threads)],
      ...[
        "--parallel",
        String(slots),
        "--context-size",
        String(contextSize),
        "--cpu",
        "--log-level",
        "warn",
        "--no-engine-build",
      ],
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(`${base}/health`, child);
  return {
    name: "ours",
    base,
    headers: { authorization: `Bearer ${JSON.parse(created).key}` },
    prefixStats: async () => {
      const res = await fetch(`${base}/api/admin/engine`, { headers: { authorization: `Bearer ${JSON.parse(created).key}` } });
      const body = (await res.json()) as {
        build?: unknown;
        models: Array<{ id: string; prefixCache?: Record<string, number> | null }>;
      };
      engineBuild = JSON.stringify(body.build ?? null);
      const stats = body.models.find((m) => m.id === "bench")?.prefixCache;
      return stats ?? null;
    },
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
    },
  };
}

/** `cacheRam`: llama-server's `--cache-ram` in MiB (its host-memory prompt cache: 8192 by default, 0 = off), or its default. */
async function startLlamaServer(path: string, cacheRam: string): Promise<Side> {
  const port = await freePort();
  const child = spawn(
    path,
    [
      ...["-m", join(modelsDir, "bench.gguf"), "--alias", "bench", "--host", "127.0.0.1", "--port", String(port)],
      ...["-t", String(threads), "-tb", String(threads), "-np", String(slots), "-c", String(contextSize * slots)],
      ...["--no-webui", "--log-disable"],
      ...(cacheRam === "default" ? [] : ["--cache-ram", cacheRam]),
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(`${base}/health`, child);
  return {
    name: cacheRam === "default" ? "llama-server" : `llama-server --cache-ram ${cacheRam}`,
    base,
    headers: {},
    prefixStats: async () => null,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
    },
  };
}

type Message = { role: "system" | "user" | "assistant"; content: string };

/** Words from a small fixed list, different per session, so prefixes differ from the first word on. */
function prefixFor(session: number): string {
  const words = ["alpha", "bravo", "delta", "lima", "oscar", "tango", "zulu", "kilo", "echo", "hotel"];
  return Array.from({ length: prefixWords }, (_, i) => words[(i * (session + 3) + session) % words.length]).join(" ");
}

/** One streamed request: time to first token and the usage the server reported. */
async function ask(side: Side, messages: Message[], cacheKey: string | undefined) {
  const started = performance.now();
  const res = await fetch(`${side.base}/v1/chat/completions`, {
    method: "POST",
    headers: { ...side.headers, "content-type": "application/json" },
    body: JSON.stringify({
      model: "bench",
      messages,
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ...(cacheKey ? { prompt_cache_key: cacheKey } : {}),
    }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttftMs = Number.NaN;
  let text = "";
  let cached = 0;
  let prompt = 0;
  for await (const data of sseData(res.body as unknown as AsyncIterable<Uint8Array>)) {
    if (data === "[DONE]") break;
    const chunk = JSON.parse(data);
    const delta = chunk.choices?.[0]?.delta?.content;
    if (delta && Number.isNaN(ttftMs)) ttftMs = performance.now() - started;
    if (delta) text += delta;
    if (chunk.usage) {
      prompt = chunk.usage.prompt_tokens ?? 0;
      cached = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
    }
    // llama-server reports its reused prefix in `timings.cache_n`.
    if (chunk.timings?.cache_n !== undefined) cached = chunk.timings.cache_n;
  }
  return { ttftMs, text, cached, prompt, seconds: (performance.now() - started) / 1000 };
}

async function workload(sideOf: Side) {
  const turnTtft: number[] = [];
  const turnCachedShare: number[] = [];
  // Deterministic counts: prompt tokens of turns 2+ and how many the server reused.
  const counts = { turnPrompt: 0, turnCached: 0, allPrompt: 0, allCached: 0 };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async (_, s) => {
      const history: Message[] = [{ role: "system", content: prefixFor(s) }];
      for (let t = 0; t < turns; t++) {
        const side = await ask(sideOf, [{ role: "user", content: `Write a five word title for task ${s}.${t}.` }], undefined);
        history.push({ role: "user", content: `Step ${t}: continue the task.` });
        const turn = await ask(sideOf, history, `session-${s}`);
        history.push({ role: "assistant", content: turn.text || "ok" });
        counts.allPrompt += side.prompt + turn.prompt;
        counts.allCached += side.cached + turn.cached;
        if (t > 0) {
          turnTtft.push(turn.ttftMs);
          turnCachedShare.push(turn.prompt ? turn.cached / turn.prompt : 0);
          counts.turnPrompt += turn.prompt;
          counts.turnCached += turn.cached;
        }
      }
    }),
  );
  return { wallSeconds: (performance.now() - started) / 1000, turnTtft, turnCachedShare, counts };
}

/** Which engine binary served ours (GET /api/admin/engine `build`). */
let engineBuild = "unknown";
const sides: Side[] = [];
try {
  sides.push(await startOurs());
  const llamaServer = values["llama-server"];
  const variants = llamaServer ? (values["llama-cache-ram"] as string).split(",") : [];
  const rows: string[] = [];
  // One server at a time, so each has the machine to itself.
  for (const next of [null, ...variants]) {
    if (next !== null) {
      const previous = sides.at(-1);
      await previous?.stop();
      sides.push(await startLlamaServer(resolve(llamaServer as string), next));
    }
    const side = sides.at(-1) as Side;
    await ask(side, [{ role: "user", content: "warm up" }], undefined);
    const load = loadavg()[0]?.toFixed(1) ?? "?";
    const r = await workload(side);
    const c = r.counts;
    const store = await side.prefixStats();
    rows.push(
      `| ${side.name} | ${load} | ${r.wallSeconds.toFixed(1)} | ${median(r.turnTtft).toFixed(0)} | ${percentile(r.turnTtft, 95).toFixed(0)} | ${(median(r.turnCachedShare) * 100).toFixed(0)} % | ${c.turnPrompt} / ${c.turnCached} / ${c.turnPrompt - c.turnCached} | ${c.allPrompt - c.allCached} | ${store ? `${store.saves} / ${store.restores} / ${store.restoredTokens} / ${store.saveMs} / ${store.restoreMs}` : "—"} |`,
    );
    console.log(rows.at(-1));
  }
  const table = [
    `## ${new Date().toISOString().slice(0, 10)} — agent workload, ${sessions} sessions on ${slots} slots, ~${prefixWords}-word prefixes, ${turns} turns, ${maxTokens} tokens, ${threads} thread(s)`,
    "",
    `Machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} logical cores, Node ${process.version}. Model: ${basename(modelPath)}. Our engine binary: ${engineBuild}. llama-server: ${llamaServer ?? "not run"}.`,
    "",
    "| server | load avg (1 min, at start) | wall s | turn TTFT p50 ms | turn TTFT p95 ms | turn prompt cached (median share) | turns 2+: prompt / reused / evaluated tokens | all requests: evaluated tokens | prefix store: saves / restores / restored tokens / ms saving / ms restoring |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
  console.log(table);
  if (!values["no-record"]) appendFileSync(join(root, "bench", "RESULTS.md"), `\n${table}`);
} finally {
  for (const side of sides) await side.stop();
  rmSync(work, { recursive: true, force: true });
}
