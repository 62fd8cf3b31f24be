/**
 * Prompts and text as llama.cpp's own server has them (on stories260K and the bench model
 * our greedy completions and chats now match llama-server's token for token).
 *
 * A completion's text continues its prompt exactly. With a SentencePiece vocabulary a
 * piece's text starts with its space ("▁You"), and detokenized alone, as the start of a
 * text, the first one lost it: "sea." + " You are" came out "sea.You are" (llama-server
 * keeps the space). And the prompt is tokenized as llama.cpp's server does it. Real engine,
 * a generated SentencePiece model that only writes `▁a`…`▁z`.
 *
 * A chat prompt has the beginning token only where the model asks for one: node-llama-cpp's
 * ChatML wrapper wrote it before every chat of a model whose GGUF says
 * `add_bos_token = false` (the ChatML fixture's `<|endoftext|>`), and its replies differed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../src-main/core/engine/Engine.js";
import { writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";
import type { ModelInfo } from "../src-main/core/inference/types.js";

let dir: string;
let info: ModelInfo;
/** The GPT-2-vocabulary fixture with a ChatML template, `add_bos_token = false`. */
let chatml: ModelInfo;
let engine: Engine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "maas-prompt-parity-"));
  const path = join(dir, "spm.gguf");
  writeTinyLlama(path, { seed: 11, vocabulary: "sentencepiece", contextLength: 512 });
  info = { id: "spm", path, sizeBytes: 0, architecture: "llama", contextLength: 512, capabilities: ["chat"], createdAt: 0 };
  const chatmlPath = join(dir, "chatml.gguf");
  writeTinyLlama(chatmlPath, { seed: 4, vocabulary: "ascii", contextLength: 512 });
  chatml = { ...info, id: "chatml", path: chatmlPath };
  engine = await Engine.create({
    gpu: false,
    threads: 1,
    parallel: 2,
    maxQueue: 8,
    contextSize: 512,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    resolveModel: (id) => [info, chatml].find((m) => m.id === id),
  });
}, 120_000);

afterAll(async () => {
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function completion(prompt: string, maxTokens: number, model = info.id) {
  const stream = await engine.complete({ model, prompt, sampling: { maxTokens, temperature: 0 } });
  const texts: string[] = [];
  let tokens = 0;
  let promptTokens = 0;
  for await (const event of stream) {
    if (event.type === "text") texts.push(event.text);
    if (event.type === "done") {
      tokens = event.usage.completionTokens;
      promptTokens = event.usage.promptTokens;
    }
  }
  return { texts, text: texts.join(""), tokens, promptTokens };
}

async function chat(messages: Array<{ role: "system" | "user" | "assistant"; content: string }>, maxTokens: number) {
  const request = { model: chatml.id, messages, sampling: { maxTokens, temperature: 0 } };
  const stream = await engine.chat(request);
  let text = "";
  for await (const event of stream) if (event.type === "text") text += event.text;
  return { text, promptTokens: await engine.countChatTokens(request) };
}

describe("a completion's text", () => {
  it("keeps the space its first piece starts with, streamed piece by piece", async () => {
    for (const prompt of ["a b c", "x.", "the end"]) {
      const { texts, text, tokens } = await completion(prompt, 6);
      expect(tokens).toBe(6);
      // Six pieces of `▁a`…`▁z`: six spaces, the first included.
      expect(text).toMatch(/^( [a-z]){6}$/);
      expect(texts[0]).toMatch(/^ [a-z]/);
    }
  }, 60_000);

  it("comes from the prompt tokenized as llama.cpp's server does it: the leading space, special tokens parsed", async () => {
    // llama-server's /tokenize on this model: `<s> ▁ .` and `<s> ▁a </s> ▁b` (a string tokenized
    // by LlamaCompletion itself gives `<s> .`, and `</s>` as its five characters).
    expect((await completion(".", 2)).promptTokens).toBe(3);
    expect((await completion("a</s>b", 2)).promptTokens).toBe(4);
    const { text, tokens } = await completion("a</s>b", 4);
    expect(tokens).toBe(4);
    expect(text).toMatch(/^( [a-z]){4}$/);
  }, 60_000);
});

describe("a chat prompt", () => {
  it("is the template's text, with no beginning token the model does not ask for", async () => {
    for (const [messages, rendered] of [
      [[{ role: "user", content: "Hello" }], "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"],
      [
        [
          { role: "system", content: "Be terse." },
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
          { role: "user", content: "again" },
        ],
        "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nagain<|im_end|>\n<|im_start|>assistant\n",
      ],
    ] as const) {
      // The rendered template as a completion prompt: its special tokens parsed, no beginning token added.
      const asCompletion = await completion(rendered, 8, chatml.id);
      const { text, promptTokens } = await chat([...messages], 8);
      expect(promptTokens).toBe(asCompletion.promptTokens);
      expect(text).toBe(asCompletion.text);
    }
  }, 60_000);
});
