import { describe, expect, it } from "vitest";
import { chooseSequence, commonPrefixLength, type SequenceCandidate } from "./sequenceChoice.js";

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const SYSTEM_A = range(1000, 5000); // a 5k-token agent prefix
const SYSTEM_B = range(20000, 5000);
const TEMPLATE = [1, 2, 3]; // the chat template's opening tokens every prompt shares

function candidate(
  slot: number,
  cachedTokens: readonly number[],
  lastUsed = 0,
  affinityKey: string | null = null,
): SequenceCandidate {
  return { slot, cachedTokens, lastUsed, affinityKey };
}

describe("chooseSequence", () => {
  it("sends an agent's next turn to the sequence holding its prefix, at any slot", () => {
    const free = [
      candidate(0, []),
      candidate(1, [...TEMPLATE, ...range(90000, 40)], 5),
      candidate(2, [...TEMPLATE, ...SYSTEM_A, 7, 8], 3),
    ];
    const choice = chooseSequence(free, { promptTokens: [...TEMPLATE, ...SYSTEM_A, 7, 8, 9, 10] });
    expect(choice).toEqual({ slot: 2, commonPrefix: TEMPLATE.length + SYSTEM_A.length + 2 });
  });

  it("keeps a side request off a session's cached prefix: it takes a fresh sequence", () => {
    const free = [candidate(0, [...TEMPLATE, ...SYSTEM_A], 10), candidate(1, []), candidate(2, [...TEMPLATE, ...SYSTEM_B], 20)];
    const side = chooseSequence(free, { promptTokens: [...TEMPLATE, ...range(70000, 30)] });
    expect(side?.slot).toBe(1);
  });

  it("evicts the least recently used cache when every free sequence holds another prefix", () => {
    const free = [
      candidate(0, [...TEMPLATE, ...SYSTEM_A], 30),
      candidate(1, [...TEMPLATE, ...SYSTEM_B], 10),
      candidate(2, range(5, 100), 20),
    ];
    expect(chooseSequence(free, { promptTokens: [...TEMPLATE, ...range(50000, 400)] })?.slot).toBe(1);
  });

  it("takes the longest common prefix among several partial matches", () => {
    const prompt = [...TEMPLATE, ...SYSTEM_A, ...range(1, 50)];
    const free = [
      candidate(0, [...TEMPLATE, ...SYSTEM_A.slice(0, 3000)], 1),
      candidate(1, [...TEMPLATE, ...SYSTEM_A, ...range(1, 20)], 2),
      candidate(2, [...TEMPLATE, ...SYSTEM_A.slice(0, 4000)], 3),
    ];
    expect(chooseSequence(free, { promptTokens: prompt })).toEqual({
      slot: 1,
      commonPrefix: TEMPLATE.length + SYSTEM_A.length + 20,
    });
  });

  it("reuses a sequence when the shared part outweighs the cache it overwrites", () => {
    // An edited conversation: 4k tokens shared, a 1k-token tail of the same session dropped.
    const free = [candidate(0, []), candidate(1, [...TEMPLATE, ...SYSTEM_A], 1)];
    const prompt = [...TEMPLATE, ...SYSTEM_A.slice(0, 4000), ...range(60000, 10)];
    expect(chooseSequence(free, { promptTokens: prompt })?.slot).toBe(1);
  });

  it("treats a matching affinity key as the same client: its own stale cache is reused, nobody else's", () => {
    // Codex-like: the system prompt changed early (a date), the prompt_cache_key stayed.
    const changed = [...TEMPLATE, 42, ...SYSTEM_A.slice(1)];
    const free = [
      candidate(0, [], 0),
      candidate(1, [...TEMPLATE, ...SYSTEM_A], 5, "session-a"),
      candidate(2, [...TEMPLATE, ...SYSTEM_B], 1, "session-b"),
    ];
    expect(chooseSequence(free, { promptTokens: changed, affinityKey: "session-a" })?.slot).toBe(1);
    // Without the key the same prompt would not overwrite session A's 5k tokens for 3 shared ones.
    expect(chooseSequence(free, { promptTokens: changed })?.slot).toBe(0);
    // Another key never claims session A's sequence.
    expect(chooseSequence(free, { promptTokens: changed, affinityKey: "session-c" })?.slot).toBe(0);
  });

  it("overwrites a cheap cache (short, or already on disk) before an unsaved long prefix, even a colder one", () => {
    const request = { promptTokens: [900, 901] };
    const choice = chooseSequence(
      [
        { ...candidate(0, [1, 2, 3, 4, 5, 6], 10), costly: true },
        { ...candidate(1, [7, 8], 50), costly: false },
        { ...candidate(2, [9, 10, 11, 12], 40), costly: false },
      ],
      request,
    );
    expect(choice?.slot).toBe(2);
    // All costly: the least recently used, as before.
    const all = [candidate(0, [1, 2, 3], 30), candidate(1, [4, 5, 6], 20)].map((c) => ({ ...c, costly: true }));
    expect(chooseSequence(all, request)?.slot).toBe(1);
  });

  it("with no prompt tokens known, prefers a fresh sequence, then the coldest", () => {
    expect(chooseSequence([candidate(0, [5], 9), candidate(1, [], 0), candidate(2, [6], 1)], { promptTokens: [] })?.slot).toBe(1);
    expect(chooseSequence([candidate(0, [5], 9), candidate(2, [6], 1)], { promptTokens: [] })).toEqual({
      slot: 2,
      commonPrefix: 0,
    });
    expect(chooseSequence([], { promptTokens: [1] })).toBeNull();
  });

  it("puts a stream next to the busy sequences, so a step decodes them in one pass", () => {
    const request = { promptTokens: [900, 901] };
    // Sequences 0, 2, 4 are free and 2 is the coldest; 1 and 3 are generating: 2 joins them into one run.
    const free = [candidate(0, [5], 1), candidate(2, [6], 9), candidate(4, [7], 5)];
    expect(chooseSequence(free, request, new Set([1, 3]))?.slot).toBe(2);
    // Next to one busy sequence beats a fresh one apart from them.
    expect(chooseSequence([candidate(0, []), candidate(5, [7], 3)], request, new Set([4]))?.slot).toBe(5);
    // With nothing busy: fresh first, then the coldest, as before.
    expect(chooseSequence([candidate(0, [5], 1), candidate(2, [6], 9), candidate(4, [7], 5)], request)?.slot).toBe(0);
    // node-llama-cpp's sequence id counts, not the slot.
    const byId = [
      { ...candidate(0, [5], 1), sequenceId: 6 },
      { ...candidate(1, [6], 9), sequenceId: 2 },
    ];
    expect(chooseSequence(byId, request, new Set([3]))?.slot).toBe(1);
    // A long unsaved prefix is still overwritten last, wherever it sits.
    expect(
      chooseSequence([{ ...candidate(2, [6], 0), costly: true }, candidate(7, [8], 9)], request, new Set([1, 3]))?.slot,
    ).toBe(7);
    // A reusable prefix wins over adjacency.
    expect(chooseSequence([candidate(0, [900, 901, 1], 1), candidate(2, [], 0)], request, new Set([1, 3]))?.slot).toBe(0);
  });

  it("counts the common prefix of token lists", () => {
    expect(commonPrefixLength([1, 2, 3], [1, 2, 4])).toBe(2);
    expect(commonPrefixLength([], [1])).toBe(0);
    expect(commonPrefixLength([1, 2], [1, 2, 3])).toBe(2);
  });
});
