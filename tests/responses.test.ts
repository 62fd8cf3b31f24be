import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startTestServer({ parallel: 2 });
  client = new OpenAI({ apiKey: server.key, baseURL: server.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await server?.stop();
});

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  description: "Weather for a city",
  strict: true,
  parameters: {
    type: "object",
    properties: { unit: { type: "string", enum: ["c", "f"] }, rain: { type: "boolean" } },
    required: ["unit", "rain"],
    additionalProperties: false,
  },
};

describe("Responses API with the openai SDK", () => {
  it("creates a response from a string input, with usage and output_text", async () => {
    const response = await client.responses.create({ model: "tiny-chat", input: "Hello", max_output_tokens: 6, temperature: 0 });
    expect(response.object).toBe("response");
    expect(response.id).toMatch(/^resp_/);
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details?.reason).toBe("max_output_tokens");
    const message = response.output[0];
    expect(message?.type).toBe("message");
    expect(typeof response.output_text).toBe("string");
    expect(response.usage?.output_tokens).toBe(6);
    expect(response.usage?.total_tokens).toBe((response.usage?.input_tokens ?? 0) + 6);
  });

  it("accepts item input with instructions and streams with finalResponse()", async () => {
    const stream = client.responses.stream({
      model: "tiny-chat",
      instructions: "Be brief.",
      input: [
        { role: "user", content: [{ type: "input_text", text: "Hi" }] },
        { role: "assistant", content: "Hello." },
        { type: "message", role: "user", content: "Tell me more" },
      ],
      max_output_tokens: 5,
    });
    const types: string[] = [];
    let deltas = "";
    for await (const event of stream) {
      types.push(event.type);
      expect(event.sequence_number).toBe(types.length - 1);
      if (event.type === "response.output_text.delta") deltas += event.delta;
    }
    const final = await stream.finalResponse();
    expect(types.slice(0, 4)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
    ]);
    expect(types).toContain("response.output_text.done");
    expect(types).toContain("response.output_item.done");
    expect(types.at(-1)).toBe("response.incomplete");
    expect(final.output_text).toBe(deltas);
    expect(final.usage?.output_tokens).toBe(5);
    expect(final.instructions).toBe("Be brief.");
  });

  it("round-trips a function call with function_call_output", async () => {
    const first = await client.responses.create({
      model: "tiny-chat",
      input: "Weather in Paris?",
      tools: [weatherTool],
      tool_choice: "required",
      max_output_tokens: 120,
    });
    expect(first.status).toBe("completed");
    const call = first.output.find((item) => item.type === "function_call");
    if (call?.type !== "function_call") throw new Error("no function call");
    expect(call.name).toBe("get_weather");
    expect(call.call_id).toMatch(/^call_/);
    expect(["c", "f"]).toContain(JSON.parse(call.arguments).unit);

    const second = await client.responses.create({
      model: "tiny-chat",
      input: [
        { role: "user", content: "Weather in Paris?" },
        { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: "function_call_output", call_id: call.call_id, output: '{"temp": 21}' },
      ],
      tools: [weatherTool],
      tool_choice: "none",
      max_output_tokens: 4,
    });
    expect(second.output.some((item) => item.type === "function_call")).toBe(false);
    const plain = await client.responses.create({ model: "tiny-chat", input: "Weather in Paris?", max_output_tokens: 1 });
    // The call and its output are part of the second prompt.
    expect(second.usage?.input_tokens).toBeGreaterThan((plain.usage?.input_tokens ?? 0) + 10);
  });

  it("streams a function call's arguments as deltas", async () => {
    const stream = client.responses.stream({
      model: "tiny-chat",
      input: "Weather?",
      tools: [weatherTool],
      tool_choice: { type: "function", name: "get_weather" },
      max_output_tokens: 120,
    });
    let args = "";
    stream.on("response.function_call_arguments.delta", (event) => {
      args += event.delta;
    });
    const final = await stream.finalResponse();
    const call = final.output.find((item) => item.type === "function_call");
    expect(call?.type === "function_call" && call.arguments).toBe(args);
  });

  it("continues a conversation with previous_response_id, then retrieves, lists input items and deletes", async () => {
    const first = await client.responses.create({ model: "tiny-chat", input: "My name is Ada.", max_output_tokens: 3 });
    const second = await client.responses.create({
      model: "tiny-chat",
      input: "What is my name?",
      previous_response_id: first.id,
      max_output_tokens: 3,
    });
    const alone = await client.responses.create({ model: "tiny-chat", input: "What is my name?", max_output_tokens: 3 });
    // The first turn and its answer are part of the second prompt.
    expect(second.usage?.input_tokens).toBeGreaterThan((alone.usage?.input_tokens ?? 0) + 5);
    expect(second.previous_response_id).toBe(first.id);

    const fetched = await client.responses.retrieve(second.id);
    expect(fetched.id).toBe(second.id);
    expect(fetched.output_text).toBe(second.output_text);
    const items = await client.responses.inputItems.list(second.id);
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({ type: "message", role: "user" });

    await client.responses.delete(second.id);
    await expect(client.responses.retrieve(second.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("answers 404 for an unknown previous_response_id and does not keep store:false responses", async () => {
    const missing = await client.responses
      .create({ model: "tiny-chat", input: "x", previous_response_id: "resp_nope", max_output_tokens: 2 })
      .catch((e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect(missing.param).toBe("previous_response_id");
    const ephemeral = await client.responses.create({ model: "tiny-chat", input: "x", store: false, max_output_tokens: 2 });
    await expect(client.responses.retrieve(ephemeral.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("enforces a json_schema text format", async () => {
    const response = await client.responses.create({
      model: "tiny-chat",
      input: "Give me a colour.",
      max_output_tokens: 60,
      text: {
        format: {
          type: "json_schema",
          name: "colour",
          schema: {
            type: "object",
            properties: { colour: { type: "string", enum: ["red", "green"] }, ok: { type: "boolean" } },
            required: ["colour", "ok"],
            additionalProperties: false,
          },
        },
      },
    });
    const parsed = JSON.parse(response.output_text);
    expect(["red", "green"]).toContain(parsed.colour);
    expect(typeof parsed.ok).toBe("boolean");
  });

  it("accepts what Codex sends: namespace tools answered by namespace and name, hosted tools dropped and named", async () => {
    const body = {
      model: "tiny-chat",
      instructions: "You are a coding agent.",
      input: [
        { type: "message", role: "developer", content: [{ type: "input_text", text: "Sandbox: read-only." }] },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Start a helper." }] },
      ],
      tools: [
        {
          type: "namespace",
          name: "multi_agent_v1",
          description: "Tools in the multi_agent_v1 namespace.",
          tools: [
            {
              type: "function",
              name: "spawn_agent",
              description: "Start a sub-agent.",
              strict: false,
              parameters: {
                type: "object",
                properties: { task: { type: "string", enum: ["lint", "test"] } },
                required: ["task"],
                additionalProperties: false,
              },
            },
          ],
        },
        { type: "web_search", external_web_access: false },
      ],
      tool_choice: { type: "function", namespace: "multi_agent_v1", name: "spawn_agent" },
      parallel_tool_calls: false,
      reasoning: { effort: "medium", summary: "auto" },
      store: false,
      stream: true,
      include: ["reasoning.encrypted_content"],
      prompt_cache_key: "019a-session",
      client_metadata: { originator: "codex_exec" },
      max_output_tokens: 150,
    };
    const res = await fetch(`${server.baseURL}/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-maas-dropped-tools")).toBe("web_search");
    const events = (await res.text())
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)));
    const done = events.find((e) => e.type === "response.output_item.done" && e.item.type === "function_call");
    expect(done?.item).toMatchObject({ name: "spawn_agent", namespace: "multi_agent_v1" });
    expect(["lint", "test"]).toContain(JSON.parse(done.item.arguments).task);
    expect(events.at(-1)?.type).toBe("response.completed");

    // Codex resends the whole history (store:false): the call comes back with its namespace.
    const again = await client.responses.create({
      ...body,
      stream: false,
      tool_choice: "none",
      max_output_tokens: 3,
      input: [
        ...body.input,
        {
          type: "function_call",
          call_id: done.item.call_id,
          namespace: "multi_agent_v1",
          name: "spawn_agent",
          arguments: done.item.arguments,
        },
        { type: "function_call_output", call_id: done.item.call_id, output: "started" },
      ],
    } as never);
    expect(again.status).toBe("incomplete");
  });

  it("keeps other keys' responses private", async () => {
    const mine = await client.responses.create({ model: "tiny-chat", input: "x", max_output_tokens: 1 });
    const otherKey = server.core.keys.create({ name: "other", scopes: ["inference"] }).key;
    const other = new OpenAI({ apiKey: otherKey, baseURL: server.baseURL, maxRetries: 0 });
    await expect(other.responses.retrieve(mine.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
