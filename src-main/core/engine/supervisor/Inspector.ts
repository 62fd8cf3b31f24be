/**
 * The inspector: a short-lived process that reads GGUF headers and makes memory
 * estimates, one job at a time, under a heap cap and a time limit per job. A file
 * that crashes it, exhausts it or keeps it busy too long fails alone with a clear
 * reason (the inspector is replaced for the next job). It exits when idle.
 */
import type { Logger } from "pino";
import pino from "pino";
import type { ModelInfo } from "../../inference/types.js";
import type { EngineDescription } from "../engineInfo.js";
import type { FitEstimate, FitSettings } from "../fit.js";
import type { GgufSummary } from "../inspect.js";
import type { EngineLauncher } from "../process/launcher.js";
import { nodeLauncher } from "../process/launcher.js";
import type { EngineMethod } from "../process/protocol.js";
import { EngineProcess, type ExitReport } from "./EngineProcess.js";

export interface InspectorOptions {
  launcher?: EngineLauncher;
  logger?: Logger;
  gpu?: "auto" | false;
  /** Longest one job may take before the inspector is killed. Defaults to 20 s. */
  jobTimeoutMs?: number;
  /** V8 heap cap of the inspector, in MB. Defaults to 512. */
  maxHeapMb?: number;
  /** Longest the inspector may take to start (not counted against any file). Defaults to 120 s. */
  startTimeoutMs?: number;
  /** The inspector exits after this long without a job. Defaults to 10 s. */
  idleMs?: number;
}

/** The file, not the server, is at fault: the job killed or stalled the inspector. */
export class UnreadableFileError extends Error {
  constructor(
    message: string,
    /** True when the inspector died or timed out (record it: do not try again at every scan). */
    readonly fatal: boolean,
  ) {
    super(message);
    this.name = "UnreadableFileError";
  }
}

interface Job {
  method: EngineMethod;
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class Inspector {
  private process: EngineProcess | null = null;
  private readonly queue: Job[] = [];
  private running = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly launcher: EngineLauncher;
  private readonly logger: Logger;
  private stopped = false;
  /** The engine binary changed since the process started: the next job starts a new one. */
  private stale = false;

  constructor(private readonly options: InspectorOptions = {}) {
    this.launcher = options.launcher ?? nodeLauncher();
    this.logger = options.logger ?? pino({ level: "silent" });
  }

  /** What the header says (throws `UnreadableFileError` or the reader's error). */
  inspect(path: string): Promise<GgufSummary> {
    return this.run("inspect", [path]);
  }

  fit(info: ModelInfo, settings: FitSettings): Promise<FitEstimate> {
    return this.run("fit", [info, settings]);
  }

  describe(): Promise<EngineDescription> {
    return this.run("describe", []);
  }

  private run<T>(method: EngineMethod, args: unknown[]): Promise<T> {
    if (this.stopped) return Promise.reject(new Error("the inspector is stopped"));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ method, args, resolve: resolve as (value: unknown) => void, reject });
      void this.pump();
    });
  }

  private spawn(): EngineProcess {
    const proc = new EngineProcess({
      name: "inspector",
      role: "inspector",
      launcher: this.launcher,
      settings: {
        gpu: this.options.gpu ?? false,
        parallel: 1,
        maxQueue: 1,
        contextSize: 512,
        logLevel: this.logger.level === "silent" ? "silent" : "warn",
        heartbeatMs: 1000,
      },
      logger: this.logger,
      watchdogMs: 0,
      execArgv: [`--max-old-space-size=${this.options.maxHeapMb ?? 512}`, "--max-semi-space-size=1"],
    });
    proc.crashError = (report: ExitReport) =>
      new UnreadableFileError(`reading it crashed the inspector process (${EngineProcess.describe(report)})`, true);
    void proc.exit.then(() => {
      if (this.process === proc) this.process = null;
    });
    return proc;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        if (this.stale) {
          this.stale = false;
          await this.stopProcess();
        }
        let proc = this.process;
        if (!proc) {
          proc = this.spawn();
          this.process = proc;
          try {
            await this.warmUp(proc);
          } catch (error) {
            // Not the file's fault: the inspector itself could not start.
            job.reject(new Error(`the inspector process could not start: ${(error as Error).message}`));
            continue;
          }
        }
        const timeoutMs = this.options.jobTimeoutMs ?? 20_000;
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          proc.kill();
        }, timeoutMs);
        try {
          job.resolve(await proc.call(job.method, job.args));
        } catch (error) {
          if (timedOut) {
            job.reject(
              new UnreadableFileError(`reading it took longer than ${timeoutMs / 1000} s; the inspector was stopped`, true),
            );
          } else job.reject(error as Error);
        } finally {
          clearTimeout(timer);
        }
      }
    } finally {
      this.running = false;
      if (!this.stopped) {
        this.idleTimer = setTimeout(() => void this.stopProcess(), this.options.idleMs ?? 10_000);
        this.idleTimer.unref();
      }
    }
  }

  /** Node, the binding and the reader start before any file's time limit runs. */
  private async warmUp(proc: EngineProcess): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 120_000;
    const timer = setTimeout(() => proc.kill(), timeoutMs);
    try {
      await proc.call("warmup", []);
    } finally {
      clearTimeout(timer);
    }
  }

  private async stopProcess(): Promise<void> {
    const proc = this.process;
    this.process = null;
    await proc?.stop(2000);
  }

  /**
   * A new engine binary is ready (a finished engine build): the inspector's process, which
   * loaded the old one, is replaced before its next job, so `describe` reports the new one.
   */
  renew(): void {
    if (this.running) this.stale = true;
    else void this.stopProcess();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const job of this.queue.splice(0)) job.reject(new Error("the inspector is stopped"));
    await this.stopProcess();
  }
}
