/**
 * Engine isolation under hostile work (`npm run bench` section; alone:
 * `node bin/run-ts.mjs bench/isolation.ts`): the server's own event-loop delay
 * (`perf_hooks.monitorEventLoopDelay`) and other clients' `/health` and tiny-chat
 * latency while one client sends a model with a looping chat template, a
 * 30 000-value enum schema, or a 10 MB prompt; then the memory of the idle server
 * process and of each loaded model's engine process.
 */
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { writeLoopingTemplateModel } from "../src-main/core/fixtures/hostileModels.js";
import { startTestServer } from "../tests/helpers/server.js";

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
  const rssIdle = process.memoryUsage.rss();
  const { url, key, adminKey } = server;
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
  for (const [label, body] of loads) {
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
    const res = await chat(body);
    await res.text();
    const seconds = (performance.now() - started) / 1000;
    running = false;
    await Promise.all(probes);
    histogram.disable();
    rows.push({
      load: label,
      status: res.status,
      seconds,
      loopDelayMaxMs: histogram.max / 1e6,
      loopDelayP99Ms: histogram.percentile(99) / 1e6,
      healthMaxMs: Math.max(0, ...health),
      chatMaxMs: Math.max(0, ...chats),
    });
  }
  await fetch(`${url}/v1/embeddings`, { method: "POST", headers, body: JSON.stringify({ model: "tiny-embed", input: "x" }) });
  const engine = (await (
    await fetch(`${url}/api/admin/engine`, { headers: { authorization: `Bearer ${adminKey}` } })
  ).json()) as {
    models: Array<{ id: string; state: string; processRss: number }>;
  };
  await server.stop();
  const mb = (n: number) => (n / 2 ** 20).toFixed(0);
  const lines = [
    "| hostile request | its status | its seconds | server event-loop delay max / p99 ms | other clients: /health max ms | tiny-chat (2 tokens) max ms |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.load} | ${r.status} | ${r.seconds.toFixed(1)} | ${r.loopDelayMaxMs.toFixed(0)} / ${r.loopDelayP99Ms.toFixed(0)} | ${r.healthMaxMs.toFixed(0)} | ${r.chatMaxMs.toFixed(0)} |`,
    ),
    "",
    `Server process RSS after start, no model loaded: ${mb(rssIdle)} MB (this bench process: Node, the core and tsx). ` +
      `Engine processes: ${engine.models
        .filter((m) => m.processRss > 0)
        .map((m) => `${m.id} ${mb(m.processRss)} MB`)
        .join(", ")} (RSS of each, tiny models: what a process costs beyond its model).`,
  ];
  return `### engine isolation: the server stays responsive while one client sends hostile work\n\n${lines.join("\n")}\n`;
}

// Run alone (`node bin/run-ts.mjs bench/isolation.ts`): argv[1] is the script path as typed.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) console.log(await benchIsolation());
