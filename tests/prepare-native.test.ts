import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const nodeBuild = join(root, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node");
const dir = mkdtempSync(join(tmpdir(), "maas-native-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback port nothing listens on: the downloads fail at once, and nothing leaves the machine. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const digest = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const workFolders = () => readdirSync(tmpdir()).filter((n) => n.startsWith("maas-electron-sqlite-"));

describe("preparing better-sqlite3 for Electron", () => {
  it("fails cleanly without a network, in one line, and leaves the Node build alone", async () => {
    const before = { hash: digest(nodeBuild), mtime: statSync(nodeBuild).mtimeMs };
    const workBefore = workFolders();
    const unreachable = `http://127.0.0.1:${await closedPort()}`;
    const out = join(dir, "native", "electron");
    const started = Date.now();
    const result = spawnSync(process.execPath, [join(root, "scripts", "prepare-electron-native.mjs")], {
      encoding: "utf8",
      timeout: 120_000,
      env: {
        ...process.env,
        HOME: dir,
        USERPROFILE: dir,
        MAAS_BASE_NATIVE_DIR: out,
        MAAS_BASE_PREBUILT_HOST: unreachable,
        MAAS_BASE_ELECTRON_HEADERS_URL: unreachable,
      },
    });
    expect(result.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(90_000);
    const lines = result.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^Preparing better-sqlite3 for Electron \d+\.\d+\.\d+ \(ABI \d+\)… failed: no prebuilt addon \(.*ECONNREFUSED.*\); no compile \(.+\)/,
    );
    // Nothing half-made: no addon, no build.json, no work folder left in tmp.
    expect(existsSync(join(out, "better_sqlite3.node"))).toBe(false);
    expect(existsSync(join(out, "build.json"))).toBe(false);
    expect(workFolders()).toEqual(workBefore);
    // The Node build is byte for byte what it was, and still opens a database under Node.
    expect({ hash: digest(nodeBuild), mtime: statSync(nodeBuild).mtimeMs }).toEqual(before);
    const db = new Database(":memory:");
    expect(db.prepare("SELECT 1 AS one").get()).toEqual({ one: 1 });
    db.close();
  }, 150_000);
});
