import type { LlamaContext, LlamaContextSequence, Token } from "node-llama-cpp";

/** The internals of node-llama-cpp's context this file relies on (the engine tests fail if they go). */
interface ContextInternals {
  _queuedDecodes?: unknown[];
}

interface Aligning {
  sequence: LlamaContextSequence;
  /** The sequence holds no token from here on once its erase has run. */
  target: number;
}

/**
 * Lets a newcomer's sequence drop its stale cached tokens while other streams generate.
 *
 * node-llama-cpp holds its context's lock for as long as its decode loop runs, and the
 * loop runs while anything is queued: with streams generating, that is until the last
 * of them ends. Erasing a sequence's tokens (what LlamaChat and LlamaCompletion do
 * first when the sequence's cache differs from the new prompt, i.e. almost always on a
 * reused sequence) needs that lock, so a request arriving while others generate waited
 * for all of them to finish before its prompt was even looked at: requests reaching an
 * engine process one IPC message apart serialised behind the first (bench/RESULTS.md,
 * 2026-12-02: 129 decode steps instead of 64 for 8×64 tokens, the last stream's first
 * token after 6.5 s).
 *
 * The fix: before generation the engine erases the stale tail itself (`align`), and
 * while such an erase waits for the lock the batch strategy (`holdsQueue`) sets the
 * queued decodes aside and answers with an empty batch, so the loop finds its queue
 * empty, ends and releases the lock; the erase runs (a synchronous KV-cache edit), the
 * set-aside decodes go back in front of the queue and the loop starts again with the
 * newcomer's prompt in its next step. LlamaChat / LlamaCompletion then find the
 * sequence already aligned and erase nothing.
 */
export class SequenceAligner {
  private readonly aligning = new Set<Aligning>();
  /** `exclusive` calls under way: each needs the context's lock until it ends. */
  private exclusiveCalls = 0;
  private held: unknown[] = [];
  /** Times the decode loop was made to let an erase in, erases run through `align`, and `exclusive` calls. */
  readonly stats = { holds: 0, aligned: 0, exclusive: 0 };

  constructor(private readonly context: () => LlamaContext | null) {}

  private get queue(): unknown[] | undefined {
    return (this.context() as unknown as ContextInternals | null)?._queuedDecodes;
  }

  /** Whether an erase is still waiting for the context's lock, or an `exclusive` call is under way. */
  private get blocking(): boolean {
    if (this.exclusiveCalls > 0) return true;
    for (const a of this.aligning) if (!a.sequence.disposed && a.sequence.nextTokenIndex > a.target) return true;
    return false;
  }

  /**
   * Called by the batch strategy before it plans a step: true when it must answer with
   * an empty batch because the queue was set aside for an erase.
   */
  holdsQueue(): boolean {
    const queue = this.queue;
    if (!queue) return false;
    if (!this.blocking) {
      if (this.held.length === 0) return false;
      // The erases ran (one that had to evaluate its prefix again is doing so): the set-aside
      // decodes go back in front, and the loop's next step takes them.
      queue.unshift(...this.held.splice(0));
      return true;
    }
    if (queue.length > 0) this.held.push(...queue.splice(0));
    this.stats.holds++;
    return true;
  }

  private restore(): void {
    if (this.held.length === 0 || this.blocking) return;
    const queue = this.queue;
    const context = this.context();
    if (!queue || !context) return;
    queue.unshift(...this.held.splice(0));
    context.dispatchPendingBatch();
  }

  /**
   * Erases what the sequence holds past its common prefix with `tokens` (the prompt as
   * node-llama-cpp will feed it, whose last token it always evaluates again).
   */
  async align(sequence: LlamaContextSequence, tokens: readonly Token[]): Promise<void> {
    const held = sequence.contextTokens;
    const limit = Math.min(held.length, Math.max(0, tokens.length - 1));
    let target = 0;
    while (target < limit && held[target] === tokens[target]) target++;
    if (target >= sequence.nextTokenIndex) return;
    const entry = { sequence, target };
    this.aligning.add(entry);
    try {
      this.stats.aligned++;
      await sequence.eraseContextTokenRanges([{ start: target, end: sequence.nextTokenIndex }]);
    } finally {
      this.aligning.delete(entry);
      this.restore();
    }
  }

  /**
   * Runs `fn`, which takes the context's lock (saving or loading a sequence's state,
   * clearing its history), without waiting for every stream to end: the decode loop
   * steps aside as it does for an erase, from its next step until `fn` has finished.
   * The other streams pause only while `fn` holds the lock, as they must.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.exclusiveCalls++;
    this.stats.exclusive++;
    try {
      return await fn();
    } finally {
      // `release` may have zeroed the count meanwhile (the context went away).
      this.exclusiveCalls = Math.max(0, this.exclusiveCalls - 1);
      this.restore();
    }
  }

  /** Puts anything still set aside back (the context is going away, or an erase failed). */
  release(): void {
    this.aligning.clear();
    this.exclusiveCalls = 0;
    this.restore();
  }
}
