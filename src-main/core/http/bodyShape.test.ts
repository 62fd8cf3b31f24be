import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { assertNoPrototypeKeys, jsonShapeLimits, readJsonBody } from "./bodyShape.js";

const errors = {
  tooLarge: () => Object.assign(new Error("too large"), { statusCode: 413 }),
  badLength: () => Object.assign(new Error("bad length"), { statusCode: 400 }),
  empty: () => Object.assign(new Error("empty"), { statusCode: 400 }),
};

function read(chunks: Array<string | Buffer>, limit = 1024, contentLength = Number.NaN) {
  return new Promise<{ error: (Error & { statusCode?: number }) | null; body?: unknown }>((resolve) => {
    readJsonBody(
      Readable.from(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c))),
      { limit, contentLength, shape: jsonShapeLimits(100), errors },
      (error, body) => resolve({ error: error as (Error & { statusCode?: number }) | null, body }),
    );
  });
}

describe("readJsonBody", () => {
  it("parses a body split anywhere, even inside a multi-byte character", async () => {
    const text = JSON.stringify({ model: "m", content: "héllo ✓" });
    const bytes = Buffer.from(text);
    const at = bytes.indexOf(0xe2) + 1;
    const { error, body } = await read([bytes.subarray(0, at), bytes.subarray(at)], 1024, bytes.length);
    expect(error).toBeNull();
    expect(body).toEqual({ model: "m", content: "héllo ✓" });
  });

  it("refuses what is too large, cut short, empty, not JSON or too deep", async () => {
    expect((await read(["{}"], 1024, 4096)).error?.message).toBe("too large");
    expect((await read(["x".repeat(600), "x".repeat(600)], 1024)).error?.message).toBe("too large");
    expect((await read(['{"a":1}'], 1024, 100)).error?.message).toBe("bad length");
    expect((await read([], 1024)).error?.message).toBe("empty");
    expect((await read(["{nope"], 1024)).error?.statusCode).toBe(400);
    expect((await read(["[".repeat(80) + "]".repeat(80)], 1024)).error?.message).toMatch(/nests/);
  });

  it("refuses prototype keys as Fastify's guard did", async () => {
    expect((await read(['{"a":{"__proto__":{"x":1}}}'])).error?.statusCode).toBe(400);
    expect((await read(['[{"constructor":{"prototype":{}}}]'])).error?.statusCode).toBe(400);
    expect(() => assertNoPrototypeKeys({ constructor: "a string is fine", nested: [{ a: 1 }] })).not.toThrow();
  });
});
