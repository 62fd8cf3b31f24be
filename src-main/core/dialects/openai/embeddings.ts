import { z } from "zod";
import { InvalidRequestError } from "../../errors.js";
import type { EmbeddingRequest, EmbeddingResult } from "../../inference/types.js";
import { parseBody } from "../validation.js";

const TokenIds = z.array(z.number().int().min(0)).min(1);

export const EmbeddingSchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), TokenIds, z.array(TokenIds).min(1)]),
  encoding_format: z.enum(["float", "base64"]).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().nullish(),
});

export const MAX_EMBEDDING_INPUTS = 2048;

export type ParsedEmbedding = { request: EmbeddingRequest; encoding: "float" | "base64"; dimensions: number | null };

export function parseEmbedding(body: unknown): ParsedEmbedding {
  const parsed = parseBody(EmbeddingSchema, body);
  const input = parsed.input;
  let inputs: Array<string | number[]>;
  if (typeof input === "string") inputs = [input];
  else if (input.every((x) => typeof x === "number")) inputs = [input as number[]];
  else inputs = input as Array<string | number[]>;
  if (inputs.length > MAX_EMBEDDING_INPUTS) {
    throw new InvalidRequestError(`At most ${MAX_EMBEDDING_INPUTS} inputs per request.`, "input");
  }
  inputs.forEach((x, i) => {
    if (typeof x === "string" && x.length === 0) throw new InvalidRequestError("Input strings must not be empty.", `input[${i}]`);
  });
  return {
    request: { model: parsed.model, inputs },
    encoding: parsed.encoding_format ?? "float",
    dimensions: parsed.dimensions ?? null,
  };
}

/** Little-endian float32 bytes, base64: what the openai SDK decodes by default. */
export function encodeBase64(vector: readonly number[]): string {
  const floats = new Float32Array(vector);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString("base64");
}

/** Keeps the first `dimensions` values and re-normalises to unit length. */
export function truncateVector(vector: readonly number[], dimensions: number): number[] {
  const cut = vector.slice(0, dimensions);
  const norm = Math.sqrt(cut.reduce((s, v) => s + v * v, 0));
  return norm > 0 ? cut.map((v) => v / norm) : cut;
}

export function toEmbeddingResponse(result: EmbeddingResult, parsed: ParsedEmbedding, model: string) {
  const width = result.vectors[0]?.length ?? 0;
  if (parsed.dimensions !== null && parsed.dimensions > width) {
    throw new InvalidRequestError(
      `dimensions is ${parsed.dimensions}, larger than the model's embedding width of ${width}.`,
      "dimensions",
    );
  }
  return {
    object: "list",
    data: result.vectors.map((raw, index) => {
      const vector = parsed.dimensions !== null ? truncateVector(raw, parsed.dimensions) : raw;
      return { object: "embedding", index, embedding: parsed.encoding === "base64" ? encodeBase64(vector) : vector };
    }),
    model,
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}
