/**
 * `npm run bench:agent`: a workload shaped like coding agents (Claude Code, Codex).
 * Each session has a long system prefix of its own and a growing conversation; before
 * every turn it sends a short side request with another prompt (a title, a summary),
 * as those agents do. Sessions run at once against one server with `--slots` sequences.
 * Measured per turn: time to first token (streamed /v1/chat/completions) and the prompt
 * tokens the server reported as cached. Our server and, with --llama-server PATH,
 * llama.cpp's own (bench/build-llama-server.sh), the same model, slots and context.
 *
 *   npm run bench:agent -- [--sessions 2] [--slots 4] [--prefix-words 2500] [--turns 4]
 *                          [--tokens 16] [--threads 1] [--model path.gguf] [--llama-server PATH] [--no-record]
 *
 * Issue 16's shapes: 2 sessions on 4 slots (every prefix fits: turns should reuse it), and
 * 6 sessions on 4 slots (prefixes are evicted: only saved prefixes would help).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";
import { benchModel, median, percentile, sseData } from "./common.js";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "2" },
    slots: { type: "string", default: "4" },
    "prefix-words": { type: "string", default: "2500" },
    turns: { type: "string", default: "4" },
    tokens: { type: "string", default: "16" },
    threads: { type: "string", default: "1" },
    "context-size": { type: "string", default: "8192" },
    model: { type: "string" },
    "llama-server": { type: "string" },
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
const modelPath = values.model ? resolve(values.model) : benchModel(join(root, "bench", ".cache"));
symlinkSync(modelPath, join(modelsDir, "bench.gguf"));

interface Side {
  name: string;
  base: string;
  headers: Record<string, string>;
  stop(): Promise<void>;
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no answer from ${url}`);
}

async function startOurs(): Promise<Side> {
  const port = await freePort();
  const cli = join(root, "bin", "maas-base.mjs");
  const dataDir = join(work, "data");
  const created = await new Promise<string>((ok, fail) => {
    const c = spawn(process.execPath, [cli, "keys", "create", "--name", "bench", "--json", "--data-dir", dataDir], {
      stdio: ["ignore", "pipe", "inherit"],
    });
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
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    },
  };
}

async function startLlamaServer(path: string): Promise<Side> {
  const port = await freePort();
  const child = spawn(
    path,
    [
      ...["-m", join(modelsDir, "bench.gguf"), "--alias", "bench", "--host", "127.0.0.1", "--port", String(port)],
      ...["-t", String(threads), "-tb", String(threads), "-np", String(slots), "-c", String(contextSize * slots)],
      ...["--no-webui", "--log-disable"],
    ],
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(`${base}/health`, child);
  return {
    name: "llama-server",
    base,
    headers: {},
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
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

async function workload(side: Side) {
  const turnTtft: number[] = [];
  const turnCachedShare: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async (_, s) => {
      const history: Message[] = [{ role: "system", content: prefixFor(s) }];
      for (let t = 0; t < turns; t++) {
        await ask(side, [{ role: "user", content: `Write a five word title for task ${s}.${t}.` }], undefined);
        history.push({ role: "user", content: `Step ${t}: continue the task.` });
        const turn = await ask(side, history, `session-${s}`);
        history.push({ role: "assistant", content: turn.text || "ok" });
        if (t > 0) {
          turnTtft.push(turn.ttftMs);
          turnCachedShare.push(turn.prompt ? turn.cached / turn.prompt : 0);
        }
      }
    }),
  );
  return { wallSeconds: (performance.now() - started) / 1000, turnTtft, turnCachedShare };
}

const sides: Side[] = [];
try {
  sides.push(await startOurs());
  if (values["llama-server"]) sides.push(await startLlamaServer(resolve(values["llama-server"])));
  const rows: string[] = [];
  for (const side of sides) {
    await ask(side, [{ role: "user", content: "warm up" }], undefined);
    const r = await workload(side);
    rows.push(
      `| ${side.name} | ${r.wallSeconds.toFixed(1)} | ${median(r.turnTtft).toFixed(0)} | ${percentile(r.turnTtft, 95).toFixed(0)} | ${(median(r.turnCachedShare) * 100).toFixed(0)} % |`,
    );
    console.log(rows.at(-1));
  }
  const table = [
    `## ${new Date().toISOString().slice(0, 10)} — agent workload, ${sessions} sessions on ${slots} slots, ~${prefixWords}-word prefixes, ${turns} turns, ${maxTokens} tokens, ${threads} thread(s)`,
    "",
    `Machine: ${cpus()[0]?.model ?? "?"}, ${cpus().length} logical cores, Node ${process.version}. Model: ${basename(modelPath)}. Engine binary: see \`maas-base gpus --json\` (build, cpuVariant).`,
    "",
    "| server | wall s | turn TTFT p50 ms | turn TTFT p95 ms | prompt cached (median share) |",
    "|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
  console.log(table);
  if (!values["no-record"]) appendFileSync(join(root, "bench", "RESULTS.md"), `\n${table}`);
} finally {
  for (const side of sides) await side.stop();
  rmSync(work, { recursive: true, force: true });
}
