import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFixtureModels } from "../src-main/core/fixtures/tinyModels.js";
import { type Serving, spawnServe } from "./helpers/serve.js";

/**
 * The gateway as a process (issue 19): `maas-base serve` started as a user types it,
 * killed with SIGKILL, started twice on one folder, started on a damaged database,
 * and raced by another process holding SQLite's write lock.
 */

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin", "maas-base.mjs");
const root = mkdtempSync(join(tmpdir(), "maas-gateway-proc-"));
const children: ChildProcess[] = [];
const seen: Array<{ url: string; headers: IncomingMessage["headers"] }> = [];
let recorder: Server;
let recorderUrl: string;
const UPSTREAM_KEY = "sk-PAID-UPSTREAM-0123456789";

beforeAll(async () => {
  recorder = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'));
  });
  await new Promise<void>((ok) => recorder.listen(0, "127.0.0.1", ok));
  recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  recorder.closeAllConnections();
  recorder.close();
  rmSync(root, { recursive: true, force: true });
});

function cli(...args: string[]) {
  return run(process.execPath, [BIN, ...args], { cwd: root });
}

/** Starts `maas-base serve` on `dataDir` and resolves once it listens (or rejects with what it printed). */
async function serve(dataDir: string, ...extra: string[]): Promise<Serving> {
  const serving = await spawnServe(["--data-dir", dataDir, "--cpu", "--threads", "1", "--log-level", "warn", ...extra], 170_000);
  children.push(serving.child);
  return serving;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

/** A data folder (no models: these tests are about the gateway) with an inference key and a generic-proxy route to the recorder. */
async function prepared(name: string): Promise<{ dir: string; key: string; routeId: number }> {
  const dir = join(root, name);
  const key = (await cli("keys", "create", "--name", "t", "--data-dir", dir)).stdout.trim();
  const route = JSON.parse(
    (
      await cli(
        "routes",
        "create",
        "--name",
        "up",
        "--upstream",
        `${recorderUrl}/v1`,
        "--upstream-key",
        UPSTREAM_KEY,
        "--generic-proxy",
        "--json",
        "--data-dir",
        dir,
      )
    ).stdout,
  );
  return { dir, key, routeId: route.id };
}

function usageRows(dir: string): number {
  const db = new Database(join(dir, "maas-base.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) AS n FROM usage_records").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("the server as a process", () => {
  it("keeps the usage row of every answered request through kill -9; one server per data folder, stale locks taken over", async () => {
    const { dir, key, routeId } = await prepared("durable");
    const first = await serve(dir);
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${first.url}/model/proxy/${routeId}/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    // A second server on the same folder refuses to start, in one line naming the first.
    const second = await serve(dir).then(
      () => null,
      (error: { code: number; output: string }) => error,
    );
    expect(second?.code).toBe(1);
    const lines = (second?.output ?? "").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`pid ${first.child.pid}`);
    expect(lines[0]).toContain(first.url);
    first.child.kill("SIGKILL");
    await exited(first.child);
    expect(usageRows(dir)).toBe(8);
    // The lock of the killed server is stale: the next one takes it over.
    const third = await serve(dir);
    const res = await fetch(`${third.url}/health`);
    expect(res.status).toBe(200);
    third.child.kill("SIGTERM");
    await exited(third.child);
  }, 480_000);

  it("keeps secrets to the user: folder 0700, database and key file 0600, upstream keys sealed (old plain ones too)", async () => {
    const { dir, key, routeId } = await prepared("secrets");
    // A key stored in plain text by an earlier version is sealed at the next start.
    const db = new Database(join(dir, "maas-base.sqlite"));
    db.prepare("UPDATE route_targets SET upstream_key = ? WHERE route_id = ?").run(`${UPSTREAM_KEY}-old`, routeId);
    db.close();
    const server = await serve(dir);
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, "maas-base.sqlite")).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, "maas-base.key")).mode & 0o777).toBe(0o600);
      const res = await fetch(`${server.url}/model/proxy/${routeId}/models`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect(seen.at(-1)?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}-old`);
      for (const file of readdirSync(dir).filter((f) => f.startsWith("maas-base.sqlite"))) {
        expect(readFileSync(join(dir, file)).includes(UPSTREAM_KEY), file).toBe(false);
      }
    } finally {
      server.child.kill("SIGTERM");
      await exited(server.child);
    }
  }, 300_000);

  it("answers /health fast while another process holds the write lock, and writes the usage rows afterwards", async () => {
    const { dir, key, routeId } = await prepared("busy");
    const server = await serve(dir);
    try {
      const holder = new Database(join(dir, "maas-base.sqlite"));
      holder.pragma("busy_timeout = 5000");
      holder.exec("BEGIN IMMEDIATE");
      holder.prepare("INSERT INTO settings (key, value) VALUES ('held', '1')").run();
      const heldUntil = Date.now() + 4000;
      let slowest = 0;
      let answered = 0;
      const proxied: Array<Promise<number>> = [];
      while (Date.now() < heldUntil) {
        proxied.push(
          fetch(`${server.url}/model/proxy/${routeId}/models`, { headers: { authorization: `Bearer ${key}` } }).then(
            async (r) => {
              await r.arrayBuffer();
              return r.status;
            },
          ),
        );
        const started = performance.now();
        const health = await fetch(`${server.url}/health`);
        slowest = Math.max(slowest, performance.now() - started);
        if (health.status === 200) answered++;
        await new Promise((r) => setTimeout(r, 100));
      }
      const statuses = await Promise.all(proxied);
      holder.exec("COMMIT");
      holder.close();
      expect(answered).toBeGreaterThan(10);
      // At most one 50 ms busy wait per write stalls the loop; the bound leaves room for a machine at load 20.
      expect(slowest).toBeLessThan(1000);
      expect(statuses.every((s) => s === 200)).toBe(true);
      // The rows waited in memory for the lock and are on disk soon after it is released.
      const deadline = Date.now() + 5000;
      while (usageRows(dir) < proxied.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(usageRows(dir)).toBe(proxied.length);
    } finally {
      server.child.kill("SIGTERM");
      await exited(server.child);
    }
  }, 300_000);

  it("names a damaged database in one line at start", async () => {
    const { dir } = await prepared("corrupt");
    const file = join(dir, "maas-base.sqlite");
    // Checkpointed into the main file, then pages after the first overwritten with garbage.
    const db = new Database(file);
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
    const size = statSync(file).size;
    const fd = openSync(file, "r+");
    const garbage = Buffer.alloc(4096, 0xa5);
    for (let offset = 4096; offset < size; offset += 8192) writeSync(fd, garbage, 0, garbage.length, offset);
    closeSync(fd);
    const failed = await serve(dir).then(
      () => null,
      (error: { code: number; output: string }) => error,
    );
    expect(failed?.code).toBe(1);
    const lines = (failed?.output ?? "").trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: The database .*maas-base\.sqlite is damaged \(.*(malformed|quick_check).*\)/);
  }, 300_000);

  it("imports atomically: kill -9 mid-copy leaves no model file, and the next import cleans up and succeeds", async () => {
    const dir = join(root, "import");
    const source = join(root, "big", "big-model.gguf");
    const fixture = writeFixtureModels(join(root, "big"));
    // A valid GGUF header with 600 MB of sparse tail: large enough to be mid-copy when killed.
    const from = readFileSync(fixture.chat);
    const fd = openSync(source, "w");
    writeSync(fd, from);
    writeSync(fd, Buffer.from([0]), 0, 1, 600_000_000);
    closeSync(fd);
    const child = spawn(process.execPath, [BIN, "models", "import", source, "--data-dir", dir], { stdio: "ignore" });
    children.push(child);
    const models = join(dir, "models");
    const deadline = Date.now() + 60_000;
    const staged = () => (existsSync(models) ? readdirSync(models).filter((f) => f.includes(".importing-")) : []);
    while (staged().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(staged()).toHaveLength(1);
    child.kill("SIGKILL");
    await exited(child);
    expect(existsSync(join(models, "big-model.gguf"))).toBe(false);
    // From the checkout: main's inspector process fails to start (ERR_MODULE_NOT_FOUND) when the CLI runs elsewhere.
    const again = await run(process.execPath, [BIN, "models", "import", source, "--data-dir", dir, "--json"], {
      cwd: join(import.meta.dirname, ".."),
    });
    expect(JSON.parse(again.stdout).id).toBe("big-model");
    expect(statSync(join(models, "big-model.gguf")).size).toBe(600_000_001);
    expect(staged()).toEqual([]);
  }, 240_000);
});
