import { describe, expect, it } from "vitest";
import { ForcedCallParser, plainSyntax, planForcedCall } from "./toolCall.js";

const tools = [
  { name: "get", parameters: { type: "object", properties: { a: { type: "boolean" } }, required: ["a"] } },
  { name: "get_all" },
];
const one = [tools[0] as (typeof tools)[0]];
/** Like Qwen's `<tool_call>` or gpt-oss's `<|message|>`: a call syntax with special tokens in it. */
const special = {
  prefix: [{ text: "\n" }, { text: "<|call|>", token: 7 }, { text: 'call "' }],
  paramsPrefix: [{ text: '" ' }, { text: "<|args|>", token: 9 }],
};

describe("forced calls: prefill and grammar", () => {
  it("one tool in a plain syntax: everything up to the arguments is prefilled", () => {
    const plan = planForcedCall(one, plainSyntax("||call: ", "("));
    expect(plan.prefill).toBe("||call: get(");
    expect(plan.gbnf).not.toContain('"get');
    expect(plan.leads).toEqual([""]);
  });

  it("several tools: the prefix is prefilled, the grammar chooses name, params prefix and arguments", () => {
    const plan = planForcedCall(tools, plainSyntax("||call: ", "("));
    expect(plan.prefill).toBe("||call: ");
    expect(plan.gbnf).toContain('"get({"');
    expect(plan.gbnf).toContain('"get_all({"');
    expect(plan.leads).toEqual(["get(", "get_all("]);
  });

  it("special tokens are written by the grammar as tokens, never prefilled as text", () => {
    const several = planForcedCall(tools, special);
    expect(several.prefill).toBe("\n");
    expect(several.gbnf).toMatch(/^root ::= <\[7\]> "call \\x22" \("get\\x22 " <\[9\]> .*\| "get_all\\x22 " <\[9\]>/m);
    expect(several.leads).toEqual(['<|call|>call "get" <|args|>', '<|call|>call "get_all" <|args|>']);
    const single = planForcedCall(one, special);
    expect(single.prefill).toBe("\n");
    expect(single.gbnf).toMatch(/^root ::= <\[7\]> "call \\x22get\\x22 " <\[9\]> "\{"/m);
    expect(single.leads).toEqual(['<|call|>call "get" <|args|>']);
  });

  it("a strict tool with an unenforceable keyword is refused", () => {
    expect(() =>
      planForcedCall([{ name: "t", parameters: { type: "object", not: {} }, strict: true }], plainSyntax("", "(")),
    ).toThrow(/'not'/);
  });
});

describe("forced calls: the stream parser", () => {
  it("announces the call once its name is certain, then streams the arguments", () => {
    let n = 0;
    const parser = new ForcedCallParser(tools, ["get(", "get_all("], () => `call_${++n}`);
    expect(parser.feed("get")).toEqual([]);
    expect(parser.feed("_all(")).toEqual([{ type: "tool_call_start", index: 0, id: "call_1", name: "get_all" }]);
    expect(parser.feed("{}")).toEqual([{ type: "tool_call_delta", index: 0, arguments: "{}" }]);
    expect(parser.hasCall).toBe(true);
  });

  it("a lead that is the start of a longer one waits until the text tells them apart", () => {
    const parser = new ForcedCallParser([{ name: "a" }, { name: "ab" }], ["<|c|>a", "<|c|>ab"], () => "call_x");
    expect(parser.feed("<|c|>a")).toEqual([]);
    expect(parser.feed("{")).toEqual([
      { type: "tool_call_start", index: 0, id: "call_x", name: "a" },
      { type: "tool_call_delta", index: 0, arguments: "{" },
    ]);
  });

  it("special tokens before a single tool's arguments are not part of them", () => {
    const parser = new ForcedCallParser(one, ['<|call|>call "get" <|args|>'], () => "call_x");
    expect(parser.feed("<|call|>call")).toEqual([]);
    expect(parser.feed(' "get" <|args|>{"a"')).toEqual([
      { type: "tool_call_start", index: 0, id: "call_x", name: "get" },
      { type: "tool_call_delta", index: 0, arguments: '{"a"' },
    ]);
  });

  it("a single tool's call in a plain syntax starts with the first chunk", () => {
    const parser = new ForcedCallParser(one, [""], () => "call_x");
    expect(parser.feed('{"a"')).toEqual([
      { type: "tool_call_start", index: 0, id: "call_x", name: "get" },
      { type: "tool_call_delta", index: 0, arguments: '{"a"' },
    ]);
  });
});
