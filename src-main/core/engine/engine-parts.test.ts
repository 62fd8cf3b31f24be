import { describe, expect, it } from "vitest";
import { AbortedError, InvalidRequestError } from "../errors.js";
import { toChatHistory } from "./history.js";
import { toGrammarSchema } from "./jsonSchema.js";
import { SlotQueue } from "./SlotQueue.js";

describe("SlotQueue", () => {
  it("hands out slots, queues in order and refuses when the wait list is full", async () => {
    const queue = new SlotQueue(1, 1);
    const full = () => new Error("full");
    const first = await queue.acquire(undefined, full);
    const second = queue.acquire(undefined, full);
    await expect(queue.acquire(undefined, full)).rejects.toThrow("full");
    expect(queue.waiting).toBe(1);
    queue.release(first);
    expect(await second).toBe(first);
    expect(queue.active).toBe(1);
  });

  it("drops an aborted waiter without taking a slot", async () => {
    const queue = new SlotQueue(1, 4);
    const slot = await queue.acquire(undefined, () => new Error("full"));
    const controller = new AbortController();
    const waiting = queue.acquire(controller.signal, () => new Error("full"));
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortedError);
    expect(queue.waiting).toBe(0);
    queue.release(slot);
    expect(queue.active).toBe(0);
  });
});

describe("toChatHistory", () => {
  it("folds tool results into the calling turn and continues that turn", () => {
    const history = toChatHistory([
      { role: "system", content: "s" },
      { role: "user", content: "u" },
      { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "f", arguments: '{"x":1}' }] },
      { role: "tool", toolCallId: "c1", content: "result" },
    ]);
    expect(history).toHaveLength(3);
    expect(history[2]).toEqual({
      type: "model",
      response: [{ type: "functionCall", name: "f", params: { x: 1 }, result: "result", startsNewChunk: true }],
    });
  });

  it("ends with an empty model turn after a user message", () => {
    expect(toChatHistory([{ role: "user", content: "u" }]).at(-1)).toEqual({ type: "model", response: [] });
  });

  it("rejects arguments that are not JSON", () => {
    expect(() =>
      toChatHistory([{ role: "assistant", content: "", toolCalls: [{ id: "c", name: "f", arguments: "{nope" }] }]),
    ).toThrow(InvalidRequestError);
  });
});

describe("toGrammarSchema", () => {
  it("keeps what a grammar can enforce and drops the rest", () => {
    expect(
      toGrammarSchema(
        {
          type: "object",
          title: "T",
          properties: { a: { type: "integer", minimum: 0 }, b: { anyOf: [{ type: "string", pattern: "x" }, { type: "null" }] } },
          required: ["a", "zzz"],
        },
        "p",
      ),
    ).toEqual({
      type: "object",
      properties: { a: { type: "integer" }, b: { oneOf: [{ type: "string" }, { type: "null" }] } },
      required: ["a"],
    });
  });

  it("rejects a type it cannot express", () => {
    expect(() => toGrammarSchema({ type: "tuple" }, "p")).toThrow(InvalidRequestError);
  });
});
