import { AbortedError } from "../errors.js";
import { SlotQueue } from "./SlotQueue.js";

/**
 * Up to `size` contexts of one kind (embedding or ranking), made on first use and
 * kept, each lent to one caller at a time, with a bounded wait list. node-llama-cpp's
 * embedding and ranking contexts read their pooled output from one sequence, so
 * parallel work on encoder models takes several contexts rather than several sequences.
 */
export class ContextPool<T extends { dispose(): Promise<void> }> {
  private readonly contexts: Array<T | undefined>;
  private readonly slots: SlotQueue;

  constructor(
    size: number,
    maxQueue: number,
    private readonly create: () => Promise<T>,
    private readonly onFull: () => Error,
    /** Called after each use returns its context. */
    private readonly onRelease: () => void = () => {},
  ) {
    this.contexts = new Array(size).fill(undefined);
    this.slots = new SlotQueue(size, maxQueue);
  }

  get size(): number {
    return this.contexts.length;
  }

  get waiting(): number {
    return this.slots.waiting;
  }

  get active(): number {
    return this.slots.active;
  }

  async use<R>(signal: AbortSignal | undefined, fn: (context: T) => Promise<R>): Promise<R> {
    const slot = await this.slots.acquire(signal, this.onFull);
    try {
      let context = this.contexts[slot];
      if (!context) {
        context = await this.create();
        this.contexts[slot] = context;
      }
      return await fn(context);
    } finally {
      this.slots.release(slot);
      this.onRelease();
    }
  }

  /**
   * Runs `fn` over `items` with as many contexts as the pool lends this caller
   * (at most one per item), each context taking the next unprocessed item.
   */
  async map<I, R>(signal: AbortSignal | undefined, items: readonly I[], fn: (context: T, item: I, index: number) => Promise<R>) {
    const results = new Array<R>(items.length);
    let next = 0;
    let failed = false;
    const workers = Math.max(1, Math.min(this.size, items.length));
    await Promise.all(
      Array.from({ length: workers }, () =>
        this.use(signal, async (context) => {
          while (next < items.length && !failed) {
            if (signal?.aborted) throw new AbortedError();
            const index = next++;
            try {
              results[index] = await fn(context, items[index] as I, index);
            } catch (error) {
              failed = true;
              throw error;
            }
          }
        }),
      ),
    );
    return results;
  }

  rejectAll(error: Error): void {
    this.slots.rejectAll(error);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.contexts.map((c) => c?.dispose()));
    this.contexts.fill(undefined);
  }
}
