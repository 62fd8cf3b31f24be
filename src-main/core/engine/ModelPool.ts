import type {
  ChatWrapper,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaModel,
  LlamaRankingContext,
} from "node-llama-cpp";
import type { Logger } from "pino";
import { ModelLoadError, QueueFullError } from "../errors.js";
import type { ModelInfo } from "../inference/types.js";
import { createBatchStrategy } from "./batching.js";
import { ContextPool } from "./ContextPool.js";
import { SlotQueue } from "./SlotQueue.js";

export interface PoolOptions {
  /** Threads per context; `undefined` = llama.cpp's count of physical cores. */
  threads?: number | undefined;
  /** Parallel sequences per chat model (continuous batching across them). */
  parallel: number;
  /** Requests that may wait for a free sequence before new ones get 429. */
  maxQueue: number;
  /** Upper bound on each sequence's context, in tokens. */
  contextSize: number;
}

/** Prompt tokens fed per decode step while other streams of the model are generating. */
const PROMPT_CHUNK = 128;
/** How long (in dispatch-loop turns) a decode waits for every generating stream to queue its token. */
const BATCH_MAX_WAITS = 32;
/** Embedding or ranking contexts per encoder model (each serves one input at a time). */
const ENCODER_CONTEXTS = 2;

/** A sequence leased to one request. `release` must be called exactly once. */
export interface SequenceLease {
  sequence: LlamaContextSequence;
  loaded: LoadedModel;
  release(): void;
}

/** A model in memory with the contexts made for it so far. */
export class LoadedModel {
  lastUsed = Date.now();
  chatWrapper: ChatWrapper | null = null;
  private chat: {
    context: LlamaContext;
    sequences: Array<LlamaContextSequence | undefined>;
    slots: SlotQueue;
    batching: ReturnType<typeof createBatchStrategy>;
  } | null = null;
  private chatCreating: Promise<void> | null = null;
  readonly embedding: ContextPool<LlamaEmbeddingContext>;
  readonly ranking: ContextPool<LlamaRankingContext>;

  constructor(
    readonly info: ModelInfo,
    readonly model: LlamaModel,
    private readonly options: PoolOptions,
  ) {
    const full = () => new QueueFullError(info.id);
    const encoders = Math.min(ENCODER_CONTEXTS, options.parallel);
    this.embedding = new ContextPool(
      encoders,
      options.maxQueue,
      () => model.createEmbeddingContext({ threads: this.threads, contextSize: this.contextBound }),
      full,
    );
    this.ranking = new ContextPool(
      encoders,
      options.maxQueue,
      () => model.createRankingContext({ threads: this.threads, contextSize: this.contextBound }),
      full,
    );
  }

  /** Per-sequence context size actually allocated (0 before the first chat request). */
  get contextSize(): number {
    return this.chat?.context.contextSize ?? 0;
  }

  get stats() {
    const batching = this.chat?.batching.stats;
    return {
      activeSequences: this.chat?.slots.active ?? 0,
      decodeBatches: batching?.batches ?? 0,
      batchedTokens: batching?.tokens ?? 0,
      shortBatches: batching?.shortBatches ?? 0,
      queued: (this.chat?.slots.waiting ?? 0) + this.embedding.waiting + this.ranking.waiting,
      activeEncoders: this.embedding.active + this.ranking.active,
      parallel: this.options.parallel,
      contextSize: this.contextSize,
    };
  }

  /** The configured thread count, else the machine's physical cores (what llama.cpp counts as math cores). */
  private get threads(): number {
    return this.options.threads ?? this.model.llama.cpuMathCores;
  }

  /** The configured context, but never more than the model was trained for. */
  private get contextBound() {
    return { max: Math.min(this.options.contextSize, this.model.trainContextSize || this.options.contextSize) };
  }

  private async ensureChatContext(): Promise<void> {
    if (this.chat) return;
    this.chatCreating ??= (async () => {
      const slots = new SlotQueue(this.options.parallel, this.options.maxQueue);
      // A leased sequence is a generating one: leases are taken right before generation and released right after.
      const batching = createBatchStrategy({
        expectedItems: () => slots.active,
        maxWaits: BATCH_MAX_WAITS,
        promptChunk: PROMPT_CHUNK,
      });
      const context = await this.model.createContext({
        sequences: this.options.parallel,
        contextSize: this.contextBound,
        threads: this.threads,
        batching: { itemPrioritizationStrategy: batching },
      });
      this.chat = { context, sequences: new Array(this.options.parallel).fill(undefined), slots, batching };
    })();
    try {
      await this.chatCreating;
    } finally {
      this.chatCreating = null;
    }
  }

  async acquireSequence(signal: AbortSignal | undefined): Promise<SequenceLease> {
    await this.ensureChatContext();
    const chat = this.chat;
    if (!chat) throw new ModelLoadError(this.info.id, "context was disposed");
    const slot = await chat.slots.acquire(signal, () => new QueueFullError(this.info.id));
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
    this.lastUsed = Date.now();
    let released = false;
    return {
      sequence,
      loaded: this,
      release: () => {
        if (released) return;
        released = true;
        this.lastUsed = Date.now();
        chat.slots.release(slot);
      },
    };
  }

  async dispose(): Promise<void> {
    const error = new ModelLoadError(this.info.id, "the model is being unloaded");
    this.chat?.slots.rejectAll(error);
    this.embedding.rejectAll(error);
    this.ranking.rejectAll(error);
    await this.embedding.dispose();
    await this.ranking.dispose();
    await this.model.dispose();
    this.chat = null;
  }
}

/** Loads models on first use (one load per model even under concurrent requests) and owns their disposal. */
export class ModelPool {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly llama: Llama,
    private readonly options: PoolOptions,
    private readonly logger: Logger,
  ) {}

  get(info: ModelInfo): Promise<LoadedModel> {
    let entry = this.loaded.get(info.id);
    if (!entry) {
      entry = this.load(info);
      this.loaded.set(info.id, entry);
      // A failed load is forgotten, so the next request tries again.
      entry.catch(() => {
        if (this.loaded.get(info.id) === entry) this.loaded.delete(info.id);
      });
    }
    return entry;
  }

  private async load(info: ModelInfo): Promise<LoadedModel> {
    const started = Date.now();
    try {
      const model = await this.llama.loadModel({ modelPath: info.path, gpuLayers: "auto" });
      this.logger.info({ model: info.id, ms: Date.now() - started }, "model loaded");
      return new LoadedModel(info, model, this.options);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn({ model: info.id, err: reason }, "model failed to load");
      throw new ModelLoadError(info.id, reason);
    }
  }

  async stats(): Promise<Array<{ id: string; state: "ready" } & LoadedModel["stats"]>> {
    const out = [];
    for (const [id, entry] of this.loaded) {
      const loaded = await Promise.race([entry, Promise.resolve(null)]).catch(() => null);
      if (loaded) out.push({ id, state: "ready" as const, ...loaded.stats });
    }
    return out;
  }

  async unload(id: string): Promise<boolean> {
    const entry = this.loaded.get(id);
    if (!entry) return false;
    this.loaded.delete(id);
    const loaded = await entry.catch(() => null);
    await loaded?.dispose();
    return loaded !== null;
  }

  async dispose(): Promise<void> {
    const ids = [...this.loaded.keys()];
    await Promise.all(ids.map((id) => this.unload(id)));
  }
}
