/**
 * Forced tool calls in a call syntax made of special tokens: a chat template whose
 * calls open with `<|im_start|>call ` (node-llama-cpp's Jinja wrapper reads that
 * syntax from the template, the opener as a special token, like Qwen's `<tool_call>`).
 * The grammar writes such tokens as tokens; the arguments still hold to the schema,
 * with one tool or a choice of several, streamed through the real SDKs.
 */
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { Ajv2020 } from "ajv/dist/2020.js";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const TEMPLATE = `{%- if tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}

{% endif %}Tools:{% for tool in tools %}
{{ tool | tojson }}{% endfor %}
Call one as <|im_start|>call name
{"arguments"}<|im_end|>
{%- elif messages[0].role == 'system' %}<|im_start|>system
{{ messages[0].content }}<|im_end|>
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% elif message.role == 'assistant' %}<|im_start|>assistant
{% if message.content %}{{ message.content }}{% endif %}{% if message.tool_calls %}{% for tool_call in message.tool_calls %}<|im_start|>call {{ tool_call.function.name }}
{{ tool_call.function.arguments | tojson }}<|im_end|>{% endfor %}{% endif %}<|im_end|>
{% elif message.role == 'tool' %}<|im_start|>tool
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}`;

let server: TestServer;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  server = await startTestServer({ parallel: 1, contextSize: 2048 }, (dir) => writeTinyLlama(join(dir, "tiny-calls.gguf")));
  const res = await fetch(`${server.url}/api/admin/models/tiny-calls/settings`, {
    method: "PUT",
    headers: { authorization: `Bearer ${server.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ chatTemplate: TEMPLATE }),
  });
  expect(res.status).toBe(200);
  openai = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: server.key, baseURL: server.url, maxRetries: 0 });
});

afterAll(async () => {
  await server?.stop();
});

const ajv = new Ajv2020({ strict: false });
const tools = [
  {
    name: "move",
    description: "Moves",
    input_schema: {
      type: "object" as const,
      properties: { steps: { type: "integer", minimum: 2, maximum: 7 }, dir: { enum: ["n", "s"] } },
      required: ["steps", "dir"],
      additionalProperties: false,
    },
  },
  {
    name: "say",
    description: "Says",
    input_schema: {
      type: "object" as const,
      properties: { word: { type: "string", pattern: "^[a-z]{2,4}$" } },
      required: ["word"],
      additionalProperties: false,
    },
  },
];
const validators = new Map(tools.map((t) => [t.name, ajv.compile(t.input_schema)]));
const openaiTools = tools.map((t) => ({
  type: "function" as const,
  function: { name: t.name, description: t.description, parameters: t.input_schema },
}));

async function streamedCall(tool_choice: OpenAI.ChatCompletionToolChoiceOption, seed: number) {
  const stream = await openai.chat.completions.create({
    model: "tiny-calls",
    messages: [{ role: "user", content: "Go" }],
    max_tokens: 200,
    temperature: 1.2,
    seed,
    stream: true,
    tools: openaiTools,
    tool_choice,
  });
  let name: string | undefined;
  let args = "";
  let deltas = 0;
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    for (const call of choice?.delta.tool_calls ?? []) {
      if (call.function?.name) name = call.function.name;
      if (call.function?.arguments) {
        deltas++;
        args += call.function.arguments;
      }
    }
    if (choice?.finish_reason) finish = choice.finish_reason;
  }
  return { name, args, deltas, finish };
}

describe("a call syntax with special tokens", () => {
  it("several tools, tool_choice required: one of them, its arguments valid, streamed", async () => {
    const names = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const { name, args, deltas, finish } = await streamedCall("required", seed);
      expect(finish).toBe("tool_calls");
      expect(validators.get(name ?? "")?.(JSON.parse(args)), `${name}(${args})`).toBe(true);
      expect(deltas).toBeGreaterThan(1);
      names.add(name ?? "");
    }
    expect([...names].every((n) => validators.has(n))).toBe(true);
  });

  it("one named tool: its arguments valid", async () => {
    for (const seed of [7, 8]) {
      const { name, args, finish } = await streamedCall({ type: "function", function: { name: "say" } }, seed);
      expect({ name, finish }).toEqual({ name: "say", finish: "tool_calls" });
      expect(validators.get("say")?.(JSON.parse(args)), args).toBe(true);
    }
  });

  it("Anthropic tool_choice any with several tools: a valid tool_use block", async () => {
    const message = await anthropic.messages.create({
      model: "tiny-calls",
      max_tokens: 200,
      messages: [{ role: "user", content: "Go" }],
      tools,
      tool_choice: { type: "any" },
    });
    expect(message.stop_reason).toBe("tool_use");
    const block = message.content.find((b) => b.type === "tool_use");
    expect(validators.get(block?.name ?? "")?.(block?.input), JSON.stringify(block)).toBe(true);
  });
});
