import { statSync } from "node:fs";
import type {
  ChatWrapper,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaModel,
  LlamaRankingContext,
  Token,
} from "node-llama-cpp";
import type { Logger } from "pino";
import { ModelLoadError, QueueFullError } from "../errors.js";
import type { ModelInfo } from "../inference/types.js";
import { createBatchStrategy } from "./batching.js";
import { ContextPool } from "./ContextPool.js";
import type { ContextBounds } from "./contextSize.js";
import { estimateFit, type FitEstimate } from "./fit.js";
import { llamaSaidSince } from "./llama.js";
import { effectiveSettings, InsufficientMemoryError, type PoolOptions } from "./poolSettings.js";
import { PrefixStore } from "./prefixStore.js";
import { SlotQueue } from "./SlotQueue.js";
import { SequenceAligner } from "./sequenceAlign.js";
import { chooseSequence, commonPrefixLength, type SequenceRequest } from "./sequenceChoice.js";

// Pure parts the server process uses too (it must not import this file: it loads node-llama-cpp).
export { effectiveSettings, InsufficientMemoryError, type PoolOptions } from "./poolSettings.js";

/** Longest time unloading a model spends saving its warm sequences' prefixes (the supervisor's grace is 5 s). */
const SAVE_ON_UNLOAD_MS = 3000;

/** Prompt tokens fed per decode step while other streams of the model are generating. */
const PROMPT_CHUNK = 128;
/** How long (in dispatch-loop turns) a decode waits for every generating stream to queue its token. */
const BATCH_MAX_WAITS = 32;
/**
 * Embedding or ranking contexts per encoder model (each serves one input at a time).
 * One: node-llama-cpp splits `maxThreads` between a model's contexts, and decodes
 * share one libuv thread, so a second context halved the threads each got and
 * measured no faster (bench/RESULTS.md, 2026-11-26).
 */
const ENCODER_CONTEXTS = 1;

/** A sequence leased to one request. `release` must be called exactly once. */
export interface SequenceLease {
  sequence: LlamaContextSequence;
  loaded: LoadedModel;
  /** Prompt tokens the sequence already holds evaluated (its common prefix with the hint's prompt). */
  cachedTokens: number;
  /**
   * Drops what the sequence holds past its common prefix with the prompt (as node-llama-cpp
   * will feed it), without waiting for the other streams to finish (sequenceAlign.ts).
   */
  align(tokens: readonly Token[]): Promise<void>;
  release(): void;
}

/** What one load of a model may set beyond its settings (the supervisor's reload with a larger context). */
export interface LoadOverrides {
  /** The chat context's bounds for this load, instead of those its settings give. */
  context?: ContextBounds;
}

/** A model in memory with the contexts made for it so far. */
export class LoadedModel {
  lastUsed = Date.now();
  chatWrapper: ChatWrapper | null = null;
  private chat: {
    context: LlamaContext;
    sequences: Array<LlamaContextSequence | undefined>;
    /** When each sequence was last released, and the affinity key of the request it served (sequenceChoice.ts). */
    lastUsed: number[];
    affinity: Array<string | null>;
    slots: SlotQueue;
    batching: ReturnType<typeof createBatchStrategy>;
    /** Sequence ids leased to a request now: the batch strategy waits only for these. */
    leased: Set<number>;
    aligner: SequenceAligner;
    /** Slots leased now (an unload saves only the others). */
    busySlots: Set<number>;
  } | null = null;
  /** This model's saved prompt prefixes, once the chat context exists (null when the store is off). */
  private prefixes: PrefixStore | null = null;
  private chatCreating: Promise<void> | null = null;
  readonly embedding: ContextPool<LlamaEmbeddingContext>;
  readonly ranking: ContextPool<LlamaRankingContext>;
  private readonly settings: ReturnType<typeof effectiveSettings>;
  /** Called whenever the model may have become idle (the pool schedules its TTL unload). */
  onIdle: () => void = () => {};

  constructor(
    readonly info: ModelInfo,
    readonly model: LlamaModel,
    private readonly options: PoolOptions,
    readonly estimate: FitEstimate | null,
    private readonly overrides: LoadOverrides = {},
    private readonly logger?: Logger,
  ) {
    this.settings = effectiveSettings(info, options);
    const full = () => new QueueFullError(info.id);
    const encoders = Math.min(ENCODER_CONTEXTS, this.settings.parallel);
    const release = () => {
      this.lastUsed = Date.now();
      if (!this.busy) this.onIdle();
    };
    this.embedding = new ContextPool(
      encoders,
      options.maxQueue,
      () => model.createEmbeddingContext({ threads: this.threads, contextSize: this.contextBound }),
      full,
      release,
    );
    this.ranking = new ContextPool(
      encoders,
      options.maxQueue,
      () => model.createRankingContext({ threads: this.threads, contextSize: this.contextBound }),
      full,
      release,
    );
  }

  get ttlMinutes(): number {
    return this.settings.ttlMinutes;
  }

  /** Per-sequence context size actually allocated (0 before the first chat request). */
  get contextSize(): number {
    return this.chat?.context.contextSize ?? 0;
  }

  /** Whether any request holds or waits for one of its sequences or contexts. */
  get busy(): boolean {
    const chat = this.chat ? this.chat.slots.active + this.chat.slots.waiting : 0;
    return chat + this.embedding.active + this.embedding.waiting + this.ranking.active + this.ranking.waiting > 0;
  }

  get stats() {
    const batching = this.chat?.batching.stats;
    return {
      activeSequences: this.chat?.slots.active ?? 0,
      decodeBatches: batching?.batches ?? 0,
      batchedTokens: batching?.tokens ?? 0,
      shortBatches: batching?.shortBatches ?? 0,
      splitSteps: batching?.splitSteps ?? 0,
      unknownSequences: batching?.unknownSequences ?? 0,
      /** Times the decode loop was paused so a newcomer's stale cache could be erased (sequenceAlign.ts). */
      alignHolds: this.chat?.aligner.stats.holds ?? 0,
      queued: (this.chat?.slots.waiting ?? 0) + this.embedding.waiting + this.ranking.waiting,
      activeEncoders: this.embedding.active + this.ranking.active,
      parallel: this.settings.parallel,
      contextSize: this.contextSize,
      ttlMinutes: this.settings.ttlMinutes,
      lastUsed: this.lastUsed,
      estimatedRam: this.estimate?.ram ?? null,
      estimatedVram: this.estimate?.vram ?? null,
      prefixCache: this.prefixes?.stats ?? null,
    };
  }

  /** The configured thread count, else the machine's physical cores (what llama.cpp counts as math cores). */
  private get threads(): number {
    return this.settings.threads ?? this.model.llama.cpuMathCores;
  }

  /** The configured context, never more than the model was trained for, shrunk to what memory allows. */
  private get contextBound() {
    if (this.overrides.context) return this.overrides.context;
    const max = Math.min(this.settings.contextSize, this.model.trainContextSize || this.settings.contextSize);
    return { min: Math.min(this.settings.contextMin, max), max };
  }

  private async ensureChatContext(): Promise<void> {
    if (this.chat) return;
    this.chatCreating ??= (async () => {
      const parallel = this.settings.parallel;
      const slots = new SlotQueue(parallel, this.options.maxQueue);
      // A leased sequence is a generating one: leases are taken right before generation and released right after.
      let created: LlamaContext | null = null;
      const leased = new Set<number>();
      const aligner = new SequenceAligner(() => created);
      const batching = createBatchStrategy({
        holdsQueue: () => aligner.holdsQueue(),
        expectedItems: () => slots.active,
        isLeased: (id) => leased.has(id),
        maxWaits: BATCH_MAX_WAITS,
        promptChunk: PROMPT_CHUNK,
        // node-llama-cpp hands the strategy its queue in order; the queue entries know their
        // sequence (internal, like the empty-batch answer: covered by the engine tests).
        sequenceOf: (i) =>
          (created as unknown as { _queuedDecodes?: Array<{ sequenceId?: number }> } | null)?._queuedDecodes?.[i]?.sequenceId,
      });
      const context = await this.model.createContext({
        sequences: parallel,
        contextSize: this.contextBound,
        threads: this.threads,
        batching: { itemPrioritizationStrategy: batching },
      });
      created = context;
      this.chat = {
        context,
        // All made now, so slot i is llama.cpp's sequence i (the sequence choice keeps busy ids adjacent).
        sequences: Array.from({ length: parallel }, () => context.getSequence()),
        lastUsed: new Array(parallel).fill(0),
        affinity: new Array(parallel).fill(null),
        slots,
        batching,
        leased,
        aligner,
        busySlots: new Set(),
      };
      this.prefixes = this.openPrefixStore();
    })();
    try {
      await this.chatCreating;
    } finally {
      this.chatCreating = null;
    }
  }

  /**
   * The model's prefix store, emptied when the model file or the settings that shape its
   * states changed since it was written (sampling, TTL and threads do not).
   */
  private openPrefixStore(): PrefixStore | null {
    const options = this.options.prefixCache;
    if (!options || options.maxBytes <= 0 || !this.logger) return null;
    try {
      const file = statSync(this.info.path);
      const { sampling: _s, ttlMinutes: _t, threads: _n, ...shaping } = this.info.settings ?? {};
      const fingerprint = JSON.stringify({ path: this.info.path, size: file.size, mtime: file.mtimeMs, settings: shaping });
      return PrefixStore.open(options, this.info.id, fingerprint, this.logger);
    } catch (error) {
      this.logger.warn({ model: this.info.id, err: (error as Error).message }, "prompt prefixes will not be saved");
      return null;
    }
  }

  /** Creates the chat context now (a reload knows chat needs it) and says its size. */
  async createChatContext(): Promise<number> {
    await this.ensureChatContext();
    return this.contextSize;
  }

  async acquireSequence(signal: AbortSignal | undefined, hint: SequenceRequest = { promptTokens: [] }): Promise<SequenceLease> {
    await this.ensureChatContext();
    const chat = this.chat;
    if (!chat) throw new ModelLoadError(this.info.id, "context was disposed");
    // Prefix-aware choice among free sequences (sequenceChoice.ts), so agents' cached prefixes
    // survive side requests, and concurrent streams sit on adjacent sequence ids.
    const idOf = (s: number) => (chat.sequences[s] as unknown as { _sequenceId?: number } | undefined)?._sequenceId ?? s;
    const choose = (free: readonly number[]) => {
      const taken = new Set<number>();
      for (let s = 0; s < chat.sequences.length; s++) if (!free.includes(s)) taken.add(idOf(s));
      return (
        chooseSequence(
          free.map((s) => ({
            slot: s,
            sequenceId: idOf(s),
            cachedTokens: chat.sequences[s]?.contextTokens ?? [],
            lastUsed: chat.lastUsed[s] ?? 0,
            affinityKey: chat.affinity[s] ?? null,
            costly: this.prefixes?.isCostly(chat.sequences[s]?.contextTokens ?? []) ?? false,
          })),
          hint,
          taken,
        )?.slot ?? (free.at(-1) as number)
      );
    };
    const slot = await chat.slots.acquire(signal, () => new QueueFullError(this.info.id), choose);
    let sequence = chat.sequences[slot];
    try {
      if (!sequence || sequence.disposed) {
        sequence = chat.context.getSequence();
        chat.sequences[slot] = sequence;
      }
    } catch (error) {
      chat.slots.release(slot);
      throw error;
    }
    chat.busySlots.add(slot);
    let cachedTokens = commonPrefixLength(sequence.contextTokens, hint.promptTokens);
    const store = this.prefixes;
    if (store) {
      // A long prefix this prompt would overwrite goes to disk first; a saved prefix longer
      // than what the sequence shares is read back, so only the rest is evaluated.
      try {
        // Both take the context's lock: the decode loop steps aside for them (sequenceAlign.ts).
        const locked = <T>(fn: () => Promise<T>) => chat.aligner.exclusive(fn);
        if (store.shouldSave(sequence.contextTokens, hint.promptTokens)) await store.save(sequence, locked);
        if (store.bestFor(hint.promptTokens, cachedTokens, sequence.contextSize))
          await store.restore(sequence, hint.promptTokens, locked);
      } catch (error) {
        this.logger?.warn({ model: this.info.id, err: (error as Error).message }, "the prompt prefix store failed");
      }
      cachedTokens = commonPrefixLength(sequence.contextTokens, hint.promptTokens);
    }
    this.lastUsed = Date.now();
    // node-llama-cpp's internal id of the sequence (as in the batch queue); the engine tests fail if it goes.
    const sequenceId = (sequence as unknown as { _sequenceId?: number })._sequenceId ?? -1;
    if (sequenceId < 0) chat.batching.stats.unknownSequences++;
    chat.leased.add(sequenceId);
    let released = false;
    return {
      sequence,
      loaded: this,
      align: (tokens) => chat.aligner.align(sequence, tokens),
      cachedTokens,
      release: () => {
        if (released) return;
        released = true;
        this.lastUsed = Date.now();
        chat.lastUsed[slot] = this.lastUsed;
        chat.affinity[slot] = hint.affinityKey ?? null;
        chat.leased.delete(sequenceId);
        chat.busySlots.delete(slot);
        chat.slots.release(slot);
        if (!this.busy) this.onIdle();
      },
    };
  }

  /** Idle sequences' long prefixes go to disk, so they outlive this load (a restart, a TTL unload). */
  private async savePrefixesBeforeUnload(): Promise<void> {
    const chat = this.chat;
    const store = this.prefixes;
    if (!chat || !store) return;
    const deadline = Date.now() + SAVE_ON_UNLOAD_MS;
    for (const [slot, sequence] of chat.sequences.entries()) {
      if (Date.now() > deadline) break;
      if (!sequence || sequence.disposed || chat.busySlots.has(slot)) continue;
      if (store.shouldSave(sequence.contextTokens, [])) await store.save(sequence);
    }
  }

  async dispose(): Promise<void> {
    const error = new ModelLoadError(this.info.id, "the model is being unloaded");
    this.chat?.slots.rejectAll(error);
    this.chat?.aligner.release();
    this.embedding.rejectAll(error);
    this.ranking.rejectAll(error);
    await this.savePrefixesBeforeUnload();
    await this.embedding.dispose();
    await this.ranking.dispose();
    await this.model.dispose();
    this.chat = null;
  }
}

export type ModelState = "loading" | "ready" | "error";

interface PoolEntry {
  info: ModelInfo;
  state: ModelState;
  /** Load progress, 0–1. */
  progress: number;
  error: string | null;
  promise: Promise<LoadedModel>;
  loaded: LoadedModel | null;
  idleTimer: NodeJS.Timeout | null;
}

/**
 * Loads models on first use (one load per model even under concurrent requests),
 * checks memory first (evicting idle models when needed), unloads idle models after
 * their TTL, keeps at most `maxLoadedModels`, and owns their disposal.
 */
export class ModelPool {
  private readonly entries = new Map<string, PoolEntry>();

  constructor(
    private readonly llama: Llama,
    private readonly options: PoolOptions,
    private readonly logger: Logger,
  ) {}

  /** `overrides` apply when this call loads the model; a model already loaded keeps its own. */
  get(info: ModelInfo, overrides: LoadOverrides = {}): Promise<LoadedModel> {
    const existing = this.entries.get(info.id);
    if (existing && existing.state !== "error") {
      if (existing.idleTimer) clearTimeout(existing.idleTimer);
      existing.idleTimer = null;
      if (existing.loaded) existing.loaded.lastUsed = Date.now();
      return existing.promise;
    }
    const entry: PoolEntry = {
      info,
      state: "loading",
      progress: 0,
      error: null,
      promise: Promise.resolve(null as never),
      loaded: null,
      idleTimer: null,
    };
    entry.promise = this.load(entry, overrides);
    this.entries.set(info.id, entry);
    entry.promise.then(
      (loaded) => {
        entry.state = "ready";
        entry.progress = 1;
        entry.loaded = loaded;
        loaded.onIdle = () => this.scheduleIdleUnload(entry);
        this.scheduleIdleUnload(entry);
      },
      (error: Error) => {
        // The error stays visible in stats; the next request tries again.
        entry.state = "error";
        entry.error = error.message;
      },
    );
    return entry.promise;
  }

  /** Whether a model is in memory (or on its way). */
  isLoaded(id: string): boolean {
    const entry = this.entries.get(id);
    return entry !== undefined && entry.state !== "error";
  }

  private scheduleIdleUnload(entry: PoolEntry): void {
    const loaded = entry.loaded;
    if (this.options.idleUnload === false) return;
    if (!loaded || loaded.busy || loaded.ttlMinutes <= 0) return;
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    const ttlMs = loaded.ttlMinutes * 60_000;
    entry.idleTimer = setTimeout(() => {
      entry.idleTimer = null;
      if (this.entries.get(entry.info.id) !== entry || loaded.busy) return;
      if (Date.now() - loaded.lastUsed < ttlMs - 5) return this.scheduleIdleUnload(entry);
      this.logger.info({ model: entry.info.id, ttlMinutes: loaded.ttlMinutes }, "unloading an idle model");
      void this.unload(entry.info.id);
    }, ttlMs);
    entry.idleTimer.unref();
  }

  /** Idle ready models, least recently used first. */
  private evictable(except: string): PoolEntry[] {
    return [...this.entries.values()]
      .filter((e) => e.info.id !== except && e.state === "ready" && e.loaded && !e.loaded.busy)
      .sort((a, b) => (a.loaded?.lastUsed ?? 0) - (b.loaded?.lastUsed ?? 0));
  }

  private async makeRoom(info: ModelInfo, overrides: LoadOverrides = {}): Promise<FitEstimate | null> {
    const max = this.options.maxLoadedModels ?? 4;
    for (const victim of this.evictable(info.id)) {
      const resident = [...this.entries.values()].filter((e) => e.info.id !== info.id && e.state !== "error").length;
      if (resident < max) break;
      this.logger.info({ model: victim.info.id, for: info.id }, "evicting the least recently used model");
      await this.unload(victim.info.id);
    }
    const settings = effectiveSettings(info, this.options);
    // What must fit is the smallest context the model may get; the context itself grows into free memory.
    const contextMin = overrides.context?.min ?? settings.contextMin;
    const estimateNow = () => estimateFit(this.llama, info, { ...settings, contextSize: contextMin });
    let estimate: FitEstimate;
    try {
      estimate = await estimateNow();
    } catch (error) {
      // No estimate for this file (unusual architecture): let node-llama-cpp's own checks decide.
      this.logger.debug({ model: info.id, err: (error as Error).message }, "no memory estimate");
      return null;
    }
    const budget = this.options.ramBudgetBytes;
    const usedByOthers = () =>
      [...this.entries.values()]
        .filter((e) => e.info.id !== info.id && e.loaded)
        .reduce((n, e) => n + (e.loaded?.estimate?.ram ?? 0), 0);
    const ramAvailable = () => (budget !== undefined ? budget - usedByOthers() : estimate.freeRam);
    for (const victim of this.evictable(info.id)) {
      if (estimate.ram <= ramAvailable() && estimate.vram <= estimate.freeVram) break;
      this.logger.info({ model: victim.info.id, for: info.id }, "evicting a model to free memory");
      await this.unload(victim.info.id);
      estimate = await estimateNow();
    }
    if (estimate.ram > ramAvailable())
      throw new InsufficientMemoryError(info.id, estimate.ram, Math.max(0, ramAvailable()), "RAM");
    if (estimate.vram > estimate.freeVram && settings.gpuLayers !== "auto") {
      throw new InsufficientMemoryError(info.id, estimate.vram, estimate.freeVram, "VRAM");
    }
    return estimate;
  }

  private async load(entry: PoolEntry, overrides: LoadOverrides): Promise<LoadedModel> {
    const info = entry.info;
    const started = Date.now();
    const estimate = await this.makeRoom(info, overrides);
    const settings = effectiveSettings(info, this.options);
    try {
      const model = await this.llama.loadModel({
        modelPath: info.path,
        gpuLayers: settings.gpuLayers,
        onLoadProgress: (progress) => {
          entry.progress = progress;
        },
      });
      this.logger.info({ model: info.id, ms: Date.now() - started }, "model loaded");
      return new LoadedModel(info, model, this.options, estimate, overrides, this.logger);
    } catch (error) {
      // llama.cpp's log lines cross from its thread asynchronously: let them arrive.
      await new Promise((resolve) => setImmediate(resolve));
      const message = error instanceof Error ? error.message : String(error);
      // Its reason (`llama_model_load: error loading model: …`), beside node-llama-cpp's generic message.
      const failing = llamaSaidSince(started).filter((line) => /error|fail|invalid|missing|not found|wrong|corrupt/i.test(line));
      // llama.cpp's own lines start with its function's name (`llama_model_load: …`).
      const own = failing.filter((line) => /^[a-z_0-9]+: /.test(line));
      const lines = own.length > 0 ? own : failing;
      const detail = lines.slice(-3).join(" | ");
      const reason = detail && !message.includes(detail) ? `${message} (llama.cpp: ${detail})` : message;
      this.logger.warn({ model: info.id, err: reason }, "model failed to load");
      throw new ModelLoadError(info.id, reason);
    }
  }

  stats() {
    return [...this.entries.values()].map((e) => ({
      id: e.info.id,
      state: e.state,
      progress: e.progress,
      error: e.error,
      ...(e.loaded?.stats ?? {
        activeSequences: 0,
        queued: 0,
        activeEncoders: 0,
        parallel: effectiveSettings(e.info, this.options).parallel,
        contextSize: 0,
      }),
    }));
  }

  async unload(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    const loaded = await entry.promise.catch(() => null);
    await loaded?.dispose();
    return loaded !== null;
  }

  async dispose(): Promise<void> {
    const ids = [...this.entries.keys()];
    await Promise.all(ids.map((id) => this.unload(id)));
  }
}
