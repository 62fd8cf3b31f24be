import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { FakeHub } from "./helpers/fakeHub.js";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "bin", "maas-base.mjs");
const dir = mkdtempSync(join(tmpdir(), "maas-base-pull-"));
const hub = new FakeHub();
let hubUrl = "";

beforeAll(async () => {
  const file = join(dir, "hub-model.gguf");
  writeTinyLlama(file, { layers: 1, embedding: 64, heads: 2, feedForward: 128, type: "f16", seed: 3 });
  hub.addRepo("acme/demo-GGUF", [{ path: "demo-Q8_0.gguf", file }]);
  hubUrl = await hub.start();
});

afterAll(async () => {
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("maas-base models pull", () => {
  it("downloads a model from the hub as a user types it, and lists it", async () => {
    const models = join(dir, "models");
    // As typed: `HF_ENDPOINT=… maas-base models pull hf:acme/demo-GGUF/demo-Q8_0.gguf --data-dir … --models-dir …`
    const { stdout, stderr } = await run(
      process.execPath,
      [BIN, "models", "pull", "hf:acme/demo-GGUF/demo-Q8_0.gguf", "--data-dir", dir, "--models-dir", models],
      { cwd: dir, env: { ...process.env, HF_ENDPOINT: hubUrl } },
    );
    expect(stderr).not.toContain("ReferenceError");
    expect(stdout).toMatch(/^pulled demo-Q8_0\n$/);
    const list = JSON.parse(
      (await run(process.execPath, [BIN, "models", "list", "--json", "--data-dir", dir, "--models-dir", models])).stdout,
    ) as Array<{ id: string; path: string }>;
    const pulled = list.find((m) => m.id === "demo-Q8_0");
    expect(pulled).toBeDefined();
    expect(existsSync(pulled?.path ?? "")).toBe(true);
    expect(statSync(pulled?.path ?? "").size).toBeGreaterThan(1000);
    expect(hub.requests.some((r) => r.path.endsWith("/demo-Q8_0.gguf"))).toBe(true);
  });

  it("exits 1 with the reason when the file is not on the hub", async () => {
    const failed = await run(process.execPath, [BIN, "models", "pull", "hf:acme/demo-GGUF/missing.gguf", "--data-dir", dir], {
      cwd: dir,
      env: { ...process.env, HF_ENDPOINT: hubUrl },
    }).catch((e: { code: number; stderr: string }) => e);
    expect("code" in failed && failed.code).toBe(1);
    expect(String((failed as { stderr: string }).stderr)).not.toContain("ReferenceError");
  });
});
