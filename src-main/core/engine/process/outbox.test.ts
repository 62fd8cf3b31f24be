import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type EventBatches, EventOutbox } from "./outbox.js";

const text = (t: string) => ({ type: "text" as const, text: t });

describe("EventOutbox", () => {
  let sent: EventBatches[];
  let outbox: EventOutbox;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setImmediate", "clearImmediate", "performance"] });
    sent = [];
    outbox = new EventOutbox((batches) => sent.push(batches), 16);
  });
  afterEach(() => vi.useRealTimers());

  it("sends a stream's first event at once, then holds the next ones for the rest of the interval and sends them together", () => {
    outbox.push(1, text("a"), true);
    vi.advanceTimersByTime(0);
    expect(sent).toEqual([[{ id: 1, events: [text("a")] }]]);

    vi.advanceTimersByTime(5);
    outbox.push(1, text("b"));
    vi.advanceTimersByTime(3);
    outbox.push(1, text("c"));
    outbox.push(2, text("x"));
    vi.advanceTimersByTime(7);
    // 15 ms after the first message: still waiting.
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual([
      { id: 1, events: [text("b"), text("c")] },
      { id: 2, events: [text("x")] },
    ]);
  });

  it("does not hold back another stream's first event for the interval", () => {
    outbox.push(1, text("a"), true);
    vi.advanceTimersByTime(0);
    vi.advanceTimersByTime(2);
    outbox.push(1, text("b"));
    outbox.push(2, text("first of 2"), true);
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(2);
    // What waited goes with it.
    expect(sent[1]).toEqual([
      { id: 1, events: [text("b")] },
      { id: 2, events: [text("first of 2")] },
    ]);
    // Nothing left for the cancelled timer to send.
    vi.advanceTimersByTime(50);
    expect(sent).toHaveLength(2);
  });

  it("sends the first event after a pause at once", () => {
    outbox.push(1, text("a"), true);
    vi.advanceTimersByTime(0);
    vi.advanceTimersByTime(40);
    outbox.push(1, text("b"));
    vi.advanceTimersByTime(0);
    expect(sent).toHaveLength(2);
  });

  it("flush sends what waits now and leaves no message for later", () => {
    outbox.push(1, text("a"), true);
    vi.advanceTimersByTime(0);
    outbox.push(1, text("b"));
    outbox.push(1, { type: "done", finishReason: "stop", usage: { promptTokens: 3, completionTokens: 2 } });
    outbox.flush();
    expect(sent).toHaveLength(2);
    expect(sent[1]?.[0]?.events.map((e) => e.type)).toEqual(["text", "done"]);
    vi.advanceTimersByTime(100);
    expect(sent).toHaveLength(2);
    outbox.flush();
    expect(sent).toHaveLength(2);
  });
});
