import { describe, expect, it } from "vitest";
import { InvalidRequestError, QueueFullError } from "../../errors.js";
import type { GenerationEvent } from "../../inference/types.js";
import { anthropicStatus, toAnthropicError } from "./errors.js";
import { parseCountTokens, parseMessages, toAnthropicMessage } from "./messages.js";
import { AnthropicStreamEncoder } from "./stream.js";

const usage = { promptTokens: 7, completionTokens: 5 };
const meta = { id: "msg_1", model: "m" };

function run(events: GenerationEvent[]) {
  const encoder = new AnthropicStreamEncoder(meta);
  return [...encoder.start(7), ...events.flatMap((e) => encoder.encode(e))] as Array<Record<string, unknown>>;
}

describe("Anthropic request translation", () => {
  it("maps system (string, blocks and in-message), tool_use and tool_result turns", () => {
    const { request, stream } = parseMessages({
      model: "m",
      max_tokens: 10,
      system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral", ttl: "1h", extra: 1 } }],
      stream: true,
      unknown_field: true,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: [
            { type: "thinking", thinking: "Use the tool.", signature: "sig" },
            { type: "text", text: "Checking." },
            { type: "tool_use", id: "toolu_1", name: "weather", input: { city: "Paris" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "21C" }] },
            { type: "text", text: "And so?" },
          ],
        },
        { role: "system", content: "Late system note." },
      ],
      tools: [
        { name: "weather", description: "Weather", input_schema: { type: "object" } },
        { type: "web_search_20250305", name: "web_search" },
      ],
      tool_choice: { type: "any" },
      stop_sequences: ["END", ""],
      temperature: 0.5,
      top_k: 3,
    });
    expect(stream).toBe(true);
    expect(request.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather in Paris?" },
      {
        role: "assistant",
        content: "Checking.",
        reasoning: "Use the tool.",
        toolCalls: [{ id: "toolu_1", name: "weather", arguments: '{"city":"Paris"}' }],
      },
      { role: "tool", toolCallId: "toolu_1", content: "21C" },
      { role: "user", content: "And so?" },
      { role: "system", content: "Late system note." },
    ]);
    expect(request.tools).toEqual([{ name: "weather", description: "Weather", parameters: { type: "object" } }]);
    expect(request.toolChoice).toBe("required");
    expect(request.sampling).toEqual({ maxTokens: 10, temperature: 0.5, topK: 3, stop: ["END"] });
  });

  it("rejects a missing max_tokens, images and a bad tool_choice with the field named", () => {
    const base = { model: "m", messages: [{ role: "user", content: "hi" }] };
    expect(() => parseMessages(base)).toThrow(/max_tokens/);
    const image = { ...base, max_tokens: 5, messages: [{ role: "user", content: [{ type: "image", source: {} }] }] };
    expect(() => parseMessages(image)).toThrow(InvalidRequestError);
    expect(() => parseMessages({ ...base, max_tokens: 5, tool_choice: { type: "sometimes" } })).toThrow(/tool_choice/);
    expect(parseCountTokens(base).messages).toEqual([{ role: "user", content: "hi" }]);
  });

  it("folds results into a message with stop reasons and tool_use input objects", () => {
    const message = toAnthropicMessage(
      {
        text: "",
        reasoning: "",
        toolCalls: [{ id: "call_ab", name: "weather", arguments: '{"city":"Oslo"}' }],
        finishReason: "tool_calls",
        usage,
      },
      meta,
    );
    expect(message.content).toEqual([{ type: "tool_use", id: "toolu_ab", name: "weather", input: { city: "Oslo" } }]);
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage).toMatchObject({ input_tokens: 7, output_tokens: 5 });
    const stopped = toAnthropicMessage(
      { text: "x", reasoning: "", toolCalls: [], finishReason: "stop_sequence", stopSequence: "END", usage },
      meta,
    );
    expect([stopped.stop_reason, stopped.stop_sequence]).toEqual(["stop_sequence", "END"]);
  });

  it("answers a full queue as 529 overloaded_error", () => {
    const error = new QueueFullError("m");
    expect(anthropicStatus(error)).toBe(529);
    expect(toAnthropicError(error, "req_1")).toEqual({
      type: "error",
      error: { type: "overloaded_error", message: error.message },
      request_id: "req_1",
    });
  });
});

describe("AnthropicStreamEncoder", () => {
  it("opens blocks in order: thinking → text → two tool_use, and ends with message_delta and message_stop", () => {
    const out = run([
      { type: "reasoning", text: "hmm" },
      { type: "text", text: "Hi" },
      { type: "text", text: "!" },
      { type: "tool_call_start", index: 0, id: "call_1", name: "a" },
      { type: "tool_call_delta", index: 0, arguments: '{"x":' },
      { type: "tool_call_delta", index: 0, arguments: "1}" },
      { type: "tool_call_start", index: 1, id: "call_2", name: "b" },
      { type: "tool_call_delta", index: 1, arguments: "{}" },
      { type: "done", finishReason: "tool_calls", usage },
    ]);
    expect(out.map((e) => e.type)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const starts = out.filter((e) => e.type === "content_block_start");
    expect(starts.map((e) => e.index)).toEqual([0, 1, 2, 3]);
    expect(starts[2]?.content_block).toEqual({ type: "tool_use", id: "toolu_1", name: "a", input: {} });
    const json = out
      .filter((e) => e.index === 2 && e.type === "content_block_delta")
      .map((e) => (e.delta as { partial_json: string }).partial_json);
    expect(json.join("")).toBe('{"x":1}');
    expect(out.at(-2)).toEqual({
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { input_tokens: 7, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
    expect(out[0]).toMatchObject({ message: { usage: { input_tokens: 7, output_tokens: 0 } } });
  });

  it("reports a stop sequence and sends nothing after done", () => {
    const encoder = new AnthropicStreamEncoder(meta);
    encoder.start(1);
    encoder.encode({ type: "text", text: "a" });
    const end = encoder.encode({ type: "done", finishReason: "stop_sequence", stopSequence: "END", usage });
    expect(end.find((e) => (e as { type: string }).type === "message_delta")).toMatchObject({
      delta: { stop_reason: "stop_sequence", stop_sequence: "END" },
    });
    expect(encoder.encode({ type: "text", text: "late" })).toEqual([]);
  });
});
