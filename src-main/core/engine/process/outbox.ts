import type { GenerationEvent } from "../../inference/types.js";

export type EventBatches = Array<{ id: number; events: GenerationEvent[] }>;

/**
 * How often the engine process sends the streams' events, at most. Each message wakes the
 * server process, which writes to every stream's socket and so wakes the clients. Where
 * the decode's threads take every core (2 threads on 2 cores, `serve`'s default there),
 * each of those wake-ups takes a core from a compute thread, and the other one waits for
 * it at the next barrier. Against a message per token (at most one per 4 ms, as before),
 * 16 ms made one stream 4–14 % faster through the API, 4 streams up to 14 %, and 8
 * streams (whose steps take longer) no different (Q4_K_M, 2 threads, bench/RESULTS.md,
 * 2026-12-04, evening). A small model decodes a token every ms or so, and each message
 * also costs a pipe write here and a read, a parse and a socket write per stream in the
 * server (bench/pertoken.ts). 16 ms is one frame of a 60 Hz display.
 */
export const FLUSH_MS = 16;

/**
 * The engine process's outgoing events: everything that became ready, for every
 * stream, goes in one message, at most one message per `intervalMs`. A stream's first
 * event goes at once (its time to first token), and so does the first event after a
 * pause; `flush` sends what waits now (before a stream's end or error).
 */
export class EventOutbox {
  private readonly waiting = new Map<number, GenerationEvent[]>();
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Immediate | null = null;
  private lastFlush = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly send: (batches: EventBatches) => void,
    private readonly intervalMs = FLUSH_MS,
  ) {}

  /** `first`: the stream's first event. */
  push(id: number, event: GenerationEvent, first = false): void {
    const events = this.waiting.get(id);
    if (events) events.push(event);
    else this.waiting.set(id, [event]);
    if (this.soon) return;
    const wait = first ? 0 : this.lastFlush + this.intervalMs - performance.now();
    if (wait <= 0) {
      this.cancelTimer();
      this.soon = setImmediate(() => this.flush());
    } else {
      this.timer ??= setTimeout(() => this.flush(), wait);
    }
  }

  flush(): void {
    this.cancelTimer();
    if (this.soon) clearImmediate(this.soon);
    this.soon = null;
    if (this.waiting.size === 0) return;
    this.lastFlush = performance.now();
    const batches = [...this.waiting].map(([id, events]) => ({ id, events }));
    this.waiting.clear();
    this.send(batches);
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
