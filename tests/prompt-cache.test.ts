// Agents resend a long prefix every turn and send side requests between turns. The
// engine must send each turn to the sequence holding its prefix (engine/sequenceChoice.ts)
// and report the reused tokens in each dialect's usage: OpenAI
// `prompt_tokens_details.cached_tokens`, Responses `input_tokens_details.cached_tokens`,
// Anthropic `cache_read_input_tokens`. Real SDKs, real engine, the tiny generated model.
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  server = await startTestServer({ parallel: 2, contextSize: 1024 });
  openai = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: server.key, baseURL: server.url, maxRetries: 0 });
});
afterAll(() => server?.stop());

/** A system prompt long enough that reusing it is unmistakable (a few hundred tokens). */
const agentSystem = (name: string) =>
  `You are ${name}, a coding agent. ${Array.from({ length: 12 }, (_, i) => `Rule ${i}: keep edits small.`).join(" ")}`;

describe("prompt cache across turns", () => {
  it("OpenAI chat: turn 2 reuses turn 1's prefix although a side request ran between them", async () => {
    const system = agentSystem("alpha");
    const turn1 = await openai.chat.completions.create({
      model: "tiny-chat",
      max_tokens: 3,
      messages: [
        { role: "system", content: system },
        { role: "user", content: "List the files." },
      ],
    });
    expect(turn1.usage?.prompt_tokens_details?.cached_tokens).toBe(0);

    // A side request with another prompt (a title), as Claude Code sends between turns.
    const side = await openai.chat.completions.create({
      model: "tiny-chat",
      max_tokens: 2,
      messages: [{ role: "user", content: "Write a title for this chat." }],
    });
    expect(side.usage?.prompt_tokens_details?.cached_tokens).toBe(0);

    const turn2 = await openai.chat.completions.create({
      model: "tiny-chat",
      max_tokens: 3,
      messages: [
        { role: "system", content: system },
        { role: "user", content: "List the files." },
        { role: "assistant", content: turn1.choices[0]?.message.content ?? "" },
        { role: "user", content: "Now open the first one." },
      ],
    });
    const cached = turn2.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    const promptTokens = turn2.usage?.prompt_tokens ?? 0;
    // At least the system prompt and the first user turn came from the cache.
    expect(cached).toBeGreaterThan((turn1.usage?.prompt_tokens ?? 0) * 0.8);
    expect(cached).toBeLessThan(promptTokens);

    // The request log keeps the cache hits.
    const log = await fetch(`${server.url}/api/admin/usage/requests?operation=chat&limit=10`, {
      headers: { authorization: `Bearer ${server.adminKey}` },
    }).then((r) => r.json());
    const rows = log.data as Array<{ promptTokens: number; cachedTokens: number }>;
    expect(rows.some((r) => r.promptTokens === promptTokens && r.cachedTokens === cached)).toBe(true);
  });

  it("Responses: prompt_cache_key turns report input_tokens_details.cached_tokens", async () => {
    const instructions = agentSystem("beta");
    const first = await openai.responses.create({
      model: "tiny-chat",
      instructions,
      input: "Read the README.",
      max_output_tokens: 3,
      prompt_cache_key: "session-beta",
      store: false,
    });
    // Only what it shares with earlier prompts (the chat template's opening, "You are ") can be cached.
    expect(first.usage?.input_tokens_details.cached_tokens).toBeLessThan((first.usage?.input_tokens ?? 0) * 0.2);
    const second = await openai.responses.create({
      model: "tiny-chat",
      instructions,
      input: [
        { role: "user", content: "Read the README." },
        { role: "assistant", content: first.output_text },
        { role: "user", content: "Summarize it." },
      ],
      max_output_tokens: 3,
      prompt_cache_key: "session-beta",
      store: false,
    });
    expect(second.usage?.input_tokens_details.cached_tokens).toBeGreaterThan((first.usage?.input_tokens ?? 0) * 0.8);
  });

  it("Anthropic: a cache_control-marked system prompt is read from the cache on the next turn (streamed)", async () => {
    const system = [{ type: "text" as const, text: agentSystem("gamma"), cache_control: { type: "ephemeral" as const } }];
    const first = await anthropic.messages.create({
      model: "tiny-chat",
      max_tokens: 3,
      system,
      messages: [{ role: "user", content: "Run the tests." }],
    });
    expect(first.usage.cache_read_input_tokens).toBeLessThan(first.usage.input_tokens * 0.2);
    const reply = first.content[0]?.type === "text" ? first.content[0].text : "";
    const stream = anthropic.messages.stream({
      model: "tiny-chat",
      max_tokens: 3,
      system,
      messages: [
        { role: "user", content: "Run the tests." },
        { role: "assistant", content: reply || "ok" },
        { role: "user", content: "Fix the failure." },
      ],
    });
    const second = await stream.finalMessage();
    const read = second.usage.cache_read_input_tokens ?? 0;
    expect(read).toBeGreaterThan((first.usage.input_tokens + (first.usage.cache_read_input_tokens ?? 0)) * 0.8);
    // input_tokens counts only the tokens evaluated anew.
    expect(second.usage.input_tokens).toBeGreaterThan(0);
    expect(second.usage.input_tokens).toBeLessThan(read);
  });

  it("OpenAI completions: a prompt that extends an earlier one reuses its sequence across a side request", async () => {
    const document = agentSystem("delta");
    const first = await openai.completions.create({ model: "tiny-chat", prompt: document, max_tokens: 3 });
    const side = await openai.completions.create({ model: "tiny-chat", prompt: "A title:", max_tokens: 2 });
    expect(side.usage?.prompt_tokens_details?.cached_tokens ?? 0).toBeLessThan(5);
    const second = await openai.completions.create({
      model: "tiny-chat",
      prompt: `${document} And one more rule.`,
      max_tokens: 3,
    });
    const cached = second.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    expect(cached).toBeGreaterThan((first.usage?.prompt_tokens ?? 0) * 0.8);
    expect(cached).toBeLessThan(second.usage?.prompt_tokens ?? 0);
  });
});
