import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { compileJsonSchema, SchemaCompileError, SchemaCompiler } from "./compile.js";
import { CORPUS } from "./corpus.js";
import { compileSchema, ignoredHeader } from "./index.js";
import { sampleGrammar, seededRandom } from "./sample.js";

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

/** Samples from the grammar the compiler built; each sample must parse and validate. */
function samples(schema: unknown, count = 300, seed = 1): string[] {
  const compiler = new SchemaCompiler(schema);
  const root = compiler.compile(schema);
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => sampleGrammar(compiler.grammar, root, random));
}

function expectAllValid(schema: Record<string, unknown>, count = 300) {
  const validate = ajv.compile(schema);
  for (const text of samples(schema, count)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`not JSON: ${text}`);
    }
    if (!validate(value)) throw new Error(`invalid: ${text} ${JSON.stringify(validate.errors)}`);
  }
}

describe("every sample of the grammar validates", () => {
  for (const { name, schema } of CORPUS) {
    it(name, () => {
      const { ignored } = compileJsonSchema(schema, { strict: true });
      expect(ignored).toEqual([]);
      expectAllValid(schema);
    });
  }
});

describe("integers: exact digit ranges", () => {
  const all = (schema: Record<string, unknown>) => new Set(samples(schema, 3000).map(Number));
  it("covers exactly [3, 42]", () => {
    const seen = all({ type: "integer", minimum: 3, maximum: 42 });
    expect(Math.min(...seen)).toBe(3);
    expect(Math.max(...seen)).toBe(42);
    expect(seen.size).toBe(40);
  });
  it("exclusive bounds on both sides of zero", () => {
    const seen = all({ type: "integer", exclusiveMinimum: -3, exclusiveMaximum: 2 });
    expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1]);
  });
  it("draft-04 boolean exclusive bounds", () => {
    const seen = all({ type: "integer", minimum: 1, exclusiveMinimum: true, maximum: 4, exclusiveMaximum: true });
    expect([...seen].sort()).toEqual([2, 3]);
  });
  it("never writes -0 or leading zeros", () => {
    for (const text of samples({ type: "integer", minimum: -50, maximum: 50 }, 2000)) expect(text).toMatch(/^(0|-?[1-9]\d*)$/);
  });
  it("many ranges sampled against their bounds", () => {
    const random = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const a = Math.floor((random() - 0.5) * 20000);
      const b = a + Math.floor(random() * 5000);
      for (const text of samples({ type: "integer", minimum: a, maximum: b }, 50, i)) {
        const n = Number(text);
        expect(n >= a && n <= b, `${text} in [${a}, ${b}]`).toBe(true);
      }
    }
  });
  it("multipleOf between bounds lists the multiples", () => {
    const seen = all({ type: "integer", minimum: -10, maximum: 10, multipleOf: 4 });
    expect([...seen].sort((a, b) => a - b)).toEqual([-8, -4, 0, 4, 8]);
  });
});

describe("numbers", () => {
  it("honours fractional bounds exactly", () => {
    const random = seededRandom(3);
    for (let i = 0; i < 100; i++) {
      const a = Math.round((random() - 0.5) * 2000) / 100;
      const b = a + Math.round(random() * 500) / 1000;
      for (const text of samples({ type: "number", minimum: a, maximum: b }, 40, i)) {
        const n = Number(text);
        expect(n >= a && n <= b, `${text} in [${a}, ${b}]`).toBe(true);
        expect(text).toMatch(/^-?\d+(\.\d{1,6})?$/);
      }
    }
  });
  it("exclusive bounds exclude the bound itself", () => {
    for (const text of samples({ type: "number", exclusiveMinimum: 1, exclusiveMaximum: 2 }, 2000)) {
      expect(Number(text)).toBeGreaterThan(1);
      expect(Number(text)).toBeLessThan(2);
    }
  });
  it("rejects bounds that leave nothing", () => {
    expect(() => compileJsonSchema({ type: "number", exclusiveMinimum: 1, maximum: 1 })).toThrow(SchemaCompileError);
  });
});

describe("strings", () => {
  it("counts escapes as one character", () => {
    for (const text of samples({ type: "string", minLength: 3, maxLength: 3 }, 500))
      expect([...(JSON.parse(text) as string)].length).toBe(3);
  });
  it("escapes quote and backslash that a pattern allows", () => {
    const out = samples({ type: "string", pattern: '^["\\\\]{2}$' }, 200);
    expect(new Set(out.map((t) => JSON.parse(t)))).toEqual(new Set(['""', '"\\', '\\"', "\\\\"]));
  });
  it("unanchored patterns allow text around the match", () => {
    expectAllValid({ type: "string", pattern: "ab+" });
  });
  it("a pattern outside the regular subset is a strict error, else reported", () => {
    for (const pattern of ["^(a)\\1$", "^(?=a)a$", "\\bword", "a^b"]) {
      expect(() => compileJsonSchema({ type: "string", pattern }, { strict: true })).toThrow(/pattern/);
      expect(compileJsonSchema({ type: "string", pattern }).ignored.map((i) => i.path)).toEqual(["#/pattern"]);
    }
  });
  it("an invalid regular expression is an error even without strict", () => {
    expect(() => compileJsonSchema({ type: "string", pattern: "[a-" })).toThrow(SchemaCompileError);
  });
  it("an unknown format is reported", () => {
    expect(compileJsonSchema({ type: "string", format: "credit-card" }).ignored[0]?.keyword).toBe("format");
  });
});

describe("objects", () => {
  it("keeps the properties in the order given and may leave optional ones out", () => {
    const out = samples(
      { type: "object", properties: { z: { const: 1 }, a: { const: 2 }, m: { const: 3 } }, required: ["a"] },
      400,
    );
    const shapes = new Set(out.map((t) => Object.keys(JSON.parse(t)).join(",")));
    expect(shapes).toEqual(new Set(["a", "z,a", "a,m", "z,a,m"]));
  });
  it("additional property names are never a listed one", () => {
    const schema = {
      type: "object",
      properties: { a: { type: "integer", minimum: 0, maximum: 1 }, ab: { type: "null" } },
      additionalProperties: { type: "boolean" },
    };
    expectAllValid(schema, 1000);
    for (const text of samples(schema, 500)) {
      const keys = [...text.matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)].map((m) => m[1]);
      expect(keys.filter((k) => k === "a").length).toBeLessThanOrEqual(1);
      expect(keys.filter((k) => k === "ab").length).toBeLessThanOrEqual(1);
    }
  });
});

describe("unsupported keywords", () => {
  const schema = {
    type: "object",
    properties: { tags: { type: "array", items: { type: "string" }, uniqueItems: true } },
    not: { required: ["x"] },
  };
  it("are reported with their paths", () => {
    const { ignored } = compileJsonSchema(schema);
    expect(ignored.map((i) => i.path).sort()).toEqual(["#/not", "#/properties/tags/uniqueItems"]);
    expect(ignoredHeader(ignored)).toBe("#/not, #/properties/tags/uniqueItems");
  });
  it("fail under strict, naming keyword and path", () => {
    try {
      compileJsonSchema(schema, { strict: true });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SchemaCompileError);
      expect((error as SchemaCompileError).keyword).toBe("not");
      expect((error as Error).message).toContain("#/not");
    }
  });
  it("annotations are not reported", () => {
    expect(
      compileJsonSchema({ type: "string", title: "t", description: "d", examples: ["x"], default: "x", $schema: "x" }).ignored,
    ).toEqual([]);
  });
});

describe("malformed schemas", () => {
  it.each([
    [{ type: "strnig" }],
    [{ $ref: "#/$defs/missing" }],
    [{ $ref: "https://example.com/schema.json" }],
    [{ type: "string", minLength: 5, maxLength: 2 }],
    [{ enum: [] }],
    [{ allOf: [{ type: "string" }, { type: "integer" }] }],
    [false],
    [[1, 2]],
  ])("%j is an error", (schema) => {
    expect(() => compileJsonSchema(schema)).toThrow(SchemaCompileError);
  });
});

describe("size and speed", () => {
  it("long lengths stay within llama.cpp's repetition limit", () => {
    for (const schema of [
      { type: "string", minLength: 4096 },
      { type: "string", minLength: 10, maxLength: 5000 },
      { type: "array", items: { type: "null" }, minItems: 2500, maxItems: 2600 },
    ]) {
      const { gbnf } = compileJsonSchema(schema);
      const counts = [...gbnf.matchAll(/\{(\d+)(?:,(\d*))?\}/g)].flatMap((m) => [Number(m[1]), Number(m[2] || 0)]);
      expect(Math.max(...counts)).toBeLessThanOrEqual(2000);
      expectAllValid(schema, 20);
    }
  });
  it("a 30 000-value enum compiles fast into a bounded grammar", () => {
    const values = Array.from({ length: 30_000 }, (_, i) => `value-${i}-${(i * 7919) % 1000}`);
    const started = performance.now();
    const { gbnf } = compileJsonSchema({ enum: values });
    const ms = performance.now() - started;
    // Generous: the test machines are shared (about 0.3 s when idle).
    expect(ms).toBeLessThan(2500);
    // The trie shares prefixes: smaller than the values written out.
    expect(gbnf.length).toBeLessThan(values.join("").length * 1.5);
    expectAllValid({ enum: values.slice(0, 50) });
  });
  it("a deep $ref chain compiles fast", () => {
    const $defs: Record<string, unknown> = { d0: { type: "integer", minimum: 0, maximum: 9 } };
    for (let i = 1; i < 200; i++)
      $defs[`d${i}`] = {
        type: "object",
        properties: { next: { $ref: `#/$defs/d${i - 1}` } },
        required: ["next"],
        additionalProperties: false,
      };
    const started = performance.now();
    compileJsonSchema({ $ref: "#/$defs/d199", $defs });
    expect(performance.now() - started).toBeLessThan(1000);
  });
  it("caches compiled schemas", () => {
    const schema = { type: "string", maxLength: 9 };
    expect(compileSchema(schema)).toBe(compileSchema(schema));
  });
});
