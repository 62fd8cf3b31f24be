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
    expect(() => parseResponses({ model: "m", input: [{ type: "item_reference", id: "x" }] })).toThrow(/item_reference/);
  });

  it("flattens namespace tools, drops hosted ones, and maps namespaced history calls to the flat name", () => {
    const parsed = parseResponses({
      model: "m",
      input: [
        { role: "user", content: "go" },
        { type: "function_call", call_id: "c1", namespace: "multi_agent_v1", name: "spawn_agent", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "ok" },
        { type: "web_search_call", id: "ws_1", status: "completed", action: { type: "search", query: "q" } },
        { type: "custom_tool_call", call_id: "c2", name: "apply_patch", input: "*** Begin Patch" },
        { type: "custom_tool_call_output", call_id: "c2", output: "done" },
      ],
      tools: [
        { type: "function", name: "shell", parameters: { type: "object" } },
        {
          type: "namespace",
          name: "multi_agent_v1",
          description: "Sub-agents.",
          tools: [
            { type: "function", name: "spawn_agent", description: "Start one.", strict: false, parameters: { type: "object" } },
            { type: "custom", name: "freeform" },
          ],
        },
        { type: "namespace", name: "mcp__docs__", description: "", tools: [{ type: "function", name: "search" }] },
        { type: "web_search", external_web_access: false },
        { type: "image_generation" },
      ],
      tool_choice: "auto",
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: "k",
      client_metadata: { a: "b" },
      parallel_tool_calls: false,
      reasoning: { effort: "medium", summary: "auto" },
      store: false,
    });
    expect(parsed.tools.map((t) => t.name)).toEqual(["shell", "multi_agent_v1__spawn_agent", "mcp__docs__search"]);
    expect(parsed.tools[1]?.description).toBe("Sub-agents.\n\nStart one.");
    expect(parsed.toolOrigins.get("multi_agent_v1__spawn_agent")).toEqual({ name: "spawn_agent", namespace: "multi_agent_v1" });
    expect(parsed.toolOrigins.get("shell")).toEqual({ name: "shell" });
    expect(parsed.droppedTools).toEqual(["multi_agent_v1.custom", "web_search", "image_generation"]);
    expect(parsed.store).toBe(false);
    expect(parsed.messages).toEqual([
      { role: "user", content: "go" },
      { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "multi_agent_v1__spawn_agent", arguments: "{}" }] },
      { role: "tool", toolCallId: "c1", content: "ok" },
      {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "c2", name: "apply_patch", arguments: '{"input":"*** Begin Patch"}' }],
      },
      { role: "tool", toolCallId: "c2", content: "done" },
    ]);
  });

  it("maps a namespaced tool_choice to the flat name and other object choices to auto", () => {
    const tools = [{ type: "namespace", name: "ns", tools: [{ type: "function", name: "f" }] }];
    expect(
      parseResponses({ model: "m", input: "x", tools, tool_choice: { type: "function", namespace: "ns", name: "f" } }).toolChoice,
    ).toEqual({
      name: "ns__f",
    });
    expect(parseResponses({ model: "m", input: "x", tools, tool_choice: { type: "web_search" } }).toolChoice).toBe("auto");
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

  it("names a namespaced call by its namespace and member name, as Codex looks it up", () => {
    const encoder = new ResponsesEncoder({ ...meta(), toolOrigins: new Map([["ns__f", { name: "f", namespace: "ns" }]]) });
    encoder.start();
    const added = encoder.encode({ type: "tool_call_start", index: 0, id: "call_1", name: "ns__f" }) as Array<{
      type: string;
      item?: object;
    }>;
    expect(added.find((e) => e.type === "response.output_item.added")?.item).toMatchObject({
      type: "function_call",
      name: "f",
      namespace: "ns",
      call_id: "call_1",
    });
    encoder.encode({ type: "done", finishReason: "tool_calls", usage });
    expect(encoder.response().output).toMatchObject([{ name: "f", namespace: "ns" }]);
  });

  it("fails a stream with response.failed and an error event", () => {
    const encoder = new ResponsesEncoder(meta());
    encoder.start();
    const out = encoder.fail(new ServerError("boom")) as Array<{ type: string; response?: { status: string } }>;
    expect(out.map((e) => e.type)).toEqual(["response.failed", "error"]);
    expect(out[0]?.response?.status).toBe("failed");
  });
});
