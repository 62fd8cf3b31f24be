/**
 * A completion's text continues its prompt exactly. With a SentencePiece vocabulary a
 * piece's text starts with its space ("▁You"), and detokenized alone, as the start of a
 * text, the first one lost it: "sea." + " You are" came out "sea.You are" (llama-server
 * keeps the space). And the prompt is tokenized as llama.cpp's server does it. Real engine,
 * a generated SentencePiece model that only writes `▁a`…`▁z`.
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
let engine: Engine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "maas-completion-text-"));
  const path = join(dir, "spm.gguf");
  writeTinyLlama(path, { seed: 11, vocabulary: "sentencepiece", contextLength: 512 });
  info = { id: "spm", path, sizeBytes: 0, architecture: "llama", contextLength: 512, capabilities: ["chat"], createdAt: 0 };
  engine = await Engine.create({
    gpu: false,
    threads: 1,
    parallel: 2,
    maxQueue: 8,
    contextSize: 512,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    resolveModel: (id) => (id === info.id ? info : undefined),
  });
}, 120_000);

afterAll(async () => {
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function completion(prompt: string, maxTokens: number) {
  const stream = await engine.complete({ model: info.id, prompt, sampling: { maxTokens, temperature: 0 } });
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
