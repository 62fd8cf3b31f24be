/**
 * The generic proxy's overhead: requests/s and latency through
 * `/model/proxy/<route_id>/…` against the same upstream called directly, 64
 * connections, interleaved rounds in one run (autocannon). The upstream is a plain
 * Node server in a process of its own.
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";

export interface ProxyBenchRow {
  target: "direct" | "proxy";
  /** How long the upstream takes per answer: 0 (a no-op) or a model-like delay. */
  upstreamDelayMs: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function waitFor(url: string, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { headers })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no answer from ${url}`);
}

function hit(url: string, headers: Record<string, string>, seconds: number): Promise<autocannon.Result> {
  return new Promise((ok, fail) => {
    autocannon({ url, connections: 64, duration: seconds, headers }, (error, result) => (error ? fail(error) : ok(result)));
  });
}

/**
 * Runs `rounds` interleaved direct/proxy rounds of `seconds` each, against a no-op
 * upstream and one that takes `delays[1]` ms per answer; returns the medians.
 */
export async function benchProxy(root: string, rounds = 3, seconds = 5, delays = [0, 20]): Promise<ProxyBenchRow[]> {
  const work = mkdtempSync(join(tmpdir(), "maas-proxy-bench-"));
  const children: ChildProcess[] = [];
  try {
    const upstreamPort = await freePort();
    const body = JSON.stringify({ object: "list", data: [{ id: "x", object: "model" }] });
    children.push(
      spawn(
        process.execPath,
        [
          "-e",
          `require("http").createServer((q,s)=>{const d=Number(new URL(q.url,"http://x").searchParams.get("delay")||0);const go=()=>{s.writeHead(200,{"content-type":"application/json"});s.end(${JSON.stringify(body)})};d?setTimeout(go,d):go()}).listen(${upstreamPort},"127.0.0.1")`,
        ],
        { stdio: "ignore" },
      ),
    );
    const cli = join(root, "bin", "maas-base.mjs");
    const key = JSON.parse(
      execFileSync(process.execPath, [cli, "keys", "create", "--name", "bench", "--json", "--data-dir", work]).toString(),
    ).key;
    const routeId = execFileSync(process.execPath, [
      cli,
      "routes",
      "create",
      "--name",
      "upstream",
      "--upstream",
      `http://127.0.0.1:${upstreamPort}`,
      "--generic-proxy",
      "--data-dir",
      work,
    ])
      .toString()
      .trim();
    const port = await freePort();
    children.push(
      spawn(
        process.execPath,
        [cli, "serve", "--no-engine-build", "--port", String(port), "--data-dir", work, "--cpu", "--log-level", "warn"],
        {
          stdio: "ignore",
        },
      ),
    );
    const auth = { authorization: `Bearer ${key}` };
    await waitFor(`http://127.0.0.1:${upstreamPort}/v1/models`);
    await waitFor(`http://127.0.0.1:${port}/model/proxy/${routeId}/v1/models`, auth);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const rows: ProxyBenchRow[] = [];
    for (const delay of delays) {
      const direct = `http://127.0.0.1:${upstreamPort}/v1/models?delay=${delay}`;
      const proxied = `http://127.0.0.1:${port}/model/proxy/${routeId}/v1/models?delay=${delay}`;
      await hit(proxied, auth, 1); // warm-up
      const results: Record<"direct" | "proxy", autocannon.Result[]> = { direct: [], proxy: [] };
      for (let r = 0; r < rounds; r++) {
        results.direct.push(await hit(direct, {}, seconds));
        results.proxy.push(await hit(proxied, auth, seconds));
      }
      for (const target of ["direct", "proxy"] as const) {
        rows.push({
          target,
          upstreamDelayMs: delay,
          requestsPerSecond: median(results[target].map((x) => x.requests.average)),
          p50Ms: median(results[target].map((x) => x.latency.p50)),
          p99Ms: median(results[target].map((x) => x.latency.p99)),
        });
      }
    }
    return rows;
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    rmSync(work, { recursive: true, force: true });
  }
}
