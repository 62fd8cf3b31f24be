import { describe, expect, it } from "vitest";
import { InvalidRequestError, ServerError } from "../../errors.js";
import { ResponsesEncoder } from "./encoder.js";
import { parseResponses } from "./request.js";

const meta = () => ({ id: "resp_1", createdAt: 1, model: "m", body: parseResponses({ model: "m", input: "x" }).body });
const usage = { promptTokens: 3, completionTokens: 4 };

describe("Responses request translation", () => {
  it("joins function calls into one assistant turn and maps outputs to tool turns", () => {
    const parsed = parseResponses({
      model: "m",
      input: [
        { role: "developer", content: "rules" },
        { role: "user", content: [{ type: "input_text", text: "go" }] },
        { type: "function_call", call_id: "c1", name: "a", arguments: "{}" },
        { type: "function_call", call_id: "c2", name: "b", arguments: '{"x":1}' },
        { type: "function_call_output", call_id: "c1", output: "one" },
        { type: "function_call_output", call_id: "c2", output: [{ type: "input_text", text: "two" }] },
        { type: "reasoning", id: "rs_1", summary: [] },
      ],
      text: { format: { type: "json_schema", name: "s", schema: { type: "object" } } },
      tool_choice: { type: "function", name: "a" },
      tools: [{ type: "function", name: "a", parameters: { type: "object" } }],
      max_output_tokens: 9,
    });
    expect(parsed.messages).toEqual([
      { role: "system", content: "rules" },
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: "",
        toolCalls: [
          { id: "c1", name: "a", arguments: "{}" },
          { id: "c2", name: "b", arguments: '{"x":1}' },
        ],
      },
      { role: "tool", toolCallId: "c1", content: "one" },
      { role: "tool", toolCallId: "c2", content: "two" },
    ]);
    expect(parsed.responseFormat).toEqual({ type: "json_schema", schema: { type: "object" } });
    expect(parsed.toolChoice).toEqual({ name: "a" });
    expect(parsed.sampling.maxTokens).toBe(9);
  });

  it("rejects images and unknown item types with the item named", () => {
    const image = { model: "m", input: [{ role: "user", content: [{ type: "input_image", image_url: "x" }] }] };
    expect(() => parseResponses(image)).toThrow(InvalidRequestError);
    expect(() => parseResponses({ model: "m", input: [{ type: "computer_call_output" }] })).toThrow(/computer_call_output/);
  });
});

describe("ResponsesEncoder", () => {
  it("emits reasoning, message and function_call items in order with rising sequence numbers", () => {
    const encoder = new ResponsesEncoder(meta());
    const events = [
      ...encoder.start(),
      ...encoder.encode({ type: "reasoning", text: "think" }),
      ...encoder.encode({ type: "text", text: "Hi" }),
      ...encoder.encode({ type: "tool_call_start", index: 0, id: "call_9", name: "f" }),
      ...encoder.encode({ type: "tool_call_delta", index: 0, arguments: "{}" }),
      ...encoder.encode({ type: "done", finishReason: "tool_calls", usage }),
    ] as Array<{ type: string; sequence_number: number }>;
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.filter((e) => e.type === "response.output_item.added")).toHaveLength(3);
    expect(events.at(-1)?.type).toBe("response.completed");
    const response = encoder.response();
    expect((response.output as Array<{ type: string }>).map((o) => o.type)).toEqual(["reasoning", "message", "function_call"]);
    expect(response.output).toMatchObject([
      { content: [{ type: "reasoning_text", text: "think" }], status: "completed" },
      { content: [{ type: "output_text", text: "Hi" }] },
      { call_id: "call_9", name: "f", arguments: "{}" },
    ]);
    expect(response.usage).toMatchObject({ input_tokens: 3, output_tokens: 4, total_tokens: 7 });
  });

  it("fails a stream with response.failed and an error event", () => {
    const encoder = new ResponsesEncoder(meta());
    encoder.start();
    const out = encoder.fail(new ServerError("boom")) as Array<{ type: string; response?: { status: string } }>;
    expect(out.map((e) => e.type)).toEqual(["response.failed", "error"]);
    expect(out[0]?.response?.status).toBe("failed");
  });
});
