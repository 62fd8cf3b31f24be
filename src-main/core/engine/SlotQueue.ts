import { AbortedError } from "../errors.js";

/**
 * A counting semaphore with a bounded FIFO wait list. `acquire` resolves with a
 * slot index once one is free; a full wait list rejects at once (the caller
 * turns that into 429), and an aborted waiter leaves the list without taking a slot.
 */
export class SlotQueue {
  private readonly free: number[];
  private readonly waiters: Array<{
    resolve: (slot: number) => void;
    reject: (e: Error) => void;
    signal?: AbortSignal;
    onAbort: () => void;
  }> = [];

  constructor(
    readonly capacity: number,
    readonly maxWaiting: number,
  ) {
    this.free = Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
  }

  get active(): number {
    return this.capacity - this.free.length;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with a free slot index; throws `QueueFull` (from `onFull`) when the wait list is full. */
  acquire(signal: AbortSignal | undefined, onFull: () => Error, choose?: (free: readonly number[]) => number): Promise<number> {
    if (signal?.aborted) return Promise.reject(new AbortedError());
    // `choose` picks among free slots (the chat pool's prefix-aware choice); else the last freed.
    const chosen = choose && this.free.length > 1 ? this.free.indexOf(choose(this.free)) : -1;
    const slot = chosen >= 0 ? this.free.splice(chosen, 1)[0] : this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    if (this.waiters.length >= this.maxWaiting) return Promise.reject(onFull());
    return new Promise<number>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          reject(new AbortedError());
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(slot: number): void {
    const next = this.waiters.shift();
    if (next) {
      next.signal?.removeEventListener("abort", next.onAbort);
      next.resolve(slot);
      return;
    }
    this.free.push(slot);
  }

  /** Rejects every waiter (used when the model is unloaded). */
  rejectAll(error: Error): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.reject(error);
    }
  }
}
