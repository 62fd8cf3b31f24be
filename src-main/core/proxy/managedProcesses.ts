import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import type { Logger } from "pino";

export type ProcessState = "starting" | "ready" | "restarting" | "stopped";

export interface ProcessStatus {
  targetId: number;
  command: string;
  state: ProcessState;
  port: number | null;
  pid: number | null;
  restarts: number;
  lastExit: string | null;
}

/** A port free on loopback right now (the OS picks one; it is released before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * One managed local server (a route target's command line with `{port}`): started on
 * a free loopback port, health-checked until it answers HTTP, restarted with
 * exponential backoff when it exits, stopped with the app.
 */
class ManagedProcess {
  state: ProcessState = "stopped";
  port: number | null = null;
  restarts = 0;
  lastExit: string | null = null;
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private ready: Promise<void> | null = null;

  constructor(
    readonly targetId: number,
    readonly command: string,
    private readonly logger: Logger,
    private readonly healthTimeoutMs: number,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Starts the process (once) and resolves when it answers HTTP on its port. */
  ensure(): Promise<void> {
    if (this.state === "ready") return Promise.resolve();
    this.ready ??= this.start();
    return this.ready;
  }

  private async start(): Promise<void> {
    this.stopping = false;
    this.state = this.restarts > 0 ? "restarting" : "starting";
    const port = await freePort();
    this.port = port;
    const line = this.command.replaceAll("{port}", String(port));
    // A shell, so users can write the command line as they would type it; its own
    // process group, so stopping it stops whatever it started.
    const child = spawn(line, { shell: true, detached: process.platform !== "win32", stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const log = this.logger.child({ target: this.targetId, pid: child.pid });
    child.stdout?.on("data", (d) => log.debug(String(d).trim()));
    child.stderr?.on("data", (d) => log.debug(String(d).trim()));
    child.once("exit", (code, signal) => {
      this.lastExit = signal ? `signal ${signal}` : `exit code ${code}`;
      this.child = null;
      this.ready = null;
      if (this.stopping) {
        this.state = "stopped";
        return;
      }
      this.state = "restarting";
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts, 6));
      this.restarts++;
      log.warn({ exit: this.lastExit, restartInMs: delay }, "managed process exited; restarting");
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.stopping) void this.ensure().catch(() => {});
      }, delay);
      this.timer.unref();
    });
    const deadline = Date.now() + this.healthTimeoutMs;
    while (Date.now() < deadline) {
      if (!this.child || this.child !== child) throw new Error(`the process exited during start (${this.lastExit})`);
      try {
        await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
        this.state = "ready";
        log.info({ port }, "managed process is ready");
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 150));
      }
    }
    throw new Error(`the process did not answer on port ${port} within ${this.healthTimeoutMs} ms`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null) {
      this.state = "stopped";
      return;
    }
    const exited = new Promise((r) => child.once("exit", r));
    const kill = (signal: NodeJS.Signals) => {
      try {
        if (process.platform !== "win32" && child.pid) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        // already gone
      }
    };
    kill("SIGTERM");
    const forced = setTimeout(() => kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(forced);
    this.state = "stopped";
  }

  status(): ProcessStatus {
    return {
      targetId: this.targetId,
      command: this.command,
      state: this.state,
      port: this.port,
      pid: this.pid,
      restarts: this.restarts,
      lastExit: this.lastExit,
    };
  }
}

/** The managed processes of route targets, kept in step with the routes. */
export class ManagedProcesses {
  private readonly processes = new Map<number, ManagedProcess>();

  constructor(
    private readonly logger: Logger,
    private readonly healthTimeoutMs = 60_000,
  ) {}

  /** Starts processes for new targets and stops those of removed or changed ones. */
  async sync(targets: Array<{ id: number; command: string }>): Promise<void> {
    const wanted = new Map(targets.map((t) => [t.id, t.command]));
    for (const [id, managed] of this.processes) {
      if (wanted.get(id) !== managed.command) {
        this.processes.delete(id);
        await managed.stop();
      }
    }
    for (const [id, command] of wanted) {
      if (this.processes.has(id)) continue;
      const managed = new ManagedProcess(id, command, this.logger.child({ component: "process" }), this.healthTimeoutMs);
      this.processes.set(id, managed);
      managed
        .ensure()
        .catch((error) => this.logger.warn({ target: id, err: (error as Error).message }, "managed process failed"));
    }
  }

  /** The base URL of a target's process once it answers; waits for a start in progress. */
  async baseUrl(targetId: number): Promise<string | null> {
    const managed = this.processes.get(targetId);
    if (!managed) return null;
    try {
      await managed.ensure();
    } catch {
      return null;
    }
    return managed.port === null ? null : `http://127.0.0.1:${managed.port}`;
  }

  status(): ProcessStatus[] {
    return [...this.processes.values()].map((p) => p.status());
  }

  async stop(): Promise<void> {
    const all = [...this.processes.values()];
    this.processes.clear();
    await Promise.all(all.map((p) => p.stop()));
  }
}
