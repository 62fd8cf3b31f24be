import type { BatchItem } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { createBatchStrategy, planBatch, sequencePasses } from "./batching.js";

const item = (tokens: number, evaluationPriority = 5): BatchItem =>
  ({ tokens: Array.from({ length: tokens }, (_, i) => i), logits: [], evaluationPriority }) as unknown as BatchItem;

describe("planBatch", () => {
  it("puts every generating sequence's token in the batch before any prompt", () => {
    const prompt = item(300);
    const a = item(1);
    const b = item(1);
    const plan = planBatch([prompt, a, b], 512, 128);
    expect(plan.map((p) => [p.item, p.processAmount])).toEqual([
      [a, 1],
      [b, 1],
      [prompt, 128],
    ]);
  });

  it("feeds a whole prompt (up to the batch size) when nothing else is generating", () => {
    const first = item(400);
    const second = item(300);
    const plan = planBatch([first, second], 512, 128);
    expect(plan.map((p) => p.processAmount)).toEqual([400, 112]);
  });

  it("serves higher-priority prompts first and never exceeds the batch", () => {
    const low = item(50, 1);
    const high = item(50, 9);
    const plan = planBatch([low, high, item(1)], 40, 128);
    expect(plan[1]?.item).toBe(high);
    expect(plan.reduce((n, p) => n + p.processAmount, 0)).toBe(40);
  });
});

describe("batch order", () => {
  it("lists generating sequences in ascending sequence order, whatever the queue order", () => {
    const items = [item(1), item(1), item(1), item(20)];
    const ids = [7, 2, 5, 0];
    const plan = planBatch(items, 512, 128, (i) => ids[i]);
    expect(plan.map((p) => ids[items.indexOf(p.item)])).toEqual([2, 5, 7, 0]);
  });
});

describe("createBatchStrategy", () => {
  it("answers with an empty batch while a generating sequence has not queued, within its bound", () => {
    let expected = 3;
    const strategy = createBatchStrategy({ expectedItems: () => expected, maxWaits: 2, promptChunk: 128 });
    const items = [item(1), item(1)];
    expect(strategy({ items, size: 512 })).toEqual([]);
    expect(strategy({ items, size: 512 })).toEqual([]);
    // The bound ran out: decode what is there rather than wait for a straggler forever.
    expect(strategy({ items, size: 512 })).toHaveLength(2);
    expect(strategy.stats).toMatchObject({ waits: 2, shortBatches: 1, batches: 1, tokens: 2, unknownSequences: 0 });
    expected = 2;
    expect(strategy({ items, size: 512 })).toHaveLength(2);
    expect(strategy.stats.shortBatches).toBe(1);
  });
});

describe("createBatchStrategy with sequence ids", () => {
  it("waits for the previous step's sequences that are still leased, not for ones still preparing", () => {
    const leased = new Set([0, 1, 2]);
    let queue: { items: BatchItem[]; ids: number[] } = { items: [item(5), item(1)], ids: [0, 1] };
    const strategy = createBatchStrategy({
      // Three leases, but sequence 2 has not queued anything yet: it is not waited for.
      expectedItems: () => leased.size,
      isLeased: (id) => leased.has(id),
      sequenceOf: (i) => queue.ids[i],
      maxWaits: 2,
      promptChunk: 128,
    });
    expect(strategy({ items: queue.items, size: 512 })).toHaveLength(2);
    // Sequence 1 was sampled last and has not queued its next token: wait for it.
    queue = { items: [item(1)], ids: [0] };
    expect(strategy({ items: queue.items, size: 512 })).toEqual([]);
    queue = { items: [item(1), item(1)], ids: [0, 1] };
    expect(strategy({ items: queue.items, size: 512 })).toHaveLength(2);
    // Sequence 1 finished and gave its lease back: no wait, no short step.
    leased.delete(1);
    queue = { items: [item(1)], ids: [0] };
    expect(strategy({ items: queue.items, size: 512 })).toHaveLength(1);
    expect(strategy.stats).toMatchObject({ waits: 1, shortBatches: 0, batches: 3, unknownSequences: 0, splitSteps: 0 });
  });

  it("counts the steps llama.cpp must split: their sequences are not one run of adjacent ids", () => {
    // In batch order: 1, 2, 0 takes two passes (0 does not continue 2).
    expect([[3, 4, 5], [0, 1, 5], [1, 2, 0], [0, 2, 1], [0, 2, 4, 6], [7], []].map(sequencePasses)).toEqual([
      1, 2, 2, 2, 4, 1, 0,
    ]);
    let ids: number[] = [];
    const strategy = createBatchStrategy({
      expectedItems: () => ids.length,
      sequenceOf: (i) => ids[i],
      maxWaits: 0,
      promptChunk: 128,
    });
    for (const step of [
      [2, 3],
      [3, 2, 4],
      [0, 2],
      [1, 3, 5, 7],
    ]) {
      ids = step;
      strategy({ items: step.map(() => item(1)), size: 512 });
    }
    // Generated tokens are listed by id whatever the queue order: only the gaps split a step.
    expect(strategy.stats).toMatchObject({ batches: 4, splitSteps: 2 });
    // Prompts of equal priority are listed by id too (queued as 2, 0, 1).
    ids = [2, 0, 1];
    const prompts = [item(5), item(5), item(5)];
    const plan = strategy({ items: prompts, size: 512 });
    expect(plan.map((p) => ids[prompts.indexOf(p.item)])).toEqual([0, 1, 2]);
  });
});
