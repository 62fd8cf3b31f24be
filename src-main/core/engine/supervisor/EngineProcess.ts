/**
 * The server's end of one engine (or inspector) process: calls and streams over
 * IPC, the last lines it printed, a heartbeat watchdog, and one exit report that
 * fails everything still waiting on it.
 */
import type { Logger } from "pino";
import { AbortedError } from "../../errors.js";
import type { GenerationEvent, GenerationStream, ModelInfo } from "../../inference/types.js";
import { EventChannel } from "../EventChannel.js";
import type { EngineChild, EngineLauncher } from "../process/launcher.js";
import {
  deserializeError,
  type EngineMethod,
  type EngineProcessOptions,
  type FromEngine,
  type SchemaIssueWire,
  type ToEngine,
} from "../process/protocol.js";

/** How the process ended, in words a user can act on. */
export interface ExitReport {
  code: number | null;
  signal: string | null;
  /** Whether the supervisor asked for it (shutdown, unload, eviction). */
  expected: boolean;
  /** What happened to the process, e.g. "was killed by SIGKILL", "made no progress for 30.0 s and was stopped by the watchdog". */
  cause: string;
  /** The last lines the process printed (llama.cpp's GGML_ASSERT line, a V8 heap message). */
  lastOutput: string[];
}

export interface EngineProcessOptionsFull {
  name: string;
  role: "engine" | "inspector";
  launcher: EngineLauncher;
  settings: EngineProcessOptions;
  logger: Logger;
  /** No message for this long while calls wait: kill it (0 = never). Counts from the first heartbeat. */
  watchdogMs: number;
  /** Longest the process may take to start (its first heartbeat) while calls wait. Defaults to 120 s. */
  startTimeoutMs?: number;
  execArgv?: string[];
  onExit?: (report: ExitReport) => void;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  /** Stream calls: events arrive here after `stream-start`. */
  channel?: EventChannel<GenerationEvent>;
  onStart?: (promptTokens: number, schemaIgnored: SchemaIssueWire[] | undefined) => void;
}

const OUTPUT_LINES = 20;

/** The engine process's environment: one libuv thread (decodes contend for cores otherwise), unless the user says. */
export function engineEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  env.UV_THREADPOOL_SIZE = process.env.MAAS_ENGINE_UV_THREADPOOL_SIZE ?? "1";
  return env;
}

export class EngineProcess {
  private readonly child: EngineChild;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private output: string[] = [];
  private partialLine = "";
  private lastMessageAt = Date.now();
  private watchdog: NodeJS.Timeout | null = null;
  private lastCheckAt = Date.now();
  private readonly checkEveryMs: number;
  private expectedExit = false;
  /** Set by the first heartbeat: imports and the binding are loaded. */
  private started = false;
  private watchdogCause: string | null = null;
  private exitPromise: Promise<ExitReport>;
  exited: ExitReport | null = null;
  /** The latest stats and memory the process reported with its heartbeat. */
  lastStats: unknown = null;
  rss = 0;
  readonly startedAt = Date.now();
  /** Who it serves, for the log (a spare process gets its model's name when taken). */
  name: string;
  /** Called once when the process has exited. */
  onExit: ((report: ExitReport) => void) | undefined;

  constructor(private readonly options: EngineProcessOptionsFull) {
    this.name = options.name;
    this.onExit = options.onExit;
    this.child = options.launcher.start({
      name: options.name,
      args: [options.role],
      env: engineEnv(),
      ...(options.execArgv ? { execArgv: options.execArgv } : {}),
    });
    this.child.onOutput((text) => this.keepOutput(text));
    this.child.onMessage((message) => this.receive(message as FromEngine));
    let exited: (report: ExitReport) => void = () => {};
    this.exitPromise = new Promise((resolve) => {
      exited = resolve;
    });
    this.child.onExit((code, signal) => {
      const report: ExitReport = {
        code,
        signal,
        expected: this.expectedExit,
        cause: this.watchdogCause ?? (signal ? `was killed by ${signal}` : `exited with code ${code}`),
        lastOutput: this.lastLines(),
      };
      this.exited = report;
      if (this.watchdog) clearInterval(this.watchdog);
      this.failAll(report);
      exited(report);
      this.onExit?.(report);
    });
    this.send({ type: "init", options: options.settings });
    this.updateKeepAlive();
    this.checkEveryMs = Math.max(100, Math.min(1000, options.watchdogMs / 4));
    if (options.watchdogMs > 0) {
      this.watchdog = setInterval(() => this.checkProgress(), this.checkEveryMs);
      this.watchdog.unref();
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Requests waiting on this process right now. */
  get busy(): number {
    return this.pending.size;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  /** Resolves when the process has exited. */
  get exit(): Promise<ExitReport> {
    return this.exitPromise;
  }

  /** Why it ended, with the last lines it printed: the message in-flight requests get. */
  static describe(report: ExitReport): string {
    const tail = report.lastOutput.filter((l) => !l.startsWith("{")).slice(-3);
    return `${report.cause}${tail.length ? `: ${tail.join(" | ")}` : ""}`;
  }

  private keepOutput(text: string): void {
    const lines = (this.partialLine + text).split(/\r?\n/);
    this.partialLine = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) this.output.push(line.trim());
    if (this.output.length > OUTPUT_LINES) this.output.splice(0, this.output.length - OUTPUT_LINES);
    this.lastMessageAt = Date.now();
  }

  private lastLines(): string[] {
    return this.partialLine.trim() ? [...this.output, this.partialLine.trim()] : [...this.output];
  }

  private checkProgress(): void {
    // If this (server) process was itself stalled, its pending messages have not been read
    // yet (timers run before I/O): judge the engine at the next check, not now.
    const now = Date.now();
    const sinceCheck = now - this.lastCheckAt;
    this.lastCheckAt = now;
    if (sinceCheck > this.checkEveryMs * 2 + 250) return;
    if (!this.started) {
      const startTimeoutMs = this.options.startTimeoutMs ?? 120_000;
      if (this.alive && Date.now() - this.startedAt > startTimeoutMs) {
        this.watchdogCause = `did not start within ${startTimeoutMs / 1000} s`;
        this.child.kill();
      }
      return;
    }
    if (!this.alive || this.pending.size === 0) {
      this.lastMessageAt = Math.max(this.lastMessageAt, Date.now() - this.options.watchdogMs / 2);
      return;
    }
    const silent = Date.now() - this.lastMessageAt;
    if (silent < this.options.watchdogMs) return;
    this.watchdogCause = `made no progress for ${(silent / 1000).toFixed(1)} s and was stopped by the watchdog`;
    this.options.logger.warn({ engine: this.name, pid: this.pid, silentMs: silent }, "engine watchdog: killing a stalled engine");
    this.child.kill();
  }

  /** Keeps the parent alive only while something waits on this process. */
  private updateKeepAlive(): void {
    this.child.keepAlive?.(this.pending.size > 0);
  }

  private outbox: ToEngine[] = [];

  /**
   * Sends in one IPC message what was sent in one tick: concurrent requests (even from
   * different HTTP connections read in the same poll phase) reach the engine together
   * instead of one pipe read apart, so the first does not start decoding alone.
   */
  private send(message: ToEngine): void {
    this.outbox.push(message);
    if (this.outbox.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const messages = this.outbox;
    this.outbox = [];
    if (messages.length === 0 || this.exited) return;
    this.child.send(messages.length === 1 ? messages[0] : { type: "batch", messages });
  }

  private receive(message: FromEngine): void {
    this.lastMessageAt = Date.now();
    try {
      this.handle(message);
    } finally {
      if (message.type !== "heartbeat" && message.type !== "log") this.updateKeepAlive();
    }
  }

  private handle(message: FromEngine): void {
    switch (message.type) {
      case "heartbeat":
        this.started = true;
        this.rss = message.rss;
        if (message.stats !== undefined) this.lastStats = message.stats;
        return;
      case "log": {
        const log = this.options.logger;
        const level = (["fatal", "error", "warn", "info", "debug", "trace"].includes(message.level) ? message.level : "info") as
          | "error"
          | "info";
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(message.line) as Record<string, unknown>;
        } catch {}
        const { msg, level: _level, ...rest } = parsed;
        log[level]({ engine: this.name, ...rest }, typeof msg === "string" ? msg : message.line);
        return;
      }
      case "result": {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        pending?.resolve(message.value);
        return;
      }
      case "error": {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        const error = deserializeError(message.error);
        if (pending?.channel) pending.channel.fail(error);
        pending?.reject(error);
        return;
      }
      case "stream-start":
        this.pending.get(message.id)?.onStart?.(message.promptTokens, message.schemaIgnored);
        return;
      case "events": {
        for (const batch of message.batches) {
          const channel = this.pending.get(batch.id)?.channel;
          if (channel) for (const event of batch.events) channel.push(event);
        }
        return;
      }
      case "stream-end": {
        const pending = this.pending.get(message.id);
        this.pending.delete(message.id);
        pending?.channel?.close();
        return;
      }
    }
  }

  private failAll(report: ExitReport): void {
    const error = this.crashError(report);
    for (const [, pending] of this.pending) {
      pending.channel?.fail(error);
      pending.reject(error);
    }
    this.pending.clear();
  }

  /** Set by the owner: turns an exit report into the error waiting callers get. */
  crashError: (report: ExitReport) => Error = (report) => new Error(EngineProcess.describe(report));

  /** One call; rejects with the engine's error, or with the crash error if the process dies first. */
  call<T>(method: EngineMethod, args: unknown[], options: { model?: ModelInfo; signal?: AbortSignal } = {}): Promise<T> {
    if (this.exited) return Promise.reject(this.crashError(this.exited));
    const id = this.nextId++;
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new AbortedError());
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => this.send({ type: "abort", id });
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => signal?.removeEventListener("abort", onAbort);
      this.pending.set(id, {
        resolve: (value) => {
          done();
          resolve(value as T);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      this.updateKeepAlive();
      this.send({ type: "call", id, method, args, ...(options.model ? { model: options.model } : {}) });
    });
  }

  /**
   * A generation: resolves once the engine holds a sequence (so a full queue or a bad
   * request is an error before any response is sent), then yields its events.
   * Abandoning the stream, or the caller's signal, aborts it in the engine.
   */
  stream(
    method: "chat" | "complete",
    request: unknown,
    model: ModelInfo,
    signal: AbortSignal | undefined,
    onSettled: () => void,
  ): Promise<GenerationStream> {
    if (this.exited) return Promise.reject(this.crashError(this.exited));
    const id = this.nextId++;
    const channel = new EventChannel<GenerationEvent>();
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", abort);
      onSettled();
    };
    const abort = () => this.send({ type: "abort", id });
    signal?.addEventListener("abort", abort, { once: true });
    return new Promise<GenerationStream>((resolve, reject) => {
      let started = false;
      this.pending.set(id, {
        channel,
        resolve: () => {},
        reject: (error) => {
          if (!started) {
            settle();
            reject(error);
          }
        },
        onStart: (promptTokens, schemaIgnored) => {
          started = true;
          const owner = this;
          resolve({
            promptTokens,
            ...(schemaIgnored ? { schemaIgnored } : {}),
            async *[Symbol.asyncIterator]() {
              let finished = false;
              try {
                for await (const event of channel) {
                  yield event;
                  if (event.type === "done") finished = true;
                }
                finished = true;
              } finally {
                if (!finished && owner.pending.has(id)) owner.send({ type: "abort", id });
                settle();
              }
            },
          });
        },
      });
      this.updateKeepAlive();
      this.send({ type: "call", id, method, args: [request], model });
    });
  }

  /** Asks the process to dispose and exit; kills it if it has not after `graceMs`. */
  async stop(graceMs = 5000): Promise<ExitReport> {
    this.expectedExit = true;
    if (this.exited) return this.exited;
    this.child.keepAlive?.(true);
    this.send({ type: "shutdown" });
    const timer = setTimeout(() => this.child.kill(), graceMs);
    timer.unref();
    const report = await this.exitPromise;
    clearTimeout(timer);
    return report;
  }

  /** Kills it now (SIGKILL). */
  kill(expected = true): void {
    if (expected) this.expectedExit = true;
    this.child.kill();
  }
}
