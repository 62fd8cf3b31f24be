/**
 * Which free sequence of a chat context a new request should take, so prompt caches
 * survive: agents (Claude Code, Codex) resend a 5k–40k-token prefix every turn and
 * send short side requests (titles, summaries) between turns. node-llama-cpp keeps
 * the tokens a sequence has evaluated and LlamaChat / LlamaCompletion evaluate only
 * what follows the common prefix when the same sequence is reused, so the choice of
 * sequence decides whether a turn recomputes its whole prefix.
 *
 * A pure function over plain values (like node-llama-cpp's batch prioritization
 * strategies), so it is tested without a model.
 */

/** One sequence that is free to take. */
export interface SequenceCandidate {
  /** The slot index the caller uses to find the sequence. */
  slot: number;
  /** The tokens the sequence holds evaluated (node-llama-cpp's `sequence.contextTokens`); empty when fresh. */
  cachedTokens: readonly number[];
  /** When the sequence was last released (ms); 0 when never used. */
  lastUsed: number;
  /** The affinity key of the request it last served, if that request had one. */
  affinityKey: string | null;
  /**
   * Whether overwriting its cache loses work worth keeping: a long prefix not saved to
   * disk (prefixStore.ts). Such sequences are overwritten after the cheap ones (fresh,
   * short caches, caches already on disk). Treated as false when left out.
   */
  costly?: boolean;
  /** node-llama-cpp's id of the sequence (what llama.cpp batches by); the slot when left out. */
  sequenceId?: number;
}

/** What is known of the new request before it takes a sequence. */
export interface SequenceRequest {
  /** The prompt as it will be evaluated; an empty list when not known. */
  promptTokens: readonly number[];
  /**
   * A client's hint that requests belong together (OpenAI `prompt_cache_key`, a prefix
   * marked with Anthropic `cache_control`): a sequence that served the same key holds
   * this client's own, older cache, so overwriting its tail costs nobody else.
   */
  affinityKey?: string | null | undefined;
}

export interface SequenceChoice {
  slot: number;
  /** Prompt tokens already evaluated in the chosen sequence (what a reuse can skip). */
  commonPrefix: number;
}

/** Length of the common prefix of two token lists. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * How many of a sequence's neighbours (id − 1, id + 1) are generating. llama.cpp decodes
 * one pass over the weights per run of consecutive sequence ids in a step (batching.ts),
 * so a sequence next to a busy one adds no pass, one between two busy ones saves one, and
 * one apart from them adds one: 4 streams on sequences 0, 2, 4, 6 decoded at 0.65× (2
 * threads) to 0.85× (1 thread) the speed of 0, 1, 2, 3 (bench/RESULTS.md, 2026-12-03).
 */
function neighbours(candidate: SequenceCandidate, busy: ReadonlySet<number>): number {
  const id = candidate.sequenceId ?? candidate.slot;
  return Number(busy.has(id - 1)) + Number(busy.has(id + 1));
}

/**
 * Picks among free sequences:
 * 1. the one whose reuse saves more evaluated tokens than it destroys: saved is the
 *    common prefix with the prompt, destroyed is the rest of its cache (another
 *    client's prefix), counted as nothing when it served the same affinity key; the
 *    best balance wins, ties to the longer prefix, then to the one next to busy sequences;
 * 2. otherwise a sequence that served the same key (its cache is stale anyway);
 * 3. otherwise one whose cache is cheap to lose (fresh, short, or saved on disk) before
 *    one holding a long unsaved prefix; among those, the one next to the most busy
 *    sequences (`busy`: the ids of sequences generating now), so concurrent streams decode
 *    in one pass per step; then a fresh one, then the least recently used (idle caches
 *    stay warm; the coldest is evicted first).
 * Returns null only when there is no candidate.
 */
export function chooseSequence(
  candidates: readonly SequenceCandidate[],
  request: SequenceRequest,
  busy: ReadonlySet<number> = new Set(),
): SequenceChoice | null {
  if (candidates.length === 0) return null;
  const key = request.affinityKey ?? null;
  let best: { candidate: SequenceCandidate; prefix: number; score: number; near: number } | null = null;
  for (const candidate of candidates) {
    const prefix = commonPrefixLength(candidate.cachedTokens, request.promptTokens);
    if (prefix === 0) continue;
    const sameClient = key !== null && candidate.affinityKey === key;
    const destroyed = sameClient ? 0 : candidate.cachedTokens.length - prefix;
    const score = prefix - destroyed;
    if (score <= 0) continue;
    const near = neighbours(candidate, busy);
    if (
      !best ||
      score > best.score ||
      (score === best.score && (prefix > best.prefix || (prefix === best.prefix && near > best.near)))
    )
      best = { candidate, prefix, score, near };
  }
  if (best) return { slot: best.candidate.slot, commonPrefix: best.prefix };

  const own = key === null ? undefined : candidates.find((c) => c.affinityKey === key);
  const coldest =
    own ??
    [...candidates].sort(
      (a, b) =>
        Number(a.costly ?? false) - Number(b.costly ?? false) ||
        neighbours(b, busy) - neighbours(a, busy) ||
        Number(a.cachedTokens.length > 0) - Number(b.cachedTokens.length > 0) ||
        a.lastUsed - b.lastUsed ||
        a.slot - b.slot,
    )[0];
  return coldest ? { slot: coldest.slot, commonPrefix: commonPrefixLength(coldest.cachedTokens, request.promptTokens) } : null;
}
