import { describe, expect, it } from "vitest";
import { encodeBase64, parseEmbedding, toEmbeddingResponse, truncateVector } from "./embeddings.js";

describe("embeddings translator", () => {
  it("accepts a string, strings, token ids and arrays of token ids", () => {
    expect(parseEmbedding({ model: "m", input: "a" }).request.inputs).toEqual(["a"]);
    expect(parseEmbedding({ model: "m", input: ["a", "b"] }).request.inputs).toEqual(["a", "b"]);
    expect(parseEmbedding({ model: "m", input: [1, 2] }).request.inputs).toEqual([[1, 2]]);
    expect(parseEmbedding({ model: "m", input: [[1], [2, 3]] }).request.inputs).toEqual([[1], [2, 3]]);
    expect(() => parseEmbedding({ model: "m", input: "" })).toThrow(/empty/);
    expect(() => parseEmbedding({ model: "m", input: [1.5] })).toThrow();
  });

  it("encodes base64 as little-endian float32 bytes", () => {
    const bytes = Buffer.from(encodeBase64([1, -0.5]), "base64");
    expect(bytes.readFloatLE(0)).toBe(1);
    expect(bytes.readFloatLE(4)).toBe(-0.5);
  });

  it("truncates and re-normalises to the requested dimensions", () => {
    const cut = truncateVector([3, 4, 12], 2);
    expect(cut[0]).toBeCloseTo(0.6);
    expect(cut[1]).toBeCloseTo(0.8);
    const parsed = parseEmbedding({ model: "m", input: "x", dimensions: 5 });
    expect(() => toEmbeddingResponse({ vectors: [[1, 0]], promptTokens: 1 }, parsed, "m")).toThrow(/larger than/);
  });
});
