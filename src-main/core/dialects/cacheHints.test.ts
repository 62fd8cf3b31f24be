// Cache hints in (prompt_cache_key, cache_control) and cache hits out (cached tokens), per dialect.
import { describe, expect, it } from "vitest";
import { parseMessages, toAnthropicUsage } from "./anthropic/messages.js";
import { parseChatCompletion, toOpenAIUsage } from "./openai/chat.js";
import { parseResponses } from "./responses/request.js";

describe("prompt cache hints and hits", () => {
  it("OpenAI: prompt_cache_key becomes the affinity key; cached tokens go to prompt_tokens_details", () => {
    const { request } = parseChatCompletion({ model: "m", messages: [{ role: "user", content: "hi" }], prompt_cache_key: "s1" });
    expect(request.cacheKey).toBe("openai:s1");
    expect(parseChatCompletion({ model: "m", messages: [{ role: "user", content: "hi" }] }).request.cacheKey).toBeUndefined();
    expect(toOpenAIUsage({ promptTokens: 10, completionTokens: 2, cachedTokens: 7 })).toEqual({
      prompt_tokens: 10,
      completion_tokens: 2,
      total_tokens: 12,
      prompt_tokens_details: { cached_tokens: 7 },
    });
  });

  it("Responses: prompt_cache_key is read", () => {
    expect(parseResponses({ model: "m", input: "hi", prompt_cache_key: "codex-session" }).cacheKey).toBe("codex-session");
    expect(parseResponses({ model: "m", input: "hi" }).cacheKey).toBeUndefined();
  });

  it("Anthropic: a cache_control mark names the system prefix; unmarked requests carry no key", () => {
    const marked = (text: string) =>
      parseMessages({
        model: "m",
        max_tokens: 4,
        system: [{ type: "text", text, cache_control: { type: "ephemeral" } }],
        messages: [{ role: "user", content: "hi" }],
      }).request.cacheKey;
    expect(marked("You are an agent.")).toMatch(/^anthropic:[0-9a-f]{32}$/);
    expect(marked("You are an agent.")).toBe(marked("You are an agent."));
    expect(marked("You are another agent.")).not.toBe(marked("You are an agent."));
    const plain = parseMessages({
      model: "m",
      max_tokens: 4,
      system: "You are an agent.",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(plain.request.cacheKey).toBeUndefined();
  });

  it("Anthropic: input_tokens count only what was evaluated anew; the rest is cache_read_input_tokens", () => {
    expect(toAnthropicUsage({ promptTokens: 100, completionTokens: 3, cachedTokens: 80 })).toEqual({
      input_tokens: 20,
      output_tokens: 3,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 80,
    });
    expect(toAnthropicUsage({ promptTokens: 5, completionTokens: 1 })).toMatchObject({
      input_tokens: 5,
      cache_read_input_tokens: 0,
    });
  });
});
