import type { BatchItem, CustomBatchingPrioritizationStrategy, PrioritizedBatchItem } from "node-llama-cpp";

export interface BatchStrategyOptions {
  /** Sequences of the context that are generating now, each about to queue its next token. */
  expectedItems: () => number;
  /**
   * How many times in a row the strategy may answer "not yet" while some expected
   * sequence has still to queue. node-llama-cpp's dispatch loop re-asks at once,
   * without leaving the microtask queue, so each "not yet" lets the stragglers'
   * JavaScript run a little further; a straggler waiting for real I/O will not
   * arrive, and the bound keeps that wait short.
   */
  maxWaits: number;
  /** While other sequences are generating, a prompt is fed in chunks of at most this many tokens. */
  promptChunk: number;
  /**
   * The sequence id of the i-th queued item. llama.cpp (its KV cache kept per sequence)
   * decodes one pass per run of consecutive sequence ids, in the order the batch lists
   * them (`llama_batch_allocr::split_equal`): the plan lists items by id, and the
   * sequence choice keeps generating sequences next to each other (sequenceChoice.ts).
   */
  sequenceOf?: (index: number) => number | undefined;
  /**
   * Whether a sequence is still leased to a request. With `sequenceOf`, the strategy waits
   * only for the sequences of the previous step that are still leased (a request that is
   * still preparing its prompt is not waited for; it joins when it queues), instead of
   * for `expectedItems()`.
   */
  isLeased?: (sequenceId: number) => boolean;
  /**
   * Asked before every step: true means the queue was set aside so the decode loop ends
   * and releases the context's lock for a newcomer's erase (sequenceAlign.ts); the
   * strategy then answers with an empty batch.
   */
  holdsQueue?: () => boolean;
}

export interface BatchStats {
  /** Decode steps dispatched. */
  batches: number;
  /** Tokens those steps carried (prompt and generated). */
  tokens: number;
  /** Times the strategy answered "not yet". */
  waits: number;
  /** Steps dispatched with some generating sequence missing, after the wait ran out. */
  shortBatches: number;
  /** Items whose sequence could not be told (node-llama-cpp's internals changed): ordered as queued. */
  unknownSequences: number;
  /**
   * Steps whose generated tokens llama.cpp decodes in more than one pass over the weights
   * because of their sequence ids (`sequencePasses` > 1); 4 streams on ids 0, 2, 4, 6 decoded
   * at 0.65× (2 threads) to 0.85× (1 thread) the speed of 0–3. Prompt chunks are left out of
   * the count: llama.cpp splits a step that mixes them with generated tokens anyway (each
   * pass takes as many tokens from every sequence).
   */
  splitSteps: number;
}

/**
 * How many passes llama.cpp makes over a step whose items have these sequence ids, in batch
 * order: each pass takes, in order, the ids that continue the previous one by +1 and leaves
 * the others for the next pass (`llama_batch_allocr::split_equal` with a KV stream per
 * sequence). 1 for 3,4,5; 2 for 0,1,5 and for 1,2,0.
 */
export function sequencePasses(ids: readonly number[]): number {
  let left = ids;
  let passes = 0;
  while (left.length > 0) {
    passes++;
    let last: number | null = null;
    const rest: number[] = [];
    for (const id of left) {
      if (last === null || id === last + 1) last = id;
      else rest.push(id);
    }
    left = rest;
  }
  return passes;
}

/**
 * The context's batch prioritization strategy. node-llama-cpp builds the next batch
 * while the sequence that was sampled last has not queued its next token yet, so
 * with N streams its batches settle at N−1 tokens and every decode pays for a
 * batch that is not full. This strategy waits, briefly and boundedly, until every
 * generating sequence has queued, so each decode step carries one token from every
 * active stream (what llama-server does), and it chunks prompts so a new request
 * does not stall running streams for a whole long prompt.
 *
 * Answering with an empty list is how it waits: node-llama-cpp then decodes nothing
 * and asks again while items are queued. That is not documented API; the engine's
 * tests cover it.
 */
export function createBatchStrategy(options: BatchStrategyOptions): CustomBatchingPrioritizationStrategy & {
  readonly stats: BatchStats;
} {
  let waits = 0;
  const stats: BatchStats = { batches: 0, tokens: 0, waits: 0, shortBatches: 0, unknownSequences: 0, splitSteps: 0 };
  /** Sequences that carried tokens in the previous step: each is about to queue again unless it finished. */
  let previous: number[] = [];
  const strategy = ({ items, size }: { items: readonly BatchItem[]; size: number }): PrioritizedBatchItem[] => {
    if (items.length === 0) return [];
    if (options.holdsQueue?.()) return [];
    const sequenceOf = options.sequenceOf;
    const ids = sequenceOf ? items.map((_, i) => sequenceOf(i)) : [];
    const byPrevious = options.isLeased !== undefined && ids.length > 0 && ids.every((id) => id !== undefined);
    let missing: number;
    if (byPrevious) {
      const queued = new Set(ids);
      missing = previous.filter((id) => !queued.has(id) && options.isLeased?.(id)).length;
    } else {
      missing = Math.max(0, options.expectedItems() - items.length);
    }
    if (missing > 0 && waits < options.maxWaits) {
      waits++;
      stats.waits++;
      return [];
    }
    if (missing > 0) stats.shortBatches++;
    waits = 0;
    const plan = planBatch(
      items,
      size,
      options.promptChunk,
      sequenceOf &&
        ((i) => {
          const id = ids[i];
          if (id === undefined) stats.unknownSequences++;
          return id;
        }),
    );
    if (sequenceOf) {
      const index = new Map(items.map((item, i) => [item, i]));
      const planned = plan.map((p) => ids[index.get(p.item) ?? -1]);
      const known = planned.filter((id): id is number => id !== undefined);
      if (byPrevious) previous = known;
      // Generated tokens only: a step with a prompt chunk is split by llama.cpp anyway.
      const decoding = plan.flatMap((p, i) => (p.item.tokens.length <= 1 ? [planned[i]] : []));
      if (decoding.every((id) => id !== undefined) && sequencePasses(decoding as number[]) > 1) stats.splitSteps++;
    }
    stats.batches++;
    for (const p of plan) stats.tokens += p.processAmount;
    return plan;
  };
  return Object.assign(strategy, { stats });
}

/**
 * Splits one batch of `size` tokens between the queued items: every generating
 * sequence (a single queued token) first, in sequence order, then prompts, each capped
 * at `promptChunk` tokens while anything else is generating, the rest of the batch
 * otherwise. Higher `evaluationPriority` prompts go first.
 */
export function planBatch(
  items: readonly BatchItem[],
  size: number,
  promptChunk: number,
  sequenceOf: (index: number) => number | undefined = () => undefined,
): PrioritizedBatchItem[] {
  const order = new Map(items.map((item, i) => [item, sequenceOf(i) ?? i]));
  const bySequence = (a: BatchItem, b: BatchItem) => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  const decodes = items.filter((item) => item.tokens.length <= 1).sort(bySequence);
  const prompts = items
    .filter((item) => item.tokens.length > 1)
    .sort((a, b) => b.evaluationPriority - a.evaluationPriority || bySequence(a, b));
  const plan: PrioritizedBatchItem[] = [];
  let left = size;
  for (const item of decodes) {
    if (left <= 0) break;
    plan.push({ item, processAmount: item.tokens.length });
    left -= item.tokens.length;
  }
  const chunk = decodes.length > 0 ? Math.max(1, promptChunk) : Number.POSITIVE_INFINITY;
  for (const item of prompts) {
    if (left <= 0) break;
    const amount = Math.min(item.tokens.length, chunk, left);
    plan.push({ item, processAmount: amount });
    left -= amount;
  }
  return plan;
}
