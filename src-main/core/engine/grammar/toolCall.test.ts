import { describe, expect, it } from "vitest";
import { compileForcedCall, ForcedCallParser } from "./toolCall.js";

const tools = [
  { name: "get", parameters: { type: "object", properties: { a: { type: "boolean" } }, required: ["a"] } },
  { name: "get_all" },
];

describe("forced calls", () => {
  it("one tool: the grammar is its arguments; several: name, params prefix, arguments", () => {
    expect(compileForcedCall([tools[0] as (typeof tools)[0]], "(").gbnf).not.toContain('"get');
    const { gbnf } = compileForcedCall(tools, "(");
    expect(gbnf).toContain('"get({"');
    expect(gbnf).toContain('"get_all({"');
  });

  it("the parser announces the call once its name is certain, then streams the arguments", () => {
    let n = 0;
    const parser = new ForcedCallParser(tools, "(", () => `call_${++n}`);
    expect(parser.feed("get")).toEqual([]);
    expect(parser.feed("_all(")).toEqual([{ type: "tool_call_start", index: 0, id: "call_1", name: "get_all" }]);
    expect(parser.feed("{}")).toEqual([{ type: "tool_call_delta", index: 0, arguments: "{}" }]);
    expect(parser.hasCall).toBe(true);
  });

  it("a single tool's call starts with the first chunk", () => {
    const parser = new ForcedCallParser([tools[0] as (typeof tools)[0]], "(", () => "call_x");
    expect(parser.feed('{"a"')).toEqual([
      { type: "tool_call_start", index: 0, id: "call_x", name: "get" },
      { type: "tool_call_delta", index: 0, arguments: '{"a"' },
    ]);
  });

  it("a strict tool with an unenforceable keyword is refused", () => {
    expect(() => compileForcedCall([{ name: "t", parameters: { type: "object", not: {} }, strict: true }], "(")).toThrow(/'not'/);
  });
});
