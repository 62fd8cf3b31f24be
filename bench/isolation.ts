/**
 * Engine isolation under hostile work (`npm run bench` section; alone:
 * `node bin/run-ts.mjs bench/isolation.ts`): the server's own event-loop delay
 * (`perf_hooks.monitorEventLoopDelay`) and other clients' `/health` and tiny-chat
 * latency while one client sends a model with a looping chat template, a
 * 30 000-value enum schema, or a 10 MB prompt; then the memory of the idle server
 * process and of each loaded model's engine process.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { writeLoopingTemplateModel } from "../src-main/core/fixtures/hostileModels.js";
import { writeFixtureModels } from "../src-main/core/fixtures/tinyModels.js";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";
import { startTestServer } from "../tests/helpers/server.js";
import { type ProcessMemory, processMemory, waitHealthy } from "./common.js";

/**
 * Sends one request from a child process of its own and resolves with its status: the
 * hostile client's own work (serializing and sending a 10 MB body) must not run on the
 * event loop whose delay is measured, which is the server's.
 */
function sendFromChild(url: string, headers: Record<string, string>, bodyFile: string): Promise<number> {
  const script =
    "const [url, headers, file] = process.argv.slice(1);" +
    "const body = require('node:fs').readFileSync(file);" +
    "fetch(url, { method: 'POST', headers: JSON.parse(headers), body }).then(async (r) => { await r.text(); console.log(r.status); });";
  const child = spawn(process.execPath, ["-e", script, url, JSON.stringify(headers), bodyFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolveStatus, reject) => {
    child.on("exit", (code) => (code === 0 ? resolveStatus(Number(out.trim())) : reject(new Error(`client exited ${code}`))));
  });
}

interface Row {
  load: string;
  status: number;
  seconds: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  healthMaxMs: number;
  chatMaxMs: number;
}

export async function benchIsolation(): Promise<string> {
  // The tests' server helper: the same core, tiny models, one thread; plus the looping-template model.
  const server = await startTestServer({ bodyLimit: 32 * 1024 * 1024, engineWatchdogMs: 30_000 }, (modelsDir) =>
    writeLoopingTemplateModel(join(modelsDir, "looping.gguf")),
  );
  const { url, key } = server;
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const chat = (body: object) => fetch(`${url}/v1/chat/completions`, { method: "POST", headers, body: JSON.stringify(body) });
  const small = { model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 2 };
  await chat(small); // load tiny-chat first: its latency below is a loaded model's
  const loads: Array<[string, object]> = [
    [
      "looping chat template (a model's first request)",
      { model: "looping", messages: [{ role: "user", content: "x" }], max_tokens: 2 },
    ],
    [
      "response_format: an enum of 30 000 values",
      {
        ...small,
        response_format: {
          type: "json_schema",
          json_schema: { name: "e", schema: { type: "string", enum: Array.from({ length: 30_000 }, (_, i) => `value-${i}`) } },
        },
      },
    ],
    ["a 10 MB prompt", { ...small, messages: [{ role: "user", content: "lorem ipsum ".repeat(10 * 1024 * 87) }] }],
  ];
  const rows: Row[] = [];
  const bodies = mkdtempSync(join(tmpdir(), "maas-isolation-"));
  for (const [label, body] of loads) {
    const bodyFile = join(bodies, "body.json");
    writeFileSync(bodyFile, JSON.stringify(body));
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const health: number[] = [];
    const chats: number[] = [];
    let running = true;
    const probes = [
      (async () => {
        while (running) {
          const t = performance.now();
          await fetch(`${url}/health`);
          health.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      (async () => {
        while (running) {
          const t = performance.now();
          await (await chat(small)).json();
          chats.push(performance.now() - t);
        }
      })(),
    ];
    const started = performance.now();
    const status = await sendFromChild(`${url}/v1/chat/completions`, headers, bodyFile);
    const seconds = (performance.now() - started) / 1000;
    running = false;
    await Promise.all(probes);
    histogram.disable();
    rows.push({
      load: label,
      status,
      seconds,
      loopDelayMaxMs: histogram.max / 1e6,
      loopDelayP99Ms: histogram.percentile(99) / 1e6,
      healthMaxMs: Math.max(0, ...health),
      chatMaxMs: Math.max(0, ...chats),
    });
  }
  rmSync(bodies, { recursive: true, force: true });
  await server.stop();
  const lines = [
    "| hostile request (sent from another process) | its status | its seconds | server event-loop delay max / p99 ms | other clients: /health max ms | tiny-chat (2 tokens) max ms |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.load} | ${r.status} | ${r.seconds.toFixed(1)} | ${r.loopDelayMaxMs.toFixed(0)} / ${r.loopDelayP99Ms.toFixed(0)} | ${r.healthMaxMs.toFixed(0)} | ${r.chatMaxMs.toFixed(0)} |`,
    ),
    "",
    await memoryLines(),
  ];
  return `### engine isolation: the server stays responsive while one client sends hostile work\n\n${lines.join("\n")}\n`;
}

const mb = (n: number) => (n / 2 ** 20).toFixed(0);
const memoryCells = (m: ProcessMemory | null) => (m ? `${mb(m.rss)} | ${mb(m.pss)} | ${mb(m.uss)}` : "– | – | –");

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Memory as a user's `maas-base serve` has it (the compiled CLI, no TypeScript loader):
 * the idle server, then each engine process with a tiny model loaded. RSS counts pages
 * shared with other processes (the node binary, libllama's code) in full in each; PSS
 * shares them out; USS (private pages) is what one more process costs.
 */
async function memoryLines(): Promise<string> {
  const root = resolve(import.meta.dirname, "..");
  const work = mkdtempSync(join(tmpdir(), "maas-memory-"));
  const modelsDir = join(work, "models");
  writeFixtureModels(modelsDir);
  const dataDir = join(work, "data");
  const cli = join(root, "bin", "maas-base.mjs");
  const key = JSON.parse(
    execFileSync(process.execPath, [
      ...[cli, "keys", "create", "--name", "b", "--json", "--data-dir", dataDir],
      ...["--scope", "inference,management"],
    ]).toString(),
  ).key as string;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      cli,
      "serve",
      "--no-engine-build",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--models-dir",
      modelsDir,
      "--threads",
      "1",
      "--cpu",
    ],
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  const rows: string[] = [];
  try {
    await waitHealthy(`${base}/health`, child);
    await new Promise((r) => setTimeout(r, 3000));
    const server = child.pid as number;
    rows.push(`| server process, no model loaded | ${memoryCells(processMemory(server))} |`);
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const before = new Set(childrenOf(server));
    await (
      await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
      })
    ).text();
    await (
      await fetch(`${base}/v1/embeddings`, { method: "POST", headers, body: JSON.stringify({ model: "tiny-embed", input: "x" }) })
    ).text();
    await new Promise((r) => setTimeout(r, 2000));
    const models = (
      (await (await fetch(`${base}/api/admin/engine`, { headers })).json()) as {
        models?: Array<{ id: string; pid: number | null }>;
      }
    ).models;
    const serving = new Map((models ?? []).filter((m) => m.pid).map((m) => [m.pid as number, m.id]));
    const engines = childrenOf(server).filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("engine"),
    );
    for (const pid of engines) {
      const what = serving.has(pid)
        ? `engine process of ${serving.get(pid)}`
        : `engine process with no model yet (the spare${before.has(pid) ? ", started before the requests" : ""})`;
      rows.push(`| ${what} | ${memoryCells(processMemory(pid))} |`);
    }
    rows.push(`| server process, tiny-chat and tiny-embed loaded | ${memoryCells(processMemory(server))} |`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
    rmSync(work, { recursive: true, force: true });
  }
  return [
    "Memory of `maas-base serve` (compiled CLI) with the tiny fixture models (each engine process: the cost of one more loaded model beyond its weights and context):",
    "",
    "| process | RSS MB | PSS MB | USS MB |",
    "|---|---|---|---|",
    ...rows,
  ].join("\n");
}

// Run alone (`node bin/run-ts.mjs bench/isolation.ts`): argv[1] is the script path as typed.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) console.log(await benchIsolation());
