import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ApiKeyService } from "../core/domain/apiKeys.js";
import { writeFixtureModels } from "../core/fixtures/tinyModels.js";
import { createCore } from "../core/index.js";
import { DesktopSession } from "./desktopSession.js";
import { createUtilityLauncher, type UtilityProcessLike, wrapUtilityProcess } from "./engineLauncher.js";

const dir = mkdtempSync(join(tmpdir(), "maas-desktop-session-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the desktop session's credential", () => {
  it("works for the window, is never a stored or listed key, and is revoked when the session stops", async () => {
    const modelsDir = join(dir, "models");
    writeFixtureModels(modelsDir);
    const desktop = new DesktopSession(() =>
      createCore({
        dataDir: dir,
        modelsDir,
        port: 0,
        threads: 1,
        gpu: false,
        contextSize: 512,
        logger: pino({ level: "silent" }),
      }),
    );
    const { url, managementKey } = await desktop.start();
    expect(managementKey).toMatch(/^mbs_[0-9a-f]{64}$/);
    expect(await desktop.start()).toEqual({ url, managementKey });
    const auth = { authorization: `Bearer ${managementKey}`, "content-type": "application/json" };

    // Management: the Keys page lists no key for it.
    const keys = await fetch(`${url}/api/admin/keys`, { headers: auth });
    expect(keys.status).toBe(200);
    expect(((await keys.json()) as { data: unknown[] }).data).toEqual([]);
    // Inference: a chat works, and its usage row carries no key id.
    const chat = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
    });
    expect(chat.status).toBe(200);
    const core = desktop.running;
    expect(core).not.toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    core?.usage.flush();
    const rows = core?.db.prepare("SELECT api_key_id FROM usage_records").all() as Array<{ api_key_id: number | null }>;
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.api_key_id === null)).toBe(true);
    // Nothing in the keys table, and another process on the same data folder does not know it.
    expect(core?.keys.count()).toBe(0);
    expect(core?.db.prepare("SELECT COUNT(*) AS n FROM api_keys").get()).toEqual({ n: 0 });
    expect(new ApiKeyService(core?.db as never).verify(managementKey)).toBeNull();

    await desktop.stop();
    expect(desktop.connection).toBeNull();
    expect(core?.keys.verify(managementKey)).toBeNull();
    await desktop.stop();
  }, 120_000);

  it("a failed start leaves nothing running and no credential", async () => {
    const desktop = new DesktopSession(() =>
      createCore({ dataDir: dir, host: "203.0.113.1", port: 0, threads: 1, gpu: false, logger: pino({ level: "silent" }) }),
    );
    await expect(desktop.start()).rejects.toThrow();
    expect(desktop.connection).toBeNull();
    expect(desktop.running).toBeNull();
  }, 60_000);

  it("revoking is immediate and idempotent", () => {
    const core = createCore({ dataDir: dir, logger: pino({ level: "silent" }) });
    try {
      const credential = core.keys.createSession("t", ["management"]);
      expect(core.keys.verify(credential.key)?.scopes).toEqual(["management"]);
      expect(core.keys.list()).toEqual([]);
      credential.revoke();
      credential.revoke();
      expect(core.keys.verify(credential.key)).toBeNull();
    } finally {
      void core.stop();
    }
  });
});

/** A real Node child, shaped like Electron's UtilityProcess (which only exists inside Electron). */
function nodeChildAsUtility(script: string): UtilityProcessLike {
  const child = fork(script, [], { stdio: ["ignore", "pipe", "pipe", "ipc"] });
  return {
    get pid() {
      return child.pid;
    },
    stdout: child.stdout,
    stderr: child.stderr,
    postMessage: (m) => child.send(m as object),
    kill: () => child.kill(),
    on: ((event: string, listener: (...args: unknown[]) => void) => {
      // waitpid's status, as utilityProcess reports it: 128 + the signal for a signal death.
      if (event === "exit") child.on("exit", (code, signal) => listener(code ?? 128 + (signal ? constants.signals[signal] : 0)));
      else if (event === "message") child.on("message", listener);
      return child;
    }) as UtilityProcessLike["on"],
  };
}

describe("the utility-process engine launcher", () => {
  const echo = join(dir, "echo.cjs");
  writeFileSync(
    echo,
    `process.stdout.write("engine up\\n"); process.stderr.write("a warning\\n");
     process.on("message", (m) => { if (m.crash) process.abort(); process.send({ echo: m }); });`,
  );

  it("maps messages, output, kill and a late exit listener", async () => {
    const child = wrapUtilityProcess(nodeChildAsUtility(echo));
    const output: string[] = [];
    child.onOutput((t) => output.push(t));
    const reply = new Promise((r) => child.onMessage(r));
    child.send({ hello: 1 });
    expect(await reply).toEqual({ echo: { hello: 1 } });
    expect(child.pid).toBeGreaterThan(0);
    const exited = new Promise<[number | null, string | null]>((r) => child.onExit((c, s) => r([c, s])));
    child.kill();
    expect(await exited).toEqual([null, "SIGKILL"]);
    expect(output.join("")).toContain("engine up");
    expect(output.join("")).toContain("a warning");
    // Registered after the exit: still told.
    expect(await new Promise((r) => child.onExit((c, s) => r([c, s])))).toEqual([null, "SIGKILL"]);
    child.send({ ignored: true });
  });

  it("reports a crash as an exit code, not a kill", async () => {
    const child = wrapUtilityProcess(nodeChildAsUtility(echo));
    const exited = new Promise<[number | null, string | null]>((r) => child.onExit((c, s) => r([c, s])));
    child.send({ crash: true });
    const [code, signal] = await exited;
    expect(signal).toBeNull();
    expect(code).not.toBe(0);
  });

  it("forks the engine entry with the core's options and names the process", () => {
    const calls: unknown[] = [];
    const launcher = createUtilityLauncher((path, args, options) => {
      calls.push({ path, args, options });
      return nodeChildAsUtility(echo);
    }, echo);
    expect(launcher.kind).toBe("electron-utility");
    const child = launcher.start({
      name: "tiny-chat",
      args: ["--x"],
      env: { UV_THREADPOOL_SIZE: "1" },
      execArgv: ["--max-old-space-size=512"],
    });
    child.kill();
    expect(calls).toEqual([
      {
        path: echo,
        args: ["--x"],
        options: {
          env: { UV_THREADPOOL_SIZE: "1" },
          execArgv: ["--max-old-space-size=512"],
          stdio: "pipe",
          serviceName: "MaaS-Base engine: tiny-chat",
        },
      },
    ]);
    expect(() =>
      createUtilityLauncher(() => nodeChildAsUtility(echo), join(dir, "missing.js")).start({ name: "x", args: [], env: {} }),
    ).toThrow(/engine process entry is missing/);
  });
});
