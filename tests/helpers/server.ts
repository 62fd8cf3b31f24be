import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { writeFixtureModels } from "../../src-main/core/fixtures/tinyModels.js";
import { type CoreOptions, createCore } from "../../src-main/core/index.js";

export interface TestServer {
  url: string;
  /** `${url}/v1`, for SDK clients. */
  baseURL: string;
  /** An inference key. */
  key: string;
  /** A management key. */
  adminKey: string;
  core: ReturnType<typeof createCore>;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts the real core on a free loopback port with the generated tiny models,
 * one thread and the CPU backend, as tests must on the 2-core machines.
 */
export async function startTestServer(
  overrides: Partial<CoreOptions> = {},
  prepareModels?: (modelsDir: string) => void,
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "maas-base-test-"));
  const modelsDir = join(dir, "models");
  writeFixtureModels(modelsDir);
  prepareModels?.(modelsDir);
  const core = createCore({
    host: "127.0.0.1",
    port: 0,
    dataDir: dir,
    modelsDir,
    threads: 1,
    gpu: false,
    parallel: 2,
    contextSize: 1024,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    ...overrides,
  });
  const url = await core.start();
  const key = core.keys.create({ name: "test", scopes: ["inference"] }).key;
  const adminKey = core.keys.create({ name: "admin", scopes: ["management"] }).key;
  return {
    url,
    baseURL: `${url}/v1`,
    key,
    adminKey,
    core,
    dir,
    async stop() {
      await core.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function engineStats(server: TestServer) {
  const res = await fetch(`${server.url}/api/admin/engine`, { headers: { authorization: `Bearer ${server.adminKey}` } });
  if (!res.ok) throw new Error(`engine stats: ${res.status}`);
  return (await res.json()) as {
    build: string;
    models: Array<{
      id: string;
      activeSequences: number;
      queued: number;
      decodeBatches: number;
      batchedTokens: number;
      shortBatches: number;
      unknownSequences: number;
    }>;
  };
}

/** Polls `check` until it returns true or `ms` pass. */
export async function waitFor(check: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}
