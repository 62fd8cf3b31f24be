import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../errors.js";
import { foldEvents, type GenerationEvent } from "../../inference/types.js";
import { ChatChunkEncoder, parseChatCompletion, toChatCompletion } from "./chat.js";

const meta = { id: "chatcmpl-1", created: 1700000000, model: "m" };

describe("parseChatCompletion", () => {
  it("maps roles, content parts, tool calls and sampling onto the internal request", () => {
    const { request, stream, includeUsage } = parseChatCompletion({
      model: "m",
      messages: [
        { role: "developer", content: "be nice" },
        {
          role: "user",
          content: [
            { type: "text", text: "a" },
            { type: "text", text: "b" },
          ],
        },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "call_1", content: "42" },
      ],
      max_completion_tokens: 9,
      max_tokens: 3,
      stop: "END",
      temperature: 0.2,
      seed: 5,
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      tool_choice: { type: "function", function: { name: "f" } },
      unknown_field: "ignored",
    });
    expect(stream).toBe(true);
    expect(includeUsage).toBe(true);
    expect(request.messages).toEqual([
      { role: "system", content: "be nice" },
      { role: "user", content: "ab" },
      { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "f", arguments: "{}" }] },
      { role: "tool", toolCallId: "call_1", content: "42" },
    ]);
    expect(request.sampling).toEqual({ maxTokens: 9, stop: ["END"], temperature: 0.2, seed: 5 });
    expect(request.toolChoice).toEqual({ name: "f" });
    expect(request.tools).toEqual([{ name: "f", parameters: { type: "object" } }]);
  });

  it("names the offending field in a 400", () => {
    const attempt = () => parseChatCompletion({ model: "m", messages: [{ role: "user", content: 5 }] });
    expect(attempt).toThrow(InvalidRequestError);
    try {
      attempt();
    } catch (error) {
      expect((error as InvalidRequestError).param).toBe("messages[0].content");
    }
  });

  it("requires a schema for json_schema", () => {
    expect(() =>
      parseChatCompletion({
        model: "m",
        messages: [{ role: "user", content: "x" }],
        response_format: { type: "json_schema", json_schema: { name: "x" } },
      }),
    ).toThrow(/schema is required/);
  });
});

describe("ChatChunkEncoder", () => {
  it("opens with the assistant role and ends with finish_reason and a usage chunk", () => {
    const encoder = new ChatChunkEncoder(meta, true);
    expect(encoder.start()).toMatchObject({
      choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
      usage: null,
    });
    const [finish, usage] = encoder.encode({
      type: "done",
      finishReason: "stop_sequence",
      usage: { promptTokens: 4, completionTokens: 2 },
    });
    expect(finish).toMatchObject({ choices: [{ delta: {}, finish_reason: "stop" }], usage: null });
    expect(usage).toMatchObject({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } });
  });

  it("sends id, type and name only on a tool call's first delta", () => {
    const encoder = new ChatChunkEncoder(meta, false);
    const [start] = encoder.encode({ type: "tool_call_start", index: 0, id: "call_x", name: "f" });
    const [delta] = encoder.encode({ type: "tool_call_delta", index: 0, arguments: '{"a":' });
    expect(start).toMatchObject({
      choices: [
        { delta: { tool_calls: [{ index: 0, id: "call_x", type: "function", function: { name: "f", arguments: "" } }] } },
      ],
    });
    expect(delta).toEqual(
      expect.objectContaining({
        choices: [expect.objectContaining({ delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] } })],
      }),
    );
    expect(start).not.toHaveProperty("usage");
  });
});

describe("toChatCompletion", () => {
  it("folds events into one message with tool calls and null content", () => {
    const events: GenerationEvent[] = [
      { type: "reasoning", text: "hmm" },
      { type: "tool_call_start", index: 0, id: "call_1", name: "f" },
      { type: "tool_call_delta", index: 0, arguments: '{"a"' },
      { type: "tool_call_delta", index: 0, arguments: ":1}" },
      { type: "done", finishReason: "tool_calls", usage: { promptTokens: 3, completionTokens: 5 } },
    ];
    const body = toChatCompletion(foldEvents(events), meta);
    expect(body.choices[0]).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: null,
        reasoning_content: "hmm",
        tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: '{"a":1}' } }],
      },
      finish_reason: "tool_calls",
      logprobs: null,
    });
    expect(body.usage).toEqual({
      prompt_tokens: 3,
      completion_tokens: 5,
      total_tokens: 8,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });
});
