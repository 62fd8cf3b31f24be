/**
 * Per-token CPU of our own work (issue 16, "little work per token"): a `maas-base serve`
 * child on the small trained stories260K model, streaming completions over HTTP, and the
 * CPU time (utime + stime from /proc, load-independent) its server process and its engine
 * process spend per generated token. Run: `node bin/run-ts.mjs bench/pertoken.ts
 * --model path/to/stories260K.gguf [--streams 1,8] [--tokens 256] [--rounds 4]`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";
import { sseData, waitHealthy } from "./common.js";

const root = resolve(import.meta.dirname, "..");
const TICK_US = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim() || 100);

/** utime + stime of a process, in µs. */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function stream(base: string, headers: Record<string, string>, prompt: string, maxTokens: number): Promise<number> {
  const res = await fetch(`${base}/v1/completions`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({
      model: "bench",
      prompt,
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let tokens = 0;
  for await (const data of sseData(res.body as unknown as AsyncIterable<Uint8Array>)) {
    if (data === "[DONE]") continue;
    const chunk = JSON.parse(data);
    if (chunk.usage?.completion_tokens !== undefined) tokens = chunk.usage.completion_tokens;
  }
  return tokens;
}

export interface PerTokenRow {
  streams: number;
  tokens: number;
  serverUsPerToken: number;
  engineUsPerToken: number;
  tokensPerSecond: number;
}

export async function benchPerToken(options: {
  model: string;
  streams: number[];
  tokens: number;
  rounds: number;
}): Promise<PerTokenRow[]> {
  const work = mkdtempSync(join(tmpdir(), "maas-pertoken-"));
  const modelsDir = join(work, "models");
  mkdirSync(modelsDir);
  symlinkSync(resolve(options.model), join(modelsDir, "bench.gguf"));
  const dataDir = join(work, "data");
  const cli = join(root, "bin", "maas-base.mjs");
  const created = execFileSync(process.execPath, [cli, "keys", "create", "--name", "bench", "--json", "--data-dir", dataDir]);
  const headers = { authorization: `Bearer ${JSON.parse(created.toString()).key}` };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const parallel = Math.max(...options.streams);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...(process.env.MAAS_SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
      cli,
      "serve",
      // A background engine build would compete with what is measured (the bench measures steady state).
      "--no-engine-build",
      ...["--port", String(port), "--data-dir", dataDir, "--models-dir", modelsDir, "--threads", "1"],
      ...["--parallel", String(parallel), "--context-size", "1024", "--cpu", "--log-level", "warn"],
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const rows: PerTokenRow[] = [];
  try {
    await waitHealthy(`${base}/health`, child);
    await stream(base, headers, "Once upon a time", 8); // loads the model
    const server = child.pid as number;
    // The engine process's last argument is its role (the inspector's is "inspector").
    const engine = childrenOf(server).find((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("engine"));
    if (!engine) throw new Error("no engine process found");
    for (const streams of options.streams) {
      const s0 = cpuUs(server);
      const e0 = cpuUs(engine);
      const t0 = performance.now();
      let tokens = 0;
      for (let r = 0; r < options.rounds; r++) {
        const counts = await Promise.all(
          Array.from({ length: streams }, (_, i) =>
            stream(base, headers, `Once upon a time, ${r}.${i}, there was`, options.tokens),
          ),
        );
        tokens += counts.reduce((a, b) => a + b, 0);
      }
      const seconds = (performance.now() - t0) / 1000;
      rows.push({
        streams,
        tokens,
        serverUsPerToken: (cpuUs(server) - s0) / tokens,
        engineUsPerToken: (cpuUs(engine) - e0) / tokens,
        tokensPerSecond: tokens / seconds,
      });
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}

export function perTokenTable(rows: PerTokenRow[]): string {
  return [
    "| streams | tokens | server process CPU µs/token | engine process CPU µs/token | tok/s (wall, noisy) |",
    "|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.streams} | ${r.tokens} | ${r.serverUsPerToken.toFixed(0)} | ${r.engineUsPerToken.toFixed(0)} | ${r.tokensPerSecond.toFixed(0)} |`,
    ),
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: { model: { type: "string" }, streams: { type: "string" }, tokens: { type: "string" }, rounds: { type: "string" } },
  });
  // A small *trained* model (random weights stop early): llama2.c's stories260K as a GGUF.
  const model = values.model;
  if (!model) throw new Error("give --model path/to/stories260K.gguf (a small trained llama GGUF)");
  if (!existsSync(model)) throw new Error(`no model at ${model}`);
  const rows = await benchPerToken({
    model,
    streams: (values.streams ?? "1,8").split(",").map(Number),
    tokens: Number(values.tokens ?? 256),
    rounds: Number(values.rounds ?? 4),
  });
  console.log(perTokenTable(rows));
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
}
