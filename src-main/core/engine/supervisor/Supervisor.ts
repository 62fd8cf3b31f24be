/**
 * The server's engine: the surface the HTTP routes call (chat, complete, embed,
 * rerank, count tokens, stats, load, unload), backed by one engine process per
 * loaded model. It decides which processes run (on demand, least recently used
 * eviction beyond `maxLoadedModels`, idle TTL, a RAM budget), watches them, and
 * when one dies fails its requests with the reason, marks the model `crashed`,
 * and starts it again on the next request — or, after repeated crashes, marks it
 * `failed` until the user loads it again or changes its settings.
 */
import type { Logger } from "pino";
import { ApiError, ModelLoadError } from "../../errors.js";
import type { ModelLoadReport } from "../../inference/engineReport.js";
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  GenerationStream,
  ModelInfo,
  RerankRequest,
  RerankResult,
} from "../../inference/types.js";
import { requireCapability } from "../capability.js";
import { type ContextBounds, contextToFit } from "../contextSize.js";
import { localEngineBuilds } from "../cpuKernels.js";
import type { EngineDescription } from "../engineInfo.js";
import type { FitEstimate, FitSettings } from "../fit.js";
import { effectiveSettings, InsufficientMemoryError, type PoolOptions } from "../poolSettings.js";
import type { EngineLauncher } from "../process/launcher.js";
import { EngineProcess, type ExitReport } from "./EngineProcess.js";
import type { Inspector } from "./Inspector.js";
import { assertRequestCouldFit, largestContext, type PromptLimits } from "./promptBound.js";

export type ModelState = "loading" | "ready" | "crashed" | "failed" | "error" | "unloaded";

export interface SupervisorOptions extends PoolOptions {
  gpu: "auto" | false;
  logger: Logger;
  logLevel: string;
  launcher: EngineLauncher;
  inspector: Inspector;
  resolveModel: (id: string) => ModelInfo | undefined;
  /** An engine that sends nothing for this long while requests wait is killed. Defaults to 30 s. */
  watchdogMs?: number;
  /**
   * Keep one started, idle engine process ready once engines are in use, so the next
   * load or restart skips process start (Node, node-llama-cpp, the binding: seconds).
   * Defaults to true.
   */
  spareProcess?: boolean;
  /** This many crashes within `crashWindowMs` mark the model `failed`. Defaults to 3 in 10 minutes. */
  maxCrashes?: number;
  crashWindowMs?: number;
  /**
   * Whether engines load one of our local builds (the CPU kernels or the full tuned build)
   * rather than node-llama-cpp's prebuilt engine. A model that crashes twice on one is
   * started on the prebuilt engine from then on. Defaults to the engine's description, or
   * to looking for the builds while there is none.
   */
  localBuildInUse?: () => boolean;
}

/** The engine process serving a request died (crash, kill, watchdog). */
export class EngineCrashedError extends ApiError {
  constructor(model: string, reason: string) {
    super(
      500,
      "server",
      `Model '${model}' stopped while serving this request: its engine process ${reason}. The next request starts it again.`,
      {
        code: "engine_crashed",
      },
    );
  }
}

/** The model crashed too often; it stays off until loaded by hand or its settings change. */
export class ModelFailedError extends ApiError {
  constructor(model: string, crashes: number, minutes: number, reason: string) {
    super(
      503,
      "server",
      `Model '${model}' is turned off after ${crashes} crashes within ${minutes} minutes (last: its engine process ${reason}). ` +
        `Load it again (POST /api/admin/models/${model}/load) or change its settings.`,
      { code: "model_failed" },
    );
  }
}

interface Entry {
  info: ModelInfo;
  state: ModelState;
  reason: string | null;
  process: EngineProcess | null;
  ready: Promise<EngineProcess> | null;
  /** Times of recent crashes (within the window). */
  crashes: number[];
  /** How many times the model's engine was started again after a crash. */
  restarts: number;
  totalCrashes: number;
  /** Requests in flight (streams count until they end). */
  active: number;
  lastUsed: number;
  idleTimer: NodeJS.Timeout | null;
  estimate: FitEstimate | null;
  /** The settings the model failed with (a change lets it run again). */
  failedSettings: string | null;
  loadStarted: number;
  /** From the engine's load: what bounds a prompt before it is sent (null until loaded once). */
  promptLimits: PromptLimits | null;
  /** The chat context bounds the engine was (or will be) loaded with instead of the settings' (a reload, a sized load). */
  contextOverride: ContextBounds | null;
  /** The context the running engine reported after a sized load (0 = not known). */
  loadedContext: number;
  /** A reload with a larger context under way: requests for the model wait for it. */
  reloading: Promise<void> | null;
  /** Requests waiting for that reload (counted in `active`, but holding no engine). */
  parked: number;
  lastReload: ContextReload | null;
  contextReloads: number;
  /** A move to a new engine binary under way (`moveIfIdle`); also set as `reloading`, so requests wait for it. */
  moving: Promise<void> | null;
  /** Crashed on a local build, or did not load there: its engine processes load node-llama-cpp's prebuilt engine. */
  prebuiltEngine: boolean;
  /** Its load is being tried again on the prebuilt engine, after it failed on a local build (`loadOnPrebuilt`). */
  loadFellBack: boolean;
}

/** The last time a model was reloaded with a larger context (GET /api/admin/engine shows it). */
export interface ContextReload {
  at: number;
  from: number;
  to: number;
  reason: string;
}

/** Why a reload with a larger context was not done (added to the request's 400). */
class ReloadDeclined extends Error {}

const ENGINE_EXEC_ARGV = ["--max-semi-space-size=1"];

const settingsKey = (info: ModelInfo) => JSON.stringify(info.settings ?? {});

export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private description: { value: EngineDescription; at: number } | null = null;
  private describing: Promise<EngineDescription> | null = null;
  private disposed = false;
  private spare: EngineProcess | null = null;
  /** Counts finished engine builds; each process remembers the count it was spawned at (its binary). */
  private binaryGeneration = 0;
  private readonly generationOf = new WeakMap<EngineProcess, number>();

  constructor(private readonly options: SupervisorOptions) {}

  get inspector(): Inspector {
    return this.options.inspector;
  }

  private get watchdogMs(): number {
    return this.options.watchdogMs ?? 30_000;
  }

  // ---- the request surface -------------------------------------------------------------

  // `model`: the record the pipeline resolved `request.model` to (no second lookup by name); looked up when left out.
  async chat(request: ChatRequest, signal?: AbortSignal, model?: ModelInfo): Promise<GenerationStream> {
    const info = requireCapability(request.model, model ?? this.options.resolveModel(request.model), "chat");
    return this.streamOn(info, "chat", request, signal);
  }

  async complete(request: CompletionRequest, signal?: AbortSignal, model?: ModelInfo): Promise<GenerationStream> {
    const info = requireCapability(request.model, model ?? this.options.resolveModel(request.model), "chat");
    return this.streamOn(info, "complete", request, signal);
  }

  async embed(request: EmbeddingRequest, signal?: AbortSignal, model?: ModelInfo): Promise<EmbeddingResult> {
    const info = requireCapability(request.model, model ?? this.options.resolveModel(request.model), "embedding");
    return this.callOn(info, "embed", [request], signal);
  }

  async rerank(request: RerankRequest, signal?: AbortSignal, model?: ModelInfo): Promise<RerankResult> {
    const info = requireCapability(request.model, model ?? this.options.resolveModel(request.model), "rerank");
    return this.callOn(info, "rerank", [request], signal);
  }

  async countChatTokens(request: ChatRequest, model?: ModelInfo): Promise<number> {
    const info = requireCapability(request.model, model ?? this.options.resolveModel(request.model), "chat");
    return this.callOn(info, "countChatTokens", [request]);
  }

  async tokenize(modelId: string, text: string): Promise<number[]> {
    const info = requireCapability(modelId, this.options.resolveModel(modelId), "chat");
    return this.callOn(info, "tokenize", [modelId, text]);
  }

  private async streamOn(
    info: ModelInfo,
    method: "chat" | "complete",
    request: ChatRequest | CompletionRequest,
    signal: AbortSignal | undefined,
  ): Promise<GenerationStream> {
    try {
      return await this.streamOnce(info, method, request, signal);
    } catch (error) {
      // A prompt longer than the loaded context: reload with a larger one if allowed, then once more.
      await this.growContextFor(info, error, request.sampling.maxTokens);
      return await this.streamOnce(info, method, request, signal);
    }
  }

  private async streamOnce(
    info: ModelInfo,
    method: "chat" | "complete",
    request: ChatRequest | CompletionRequest,
    signal: AbortSignal | undefined,
  ): Promise<GenerationStream> {
    const entry = this.entryFor(info);
    this.begin(entry);
    // Once per request: a stream that fails before it starts settles (ends) itself, then lands in the catch.
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.end(entry);
    };
    try {
      const proc = await this.ensure(entry);
      this.assertCouldFit(entry, method, request);
      return await proc.stream(method, request, info, signal, end);
    } catch (error) {
      end();
      throw error;
    }
  }

  private async callOn<T>(
    info: ModelInfo,
    method: "embed" | "rerank" | "countChatTokens" | "tokenize",
    args: unknown[],
    signal?: AbortSignal,
  ): Promise<T> {
    const entry = this.entryFor(info);
    this.begin(entry);
    try {
      const proc = await this.ensure(entry);
      if (method !== "tokenize") this.assertCouldFit(entry, method, args[0] as ChatRequest | EmbeddingRequest);
      return await proc.call<T>(method, args, { model: info, ...(signal ? { signal } : {}) });
    } finally {
      this.end(entry);
    }
  }

  /** A prompt that cannot fit any context the model could get is a 400 here, before IPC and tokenizing. */
  private assertCouldFit(entry: Entry, method: string, request: ChatRequest | CompletionRequest | EmbeddingRequest): void {
    const limits = entry.promptLimits;
    if (!limits) return;
    assertRequestCouldFit(method, request, limits, largestContext(limits, entry.info, this.options.contextSize));
  }

  private begin(entry: Entry): void {
    entry.active++;
    entry.lastUsed = Date.now();
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
  }

  private end(entry: Entry): void {
    entry.active = Math.max(0, entry.active - 1);
    entry.lastUsed = Date.now();
    if (entry.active === 0) {
      this.moveIfIdle(entry);
      if (!entry.moving) this.scheduleIdleUnload(entry);
    }
  }

  // ---- a new engine binary ---------------------------------------------------------------

  /** Whether engines load one of our local builds (see `SupervisorOptions.localBuildInUse`). */
  private localBuildInUse(): boolean {
    const described = this.description?.value;
    if (described) return described.build === "localBuild";
    const builds = localEngineBuilds();
    return builds.tuned || builds.kernels !== null;
  }

  /**
   * A new engine binary is ready (the background CPU engine build finished). An engine
   * process loads the binary once, when it starts: the spare is dropped (the next start makes
   * a new one), the inspector's process is replaced before its next job, and each running
   * model moves to a new engine process as soon as no request of its is in flight. Streams
   * under way finish on the old binary; requests that arrive during the move wait for it (as
   * for a reload with a larger context); a model that never has a moment without requests
   * stays where it is. Models served by a GPU backend stay: the build is for the CPU.
   */
  engineBinaryChanged(): void {
    if (this.disposed) return;
    const backend = this.description?.value.backend;
    this.description = null;
    void this.takeSpare()?.stop(2000);
    this.options.inspector.renew();
    if (backend !== undefined && backend !== "cpu") return;
    this.binaryGeneration++;
    for (const entry of this.entries.values()) this.moveIfIdle(entry);
  }

  private moveIfIdle(entry: Entry): void {
    const old = entry.process;
    if (!old || entry.prebuiltEngine || this.generationOf.get(old) === this.binaryGeneration) return;
    if (entry.active > 0 || entry.reloading || entry.state !== "ready" || this.disposed) return;
    const logger = this.options.logger;
    const started = Date.now();
    this.detach(entry);
    entry.moving = (async () => {
      await old.stop();
      if (this.disposed || this.entries.get(entry.info.id) !== entry) return;
      entry.ready = this.start(entry);
      const proc = await entry.ready;
      logger.info({ model: entry.info.id, pid: proc.pid, ms: Date.now() - started }, "model moved to the new engine build");
    })()
      .catch((error) => {
        logger.warn({ model: entry.info.id, err: (error as Error).message }, "moving a model to the new engine build failed");
      })
      .finally(() => {
        entry.moving = null;
        entry.reloading = null;
      });
    entry.reloading = entry.moving;
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  private entryFor(info: ModelInfo): Entry {
    let entry = this.entries.get(info.id);
    if (!entry) {
      entry = {
        info,
        state: "unloaded",
        reason: null,
        process: null,
        ready: null,
        crashes: [],
        restarts: 0,
        totalCrashes: 0,
        active: 0,
        lastUsed: Date.now(),
        idleTimer: null,
        estimate: null,
        failedSettings: null,
        loadStarted: 0,
        promptLimits: null,
        contextOverride: null,
        loadedContext: 0,
        reloading: null,
        parked: 0,
        lastReload: null,
        contextReloads: 0,
        moving: null,
        prebuiltEngine: false,
        loadFellBack: false,
      };
      this.entries.set(info.id, entry);
    } else entry.info = info;
    return entry;
  }

  /** The model's running engine, started (after making room) when there is none. */
  private ensure(entry: Entry): Promise<EngineProcess> {
    if (this.disposed) return Promise.reject(new ModelLoadError(entry.info.id, "the server is stopping"));
    if (entry.reloading) return this.parkOnReload(entry);
    if (entry.state === "failed") {
      if (settingsKey(entry.info) === entry.failedSettings) {
        const minutes = Math.round((this.options.crashWindowMs ?? 600_000) / 60_000);
        return Promise.reject(new ModelFailedError(entry.info.id, entry.crashes.length, minutes, entry.reason ?? "unknown"));
      }
      // Its settings changed since it failed: give it another chance.
      entry.crashes = [];
      entry.failedSettings = null;
    }
    // A start still making room has no process yet: concurrent first requests share it (they started one each).
    if (entry.ready && (entry.process ? entry.process.alive : entry.state === "loading")) return entry.ready;
    entry.ready = this.start(entry);
    // Keep the state of a failed start visible; the next request tries again.
    entry.ready.catch(() => {});
    return entry.ready;
  }

  private async start(entry: Entry): Promise<EngineProcess> {
    const info = entry.info;
    const wasCrashed = entry.state === "crashed";
    entry.state = "loading";
    entry.reason = null;
    entry.loadStarted = Date.now();
    try {
      await this.makeRoom(entry);
    } catch (error) {
      entry.state = "error";
      entry.reason = (error as Error).message;
      throw error;
    }
    // Unloaded (or the server stopping) while it made room: no process for an entry nobody holds.
    if (this.disposed || this.entries.get(info.id) !== entry) throw new ModelLoadError(info.id, "the model was unloaded");
    // The spare loaded the build in use; a model pinned to the prebuilt engine needs a process of its own.
    const proc = (entry.prebuiltEngine ? null : this.takeSpare()) ?? this.spawn(info.id, entry.prebuiltEngine);
    proc.name = info.id;
    proc.onExit = (report) => this.exited(entry, proc, report);
    this.prepareSpare();
    proc.crashError = (report) => new EngineCrashedError(info.id, EngineProcess.describe(report));
    entry.process = proc;
    if (wasCrashed) entry.restarts++;
    this.options.logger.info({ model: info.id, pid: proc.pid, restart: wasCrashed }, "engine process started");
    try {
      const loaded = await proc.call<{ stats?: Array<{ id: string; contextSize?: number }>; promptLimits?: PromptLimits | null }>(
        "load",
        [info, entry.contextOverride ? { context: entry.contextOverride } : {}],
        { model: info },
      );
      entry.promptLimits = loaded?.promptLimits ?? null;
      if (entry.process !== proc) throw new ModelLoadError(info.id, "the model was unloaded while it loaded");
      entry.loadedContext = loaded?.stats?.find((s) => s.id === info.id)?.contextSize ?? 0;
      entry.state = "ready";
      this.options.logger.info({ model: info.id, pid: proc.pid, ms: Date.now() - entry.loadStarted }, "model ready");
      this.scheduleIdleUnload(entry);
      return proc;
    } catch (error) {
      if (proc.alive && entry.process === proc) {
        // A clean load failure (the engine said why): the process has nothing to serve.
        entry.state = "error";
        entry.reason = (error as Error).message;
        entry.process = null;
        void proc.stop(2000);
        if (!entry.prebuiltEngine && !entry.loadFellBack && this.usesLocalBuild()) {
          return this.loadOnPrebuilt(entry, error as Error);
        }
      }
      throw error;
    }
  }

  /** Whether engines load one of our local builds (the option, else `localBuildInUse`). */
  private usesLocalBuild(): boolean {
    return (this.options.localBuildInUse ?? (() => this.localBuildInUse()))();
  }

  /**
   * A model that failed to load on a local engine build is tried once on node-llama-cpp's
   * prebuilt engine: the build may be what fails (a library this CPU or this model's weights
   * do not get on with). Where the prebuilt engine loads it, the model stays there (as after
   * two crashes); where it fails too, the build was not the cause: the model is not pinned,
   * and the prebuilt engine's error is the one reported.
   */
  private async loadOnPrebuilt(entry: Entry, error: Error): Promise<EngineProcess> {
    entry.prebuiltEngine = true;
    entry.loadFellBack = true;
    this.options.logger.warn(
      { model: entry.info.id, err: error.message },
      "the model did not load on the local engine build; trying node-llama-cpp's prebuilt engine",
    );
    try {
      return await this.start(entry);
    } catch (retryError) {
      entry.prebuiltEngine = false;
      throw retryError;
    } finally {
      entry.loadFellBack = false;
    }
  }

  private spawn(name: string, prebuiltEngine = false): EngineProcess {
    const proc = new EngineProcess({
      name,
      role: "engine",
      launcher: this.options.launcher,
      settings: {
        gpu: this.options.gpu,
        ...(prebuiltEngine ? { prebuiltEngine: true } : {}),
        threads: this.options.threads,
        parallel: this.options.parallel,
        maxQueue: this.options.maxQueue,
        contextSize: this.options.contextSize,
        ...(this.options.defaultTtlMinutes !== undefined ? { defaultTtlMinutes: this.options.defaultTtlMinutes } : {}),
        ...(this.options.prefixCache ? { prefixCache: this.options.prefixCache } : {}),
        logLevel: this.options.logLevel,
        heartbeatMs: Math.max(50, Math.min(1000, Math.floor(this.watchdogMs / 5))),
      },
      logger: this.options.logger,
      watchdogMs: this.watchdogMs,
      // V8's young generation at 1 MB instead of 16: ~12 MB less RSS per engine process
      // (an engine allocates little per token; its memory is llama.cpp's).
      // MAAS_ENGINE_NODE_ARGS: extra Node flags for engine processes (profiling: `--cpu-prof --cpu-prof-dir=…`).
      execArgv: [...ENGINE_EXEC_ARGV, ...(process.env.MAAS_ENGINE_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [])],
    });
    this.generationOf.set(proc, this.binaryGeneration);
    return proc;
  }

  private takeSpare(): EngineProcess | null {
    const spare = this.spare;
    this.spare = null;
    return spare?.alive ? spare : null;
  }

  /** Starts the spare engine process in the background (one at most). */
  private prepareSpare(): void {
    if (this.disposed || this.options.spareProcess === false || this.spare?.alive) return;
    const spare = this.spawn("spare");
    spare.onExit = (report) => {
      if (this.spare === spare) this.spare = null;
      if (!report.expected)
        this.options.logger.warn({ reason: EngineProcess.describe(report) }, "the spare engine process exited");
    };
    this.spare = spare;
  }

  /** Takes the model's engine process off its entry (which then has none, and no idle timer); returns it for the caller to stop. */
  private detach(entry: Entry): EngineProcess | null {
    const proc = entry.process;
    entry.process = null;
    entry.ready = null;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
    return proc;
  }

  private exited(entry: Entry, proc: EngineProcess, report: ExitReport): void {
    if (entry.process !== proc) return;
    entry.process = null;
    entry.ready = null;
    if (report.expected) return;
    const reason = EngineProcess.describe(report);
    const now = Date.now();
    const windowMs = this.options.crashWindowMs ?? 600_000;
    entry.crashes = [...entry.crashes.filter((t) => now - t < windowMs), now];
    entry.totalCrashes++;
    entry.reason = reason;
    const max = this.options.maxCrashes ?? 3;
    // Twice (or `max` times, if fewer) on a local build: the build may be what crashes, so the
    // next starts load the prebuilt engine, with the crash count started again there.
    const pin = !entry.prebuiltEngine && entry.crashes.length >= Math.min(2, max) && this.usesLocalBuild();
    if (pin) {
      entry.prebuiltEngine = true;
      entry.crashes = [];
      this.options.logger.warn(
        { model: entry.info.id, pid: proc.pid, reason },
        "engine process crashed twice on the local engine build; the model runs on the prebuilt engine from now on",
      );
    }
    if (entry.crashes.length >= max) {
      entry.state = "failed";
      entry.failedSettings = settingsKey(this.options.resolveModel(entry.info.id) ?? entry.info);
      this.options.logger.error(
        { model: entry.info.id, pid: proc.pid, reason, crashes: entry.crashes.length, output: report.lastOutput },
        "engine process crashed too often; the model is turned off",
      );
    } else {
      entry.state = "crashed";
      this.options.logger.error(
        { model: entry.info.id, pid: proc.pid, reason, output: report.lastOutput },
        "engine process crashed",
      );
    }
  }

  private scheduleIdleUnload(entry: Entry): void {
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = null;
    if (entry.state !== "ready" || entry.active > 0) return;
    const ttlMinutes = effectiveSettings(entry.info, this.options).ttlMinutes;
    if (ttlMinutes <= 0) return;
    entry.idleTimer = setTimeout(() => {
      entry.idleTimer = null;
      if (entry.active > 0 || entry.state !== "ready") return;
      this.options.logger.info({ model: entry.info.id, ttlMinutes }, "unloading an idle model");
      void this.unload(entry.info.id);
    }, ttlMinutes * 60_000);
    entry.idleTimer.unref();
  }

  /** Running engines, least recently used idle ones first. */
  private evictable(except: string): Entry[] {
    return [...this.entries.values()]
      .filter((e) => e.info.id !== except && e.state === "ready" && e.process && e.active === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
  }

  private running(except: string): Entry[] {
    return [...this.entries.values()].filter((e) => e.info.id !== except && e.process);
  }

  private async makeRoom(entry: Entry): Promise<void> {
    const info = entry.info;
    const max = this.options.maxLoadedModels ?? 4;
    for (const victim of this.evictable(info.id)) {
      if (this.running(info.id).length < max) break;
      this.options.logger.info({ model: victim.info.id, for: info.id }, "evicting the least recently used model");
      await this.unload(victim.info.id);
    }
    const budget = this.options.ramBudgetBytes;
    if (budget === undefined) return; // the engine checks against free memory itself
    const settings = effectiveSettings(info, this.options);
    let estimate: FitEstimate;
    try {
      estimate = await this.estimateFit(info, settings);
    } catch (error) {
      this.options.logger.debug({ model: info.id, err: (error as Error).message }, "no memory estimate");
      return;
    }
    entry.estimate = estimate;
    const available = () => budget - this.running(info.id).reduce((n, e) => n + (e.estimate?.ram ?? 0), 0);
    for (const victim of this.evictable(info.id)) {
      if (estimate.ram <= available()) break;
      this.options.logger.info({ model: victim.info.id, for: info.id }, "evicting a model to free memory");
      await this.unload(victim.info.id);
    }
    if (estimate.ram > available()) throw new InsufficientMemoryError(info.id, estimate.ram, Math.max(0, available()), "RAM");
  }

  /**
   * Loads a model now (the admin API's load): also what turns a `failed` model back on.
   * `contextSize` loads it with that context this time (again, if it runs with another); it is
   * where the model starts, not a pin: a longer prompt may still grow it (its own setting pins).
   */
  async load(info: ModelInfo, options: { contextSize?: number } = {}): Promise<void> {
    if (options.contextSize !== undefined) {
      const trained = info.contextLength && info.contextLength > 0 ? info.contextLength : Number.POSITIVE_INFINITY;
      const size = Math.max(1, Math.min(options.contextSize, trained));
      const current = this.entries.get(info.id);
      if (current?.process && (current.contextOverride?.min !== size || current.contextOverride?.max !== size)) {
        await this.unload(info.id);
      }
      this.entryFor(info).contextOverride = { min: size, max: size };
    }
    const entry = this.entryFor(info);
    if (entry.state === "failed" || entry.state === "crashed") {
      entry.state = "unloaded";
      entry.crashes = [];
      entry.failedSettings = null;
    }
    this.begin(entry);
    try {
      await this.ensure(entry);
    } finally {
      this.end(entry);
    }
  }

  /** Whether the model has an engine process (loading or ready). */
  isLoaded(id: string): boolean {
    const entry = this.entries.get(id);
    return entry?.process != null || entry?.moving != null;
  }

  /** Stops the model's engine; forgets its state. Resolves true when one was running. */
  async unload(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    const proc = this.detach(entry);
    entry.state = "unloaded";
    if (!proc) return false;
    // No model left running: the spare is not worth its memory until engines are used again.
    const spare = [...this.entries.values()].some((e) => e.process) ? null : this.takeSpare();
    await Promise.all([proc.stop(), spare?.stop(2000)]);
    return true;
  }

  // ---- growing a model's context for a long prompt ------------------------------------------

  /**
   * Called with a request's error. Resolves when the model now has (or just got) a context the
   * request may fit in, so it should be tried once more; otherwise throws the error, with why no
   * reload was done when that is worth saying. One reload per model at a time: concurrent long
   * prompts wait for the same one.
   */
  private async growContextFor(info: ModelInfo, error: unknown, maxTokens: number | undefined): Promise<void> {
    const seen = error instanceof ApiError ? error.options.context : undefined;
    const entry = this.entries.get(info.id);
    if (!seen || !entry) throw error;
    if (entry.moving) {
      // The request's end started a move to a new engine build: it keeps the context it had, so look again after it.
      await entry.moving;
      return this.growContextFor(info, error, maxTokens);
    }
    if (!entry.reloading) {
      // Reloaded since this request read the context: try the new one.
      if (entry.loadedContext > seen.loaded) return;
      const bounds = contextToFit({
        explicit: info.settings?.contextSize,
        cap: this.options.contextSize,
        trainContextSize: info.contextLength,
        loaded: seen.loaded,
        promptTokens: seen.promptTokens,
        maxTokens,
      });
      if (!bounds) throw error;
      // Set before any await, so a second long prompt arriving now waits for this reload.
      entry.reloading = this.reloadWithContext(entry, bounds, seen).finally(() => {
        entry.reloading = null;
      });
    }
    try {
      await entry.reloading;
    } catch (reloadError) {
      const note =
        reloadError instanceof ReloadDeclined ? reloadError.message : `Reloading it failed: ${(reloadError as Error).message}`;
      if (!(error instanceof ApiError)) throw error;
      throw new ApiError(error.status, error.kind, `${error.message} ${note}`, error.options);
    }
  }

  /** Requests arriving during a reload wait for it, then use whatever engine it left. */
  private async parkOnReload(entry: Entry): Promise<EngineProcess> {
    entry.parked++;
    try {
      await entry.reloading?.catch(() => {});
    } finally {
      entry.parked--;
    }
    return this.ensure(entry);
  }

  /**
   * Checks memory, waits for the model's requests in flight to finish (new ones wait; none
   * fails), stops its engine and starts it with `bounds`. If that start fails, the model is
   * started again with the context it had, and the error is thrown.
   */
  private async reloadWithContext(entry: Entry, bounds: ContextBounds, seen: { promptTokens: number; loaded: number }) {
    const info = entry.info;
    const logger = this.options.logger;
    const short = await this.memoryShortfall(entry, bounds.min);
    if (short) {
      logger.info({ model: info.id, promptTokens: seen.promptTokens, loaded: seen.loaded, want: bounds.min }, short);
      throw new ReloadDeclined(short);
    }
    while (entry.active - entry.parked > 0 && !this.disposed) await new Promise((resolve) => setTimeout(resolve, 25));
    if (this.disposed || this.entries.get(info.id) !== entry) throw new ModelLoadError(info.id, "the model was unloaded");
    const reason = `a prompt of ${seen.promptTokens} tokens did not fit the context of ${seen.loaded}`;
    logger.info(
      { model: info.id, from: seen.loaded, min: bounds.min, max: bounds.max, reason },
      "reloading a model with a larger context",
    );
    const previous = entry.contextOverride;
    await this.detach(entry)?.stop();
    entry.contextOverride = bounds;
    const started = Date.now();
    entry.ready = this.start(entry);
    try {
      await entry.ready;
    } catch (error) {
      logger.warn(
        { model: info.id, err: (error as Error).message },
        "reloading with a larger context failed; loading the context it had",
      );
      entry.contextOverride = previous;
      entry.ready = this.start(entry);
      entry.ready.catch(() => {});
      throw error;
    }
    entry.lastReload = { at: Date.now(), from: seen.loaded, to: entry.loadedContext, reason };
    entry.contextReloads++;
    logger.info(
      { model: info.id, from: seen.loaded, to: entry.loadedContext, ms: Date.now() - started },
      "model reloaded with a larger context",
    );
  }

  /** Why memory cannot hold the model with a context of `contextSize`, or null when it can (or nobody can tell). */
  private async memoryShortfall(entry: Entry, contextSize: number): Promise<string | null> {
    const info = entry.info;
    let estimate: FitEstimate;
    try {
      estimate = await this.estimateFit(info, { ...effectiveSettings(info, this.options), contextSize });
    } catch {
      return null; // no estimate for this file: node-llama-cpp's own check decides at load
    }
    const budget = this.options.ramBudgetBytes;
    // The running engine's memory comes back when it stops.
    const available =
      budget !== undefined
        ? budget - this.running(info.id).reduce((n, e) => n + (e.estimate?.ram ?? 0), 0)
        : estimate.freeRam + (entry.process?.rss ?? 0);
    if (estimate.ram <= available) return null;
    const gib = (n: number) => `${(Math.max(0, n) / 2 ** 30).toFixed(2)} GiB`;
    return `A context of ${contextSize} tokens would need about ${gib(estimate.ram)} of RAM, and ${gib(available)} is available, so it was not reloaded.`;
  }

  // ---- what the admin API shows ------------------------------------------------------------

  private statOf(entry: Entry, fresh?: unknown) {
    const childStats = ((fresh ?? entry.process?.lastStats) as Array<Record<string, unknown>> | null | undefined)?.find(
      (s) => s.id === entry.info.id,
    );
    const { id: _id, state: _state, error: _error, ...engine } = childStats ?? {};
    return {
      id: entry.info.id,
      state: entry.state,
      progress: entry.state === "ready" ? 1 : ((childStats?.progress as number | undefined) ?? 0),
      error: entry.reason,
      reason: entry.reason,
      pid: entry.process?.pid ?? null,
      /** Resident memory of the model's engine process, in bytes (0 when it has none). */
      processRss: entry.process?.rss ?? 0,
      crashes: entry.totalCrashes,
      restarts: entry.restarts,
      activeSequences: 0,
      queued: 0,
      activeEncoders: 0,
      parallel: effectiveSettings(entry.info, this.options).parallel,
      contextSize: 0,
      ...engine,
      ...(entry.estimate ? { estimatedRam: entry.estimate.ram, estimatedVram: entry.estimate.vram } : {}),
      lastReload: entry.lastReload,
      contextReloads: entry.contextReloads,
      prebuiltEngine: entry.prebuiltEngine,
    } as ModelLoadReport;
  }

  /** Every model with an engine or a state worth showing, from the engines' last heartbeats. */
  statsNow() {
    return [...this.entries.values()].filter((e) => e.state !== "unloaded").map((e) => this.statOf(e));
  }

  /** Like `statsNow`, asking each ready engine for its numbers now (a stalled one answers from its last heartbeat). */
  async stats() {
    const entries = [...this.entries.values()].filter((e) => e.state !== "unloaded");
    return Promise.all(
      entries.map(async (e) => {
        const proc = e.process;
        if (!proc || e.state !== "ready") return this.statOf(e);
        const fresh = await Promise.race([
          proc.call("stats", []).catch(() => null),
          new Promise((resolve) => setTimeout(resolve, 1000).unref()),
        ]);
        return this.statOf(e, fresh ?? undefined);
      }),
    );
  }

  /** The backend, devices and memory, from the inspector (cached: it does not change while running, memory aside). */
  async describe(): Promise<EngineDescription> {
    const cached = this.description;
    if (cached && Date.now() - cached.at < 5000) return cached.value;
    this.describing ??= this.options.inspector.describe().finally(() => {
      this.describing = null;
    });
    try {
      const value = await this.describing;
      this.description = { value, at: Date.now() };
      return value;
    } catch (error) {
      if (cached) return cached.value;
      throw error;
    }
  }

  estimateFit(info: ModelInfo, settings: FitSettings): Promise<FitEstimate> {
    return this.options.inspector.fit(info, settings);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const spare = this.takeSpare();
    await Promise.all([...[...this.entries.keys()].map((id) => this.unload(id)), spare?.stop(2000)]);
  }
}
