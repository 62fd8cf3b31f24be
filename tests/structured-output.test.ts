import Anthropic from "@anthropic-ai/sdk";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import OpenAI from "openai";
import { zodResponseFormat, zodTextFormat } from "openai/helpers/zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CORPUS } from "../src-main/core/engine/grammar/corpus.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  // 2048: three documented tools take ~950 byte-level tokens of prompt.
  server = await startTestServer({ parallel: 2, contextSize: 2048 });
  openai = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: server.key, baseURL: server.url, maxRetries: 0 });
});

afterAll(async () => {
  await server?.stop();
});

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
const user = (content: string) => [{ role: "user" as const, content }];
/** Enough for every bounded schema of the corpus with bounded whitespace. */
const BOUNDED_BUDGET = 600;

/** Runs `jobs` two at a time (the server's two sequences). */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await (jobs[i] as () => Promise<T>)();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

describe("every answer validates (random-weight model, temperature 1.2)", () => {
  const SEEDS = [11, 22, 33];
  it(`the corpus: ${CORPUS.length} schemas × ${SEEDS.length} seeds`, async () => {
    const jobs = CORPUS.flatMap(({ name, schema, bounded }) =>
      SEEDS.map((seed) => async () => {
        const completion = await openai.chat.completions.create({
          model: "tiny-chat",
          messages: user(`Answer with ${name}.`),
          max_tokens: bounded ? BOUNDED_BUDGET : 300,
          temperature: 1.2,
          seed,
          response_format: { type: "json_schema", json_schema: { name: "answer", schema, strict: true } },
        });
        const choice = completion.choices[0];
        return { name, schema, bounded, seed, text: choice?.message.content ?? "", finish: choice?.finish_reason };
      }),
    );
    const answers = await inPairs(jobs);
    const failures: string[] = [];
    let validated = 0;
    let cut = 0;
    for (const a of answers) {
      if (a.finish === "length") {
        // Only an unbounded schema (recursion, free repetition) may run out of budget.
        if (a.bounded) failures.push(`${a.name} (seed ${a.seed}) did not finish: ${a.text}`);
        cut++;
        continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(a.text);
      } catch {
        failures.push(`${a.name} (seed ${a.seed}) is not JSON: ${a.text}`);
        continue;
      }
      const validate = ajv.compile(a.schema);
      if (validate(value)) validated++;
      else failures.push(`${a.name} (seed ${a.seed}): ${a.text} ${JSON.stringify(validate.errors)}`);
    }
    console.info(
      `structured output: ${validated}/${answers.length} answers validated, ${cut} cut by max_tokens (unbounded schemas)`,
    );
    expect(failures).toEqual([]);
    expect(validated + cut).toBe(answers.length);
  });
});

describe("schemas the grammar cannot enforce", () => {
  const schema = {
    type: "object",
    properties: { tags: { type: "array", items: { type: "string", maxLength: 3 }, maxItems: 3, uniqueItems: true } },
    required: ["tags"],
    additionalProperties: false,
  };

  it("strict: a 400 naming the keyword and its path, before any generation", async () => {
    const error = await openai.chat.completions
      .create({
        model: "tiny-chat",
        messages: user("Tags"),
        max_tokens: 50,
        response_format: { type: "json_schema", json_schema: { name: "tags", schema, strict: true } },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain("uniqueItems");
    expect((error as Error).message).toContain("#/properties/tags/uniqueItems");
    expect((error as { param?: string }).param).toBe("response_format.json_schema.schema");
  });

  it("strict: a pattern outside the regular subset is a 400", async () => {
    const error = await openai.chat.completions
      .create({
        model: "tiny-chat",
        messages: user("Word"),
        max_tokens: 20,
        response_format: {
          type: "json_schema",
          json_schema: { name: "w", schema: { type: "string", pattern: "^(a+)\\1$" }, strict: true },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain("pattern");
  });

  it("strict: a oneOf whose branches may overlap is a 400 (a grammar cannot keep a value out of the other branch)", async () => {
    const error = await openai.chat.completions
      .create({
        model: "tiny-chat",
        messages: user("Number"),
        max_tokens: 20,
        response_format: {
          type: "json_schema",
          json_schema: { name: "n", schema: { oneOf: [{ type: "integer" }, { type: "number" }] }, strict: true },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain("'oneOf' at '#/oneOf' cannot be enforced: branches 0 and 1 may both match");
  });

  it("not strict: generated without the keyword, and x-maas-schema-ignored says which", async () => {
    const { data, response } = await openai.chat.completions
      .create({
        model: "tiny-chat",
        messages: user("Tags"),
        max_tokens: 100,
        temperature: 0,
        response_format: { type: "json_schema", json_schema: { name: "tags", schema, strict: false } },
      })
      .withResponse();
    expect(response.headers.get("x-maas-schema-ignored")).toBe("#/properties/tags/uniqueItems");
    const value = JSON.parse(data.choices[0]?.message.content ?? "") as { tags: string[] };
    expect(Array.isArray(value.tags)).toBe(true);
  });

  it("Anthropic forced tool with a strict input_schema: a 400 in Anthropic's shape", async () => {
    const error = await anthropic.messages
      .create({
        model: "tiny-chat",
        max_tokens: 50,
        messages: user("Go"),
        tools: [{ name: "t", input_schema: { type: "object", not: { required: ["x"] } }, strict: true } as Anthropic.Tool],
        tool_choice: { type: "tool", name: "t" },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as Error).message).toContain("'not'");
  });
});

const Pick = z.object({
  color: z.enum(["red", "green", "blue"]),
  count: z.number().int().min(1).max(5),
  note: z.string().max(6),
});

describe("the real SDKs' structured-output helpers", () => {
  it("openai chat.completions.parse with a zod schema", async () => {
    for (const seed of [1, 2, 3]) {
      const completion = await openai.chat.completions.parse({
        model: "tiny-chat",
        messages: user("Pick"),
        max_tokens: 200,
        temperature: 1.2,
        seed,
        response_format: zodResponseFormat(Pick, "pick"),
      });
      const parsed = completion.choices[0]?.message.parsed;
      expect(Pick.parse(parsed)).toEqual(parsed);
    }
  });

  it("openai responses.parse with a zod schema", async () => {
    const response = await openai.responses.parse({
      model: "tiny-chat",
      input: "Pick",
      max_output_tokens: 200,
      temperature: 1.2,
      text: { format: zodTextFormat(Pick, "pick") },
    });
    expect(Pick.parse(response.output_parsed)).toEqual(response.output_parsed);
  });
});

const ticketTool = {
  name: "create_ticket",
  description: "Files a ticket",
  input_schema: {
    type: "object" as const,
    properties: {
      priority: { type: "integer", minimum: 1, maximum: 4 },
      code: { type: "string", pattern: "^[A-Z]{3}-[0-9]{2}$" },
      tags: { type: "array", items: { enum: ["ui", "api"] }, maxItems: 2 },
    },
    required: ["priority", "code", "tags"],
    additionalProperties: false,
  },
};
const validateTicket = ajv.compile(ticketTool.input_schema);

describe("forced tool calls, arguments held to the schema", () => {
  it("Anthropic tool_choice tool: the input validates, every time", async () => {
    for (let i = 0; i < 3; i++) {
      const message = await anthropic.messages.create({
        model: "tiny-chat",
        max_tokens: 300,
        messages: user("File it"),
        tools: [ticketTool],
        tool_choice: { type: "tool", name: "create_ticket" },
      });
      expect(message.stop_reason).toBe("tool_use");
      const block = message.content.find((b) => b.type === "tool_use");
      expect(block?.name).toBe("create_ticket");
      expect(validateTicket(block?.input), JSON.stringify(block?.input)).toBe(true);
    }
  });

  it("Anthropic stream: input_json_delta events arrive before the block ends", async () => {
    const stream = anthropic.messages.stream({
      model: "tiny-chat",
      max_tokens: 300,
      messages: user("File it"),
      tools: [ticketTool],
      tool_choice: { type: "any" },
    });
    let deltas = 0;
    let stoppedAfterDeltas = false;
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "input_json_delta") deltas++;
      if (event.type === "content_block_stop" && deltas > 0) stoppedAfterDeltas = true;
    }
    const final = await stream.finalMessage();
    expect(deltas).toBeGreaterThan(1);
    expect(stoppedAfterDeltas).toBe(true);
    const block = final.content.find((b) => b.type === "tool_use");
    expect(validateTicket(block?.input)).toBe(true);
  });

  it("OpenAI stream: tool_calls deltas, then finish_reason tool_calls", async () => {
    const stream = await openai.chat.completions.create({
      model: "tiny-chat",
      messages: user("File it"),
      max_tokens: 300,
      stream: true,
      tools: [{ type: "function", function: { name: ticketTool.name, parameters: ticketTool.input_schema } }],
      tool_choice: "required",
    });
    let argumentDeltas = 0;
    let args = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      for (const call of choice?.delta.tool_calls ?? []) {
        if (call.function?.arguments) {
          argumentDeltas++;
          args += call.function.arguments;
        }
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(argumentDeltas).toBeGreaterThan(1);
    expect(finish).toBe("tool_calls");
    expect(validateTicket(JSON.parse(args))).toBe(true);
  });

  it("cut by max_tokens: the partial call comes back with finish_reason length", async () => {
    const completion = await openai.chat.completions.create({
      model: "tiny-chat",
      messages: user("File it"),
      max_tokens: 5,
      tools: [{ type: "function", function: { name: ticketTool.name, parameters: ticketTool.input_schema } }],
      tool_choice: { type: "function", function: { name: ticketTool.name } },
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("length");
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("create_ticket");
    expect(call?.type === "function" && call.function.arguments.length).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBe(5);
  });

  it("Responses: function_call_arguments.delta events, then a complete call", async () => {
    const stream = openai.responses.stream({
      model: "tiny-chat",
      input: "File it",
      max_output_tokens: 300,
      tools: [{ type: "function", name: ticketTool.name, parameters: ticketTool.input_schema, strict: true }],
      tool_choice: "required",
    });
    let deltas = 0;
    for await (const event of stream) if (event.type === "response.function_call_arguments.delta") deltas++;
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === "function_call");
    expect(deltas).toBeGreaterThan(1);
    expect(call?.type === "function_call" && validateTicket(JSON.parse(call.arguments))).toBe(true);
  });
});

const closeTool = {
  name: "close_ticket",
  description: "Closes a ticket",
  input_schema: {
    type: "object" as const,
    properties: { id: { type: "integer", minimum: 100, maximum: 120 }, reason: { enum: ["done", "dup"] } },
    required: ["id", "reason"],
    additionalProperties: false,
  },
};
const pingTool = { name: "ping", description: "Pings", input_schema: { type: "object" as const, properties: {} } };
const severalTools = [ticketTool, closeTool, pingTool];
const validators = new Map(severalTools.map((t) => [t.name, ajv.compile(t.input_schema)]));

describe("several forced tools: one of them, its arguments held to its schema", () => {
  it("OpenAI tool_choice required, streamed: a call of one of the tools, valid per its own schema", async () => {
    const names = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const stream = await openai.chat.completions.create({
        model: "tiny-chat",
        messages: user("Do something"),
        max_tokens: 300,
        temperature: 1.2,
        seed,
        stream: true,
        tools: severalTools.map((t) => ({
          type: "function" as const,
          function: { name: t.name, description: t.description, parameters: t.input_schema },
        })),
        tool_choice: "required",
      });
      let name: string | undefined;
      let args = "";
      let deltas = 0;
      let finish: string | null | undefined;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        for (const call of choice?.delta.tool_calls ?? []) {
          expect(call.index).toBe(0);
          if (call.function?.name) name = call.function.name;
          if (call.function?.arguments) {
            deltas++;
            args += call.function.arguments;
          }
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
      }
      expect(finish).toBe("tool_calls");
      const validate = validators.get(name ?? "");
      expect(validate, `called ${name}`).toBeDefined();
      expect(validate?.(JSON.parse(args)), `${name}(${args})`).toBe(true);
      if (name !== "ping") expect(deltas).toBeGreaterThan(0);
      names.add(name ?? "");
    }
    // The name is the model's choice, not always the first tool.
    expect(names.size).toBeGreaterThan(1);
  });

  it("Anthropic tool_choice any: a tool_use block of one of the tools, streamed as input_json_delta", async () => {
    for (let i = 0; i < 3; i++) {
      const stream = anthropic.messages.stream({
        model: "tiny-chat",
        max_tokens: 300,
        temperature: 1,
        messages: user("Do something"),
        tools: severalTools,
        tool_choice: { type: "any" },
      });
      let started = false;
      for await (const event of stream) {
        if (event.type === "content_block_start" && event.content_block.type === "tool_use") started = true;
      }
      const final = await stream.finalMessage();
      expect(started).toBe(true);
      expect(final.stop_reason).toBe("tool_use");
      const blocks = final.content.filter((b) => b.type === "tool_use");
      expect(blocks).toHaveLength(1);
      const block = blocks[0];
      expect(validators.get(block?.name ?? "")?.(block?.input), JSON.stringify(block)).toBe(true);
    }
  });

  it("Responses tool_choice required with several tools: a complete call of one of them", async () => {
    const response = await openai.responses.create({
      model: "tiny-chat",
      input: "Do something",
      max_output_tokens: 300,
      temperature: 1.2,
      tools: severalTools.map((t) => ({ type: "function" as const, name: t.name, parameters: t.input_schema, strict: false })),
      tool_choice: "required",
    });
    const call = response.output.find((o) => o.type === "function_call");
    expect(call?.type).toBe("function_call");
    if (call?.type === "function_call") expect(validators.get(call.name)?.(JSON.parse(call.arguments))).toBe(true);
  });
});

describe("sampling", () => {
  it("a length cutoff returns exactly max_tokens tokens (held-back text is flushed)", async () => {
    // Stop sequences that start with common characters make node-llama-cpp hold text back
    // often; before the fix 5 of these 40 seeds came back with 15 tokens.
    const seeds = Array.from({ length: 40 }, (_, i) => 1000 + i);
    const results = await inPairs(
      seeds.map(
        (seed) => () =>
          openai.chat.completions.create({
            model: "tiny-chat",
            messages: user("Tell me"),
            max_tokens: 16,
            seed,
            temperature: 1,
            stop: ["a~~", "e~~", "o~~", " ~~"],
          }),
      ),
    );
    const lengths = results.filter((c) => c.choices[0]?.finish_reason === "length");
    expect(lengths.length).toBeGreaterThan(30);
    const short = lengths.filter((c) => c.usage?.completion_tokens !== 16).map((c) => c.choices[0]?.message.content);
    expect(short).toEqual([]);
  });

  it("/v1/completions: a length cutoff returns exactly max_tokens tokens, the same text as without stop sequences", async () => {
    // Greedy, one prompt per case: the stop sequences change nothing about which tokens are
    // sampled, so an answer cut by length must be the very text of the run without them.
    const N = 16;
    const stop = ["a~~", "e~~", " ~~", "\n~~"];
    const cases = Array.from({ length: 30 }, (_, i) => `Once upon a time ${i}`);
    const complete = (prompt: string, max_tokens: number, withStop: boolean) =>
      openai.completions.create({ model: "tiny-chat", prompt, max_tokens, temperature: 0, ...(withStop ? { stop } : {}) });
    const results = await inPairs(
      cases.map((prompt) => async () => ({
        prompt,
        stopped: await complete(prompt, N, true),
        plain: await complete(prompt, N, false),
        longer: await complete(prompt, N + 8, false),
      })),
    );
    const failures: string[] = [];
    let cutByLength = 0;
    let heldBack = 0;
    for (const { prompt, stopped, plain, longer } of results) {
      for (const [name, c] of [
        ["with stop", stopped],
        ["plain", plain],
      ] as const) {
        const choice = c.choices[0];
        if (choice?.finish_reason !== "length") continue;
        if (c.usage?.completion_tokens !== N) failures.push(`${prompt} (${name}): ${c.usage?.completion_tokens} tokens`);
      }
      const text = stopped.choices[0]?.text ?? "";
      if (stopped.choices[0]?.finish_reason === "length") {
        cutByLength++;
        // Text that ends with the start of a stop sequence was held back before the fix.
        if (stop.some((s) => [1, 2].some((k) => text.endsWith(s.slice(0, k))))) heldBack++;
        if (text !== plain.choices[0]?.text)
          failures.push(`${prompt}: ${JSON.stringify(text)} ≠ ${JSON.stringify(plain.choices[0]?.text)}`);
      }
      if (!(longer.choices[0]?.text ?? "").startsWith((plain.choices[0]?.text ?? "").replace(/\uFFFD+$/u, ""))) {
        failures.push(`${prompt}: the ${N + 8}-token text does not start with the ${N}-token one`);
      }
    }
    expect(failures).toEqual([]);
    expect(cutByLength).toBeGreaterThan(20);
    // The case the fix is for must actually occur.
    expect(heldBack).toBeGreaterThan(0);
  });

  it("/v1/completions: a stop sequence ends the text before it, streamed or not", async () => {
    const prompt = "Stop here";
    const plain = await openai.completions.create({ model: "tiny-chat", prompt, max_tokens: 16, temperature: 0 });
    const full = plain.choices[0]?.text ?? "";
    const stop = full.slice(6, 8);
    expect(stop.length).toBe(2);
    const expected = full.slice(0, full.indexOf(stop));
    const once = await openai.completions.create({ model: "tiny-chat", prompt, max_tokens: 16, temperature: 0, stop: [stop] });
    expect(once.choices[0]?.finish_reason).toBe("stop");
    expect(once.choices[0]?.text).toBe(expected);
    const stream = await openai.completions.create({
      model: "tiny-chat",
      prompt,
      max_tokens: 16,
      temperature: 0,
      stop: [stop],
      stream: true,
    });
    let text = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ text, finish }).toEqual({ text: expected, finish: "stop" });
  });

  it("unseeded requests differ; seeded ones repeat", async () => {
    const ask = (seed?: number) =>
      openai.chat.completions
        .create({
          model: "tiny-chat",
          messages: user("Say"),
          max_tokens: 12,
          temperature: 1,
          ...(seed === undefined ? {} : { seed }),
        })
        .then((c) => c.choices[0]?.message.content ?? "");
    const unseeded = await Promise.all([ask(), ask(), ask()]);
    expect(new Set(unseeded).size).toBeGreaterThan(1);
    const [a, b] = [await ask(42), await ask(42)];
    expect(a).toBe(b);
  });
});
