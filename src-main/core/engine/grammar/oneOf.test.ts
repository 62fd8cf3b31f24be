import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { compileJsonSchema, SchemaCompileError, SchemaCompiler } from "./compile.js";
import { sampleGrammar, seededRandom } from "./sample.js";

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

/** Every sample of the compiled grammar must validate against the schema (oneOf included). */
function expectSamplesValid(schema: Record<string, unknown>, count = 400) {
  const compiler = new SchemaCompiler(schema, { strict: true });
  const root = compiler.compile(schema);
  const validate = ajv.compile(schema);
  const random = seededRandom(5);
  for (let i = 0; i < count; i++) {
    const text = sampleGrammar(compiler.grammar, root, random);
    if (!validate(JSON.parse(text))) throw new Error(`invalid: ${text} ${JSON.stringify(validate.errors)}`);
  }
}

const obj = (properties: Record<string, unknown>, required: string[], extra?: false) => ({
  type: "object",
  properties,
  required,
  ...(extra === false ? { additionalProperties: false } : {}),
});

/** Branches that no value satisfies twice: oneOf is exact as anyOf, under strict too. */
const DISJOINT: [string, Record<string, unknown>][] = [
  ["different types", { oneOf: [{ type: "string", maxLength: 4 }, { type: "integer" }, { type: "null" }] }],
  [
    "a const discriminator behind $ref (pydantic's tagged union)",
    {
      $defs: {
        Cat: obj({ pet_type: { const: "cat", type: "string" }, meows: { type: "integer", minimum: 0, maximum: 9 } }, [
          "pet_type",
          "meows",
        ]),
        Dog: obj({ pet_type: { enum: ["dog", "wolf"] }, barks: { type: "boolean" } }, ["pet_type", "barks"]),
      },
      oneOf: [{ $ref: "#/$defs/Cat" }, { $ref: "#/$defs/Dog" }],
      discriminator: { propertyName: "pet_type" },
    },
  ],
  [
    "zod's discriminatedUnion (z.toJSONSchema)",
    z.toJSONSchema(
      z.discriminatedUnion("kind", [
        z.object({ kind: z.literal("move"), steps: z.int().min(1).max(9) }),
        z.object({ kind: z.literal("say"), text: z.string().max(5) }),
        z.object({ kind: z.literal("stop") }),
      ]),
    ) as Record<string, unknown>,
  ],
  [
    "a discriminator required beside the oneOf",
    {
      type: "object",
      required: ["kind"],
      oneOf: [
        { properties: { kind: { const: "a" }, x: { type: "integer", maximum: 3 } }, additionalProperties: false },
        { properties: { kind: { const: "b" }, y: { type: "string", maxLength: 3 } }, additionalProperties: false },
      ],
    },
  ],
  [
    "one requires a property the other forbids",
    {
      oneOf: [
        obj({ circle: { type: "number", minimum: 0, maximum: 5 } }, ["circle"], false),
        obj({ square: { type: "number", minimum: 0, maximum: 5 } }, ["square"], false),
      ],
    },
  ],
  [
    "integer ranges that do not meet",
    {
      oneOf: [
        { type: "integer", maximum: 9 },
        { type: "integer", minimum: 10 },
      ],
    },
  ],
  [
    "number ranges that touch at an exclusive end",
    {
      oneOf: [
        { type: "number", minimum: -1, maximum: 2 },
        { type: "number", exclusiveMinimum: 2, maximum: 4 },
      ],
    },
  ],
  [
    "string lengths",
    {
      oneOf: [
        { type: "string", maxLength: 3 },
        { type: "string", minLength: 4, maxLength: 6 },
      ],
    },
  ],
  [
    "array lengths",
    {
      oneOf: [
        { type: "array", maxItems: 1 },
        { type: "array", items: { type: "integer" }, minItems: 2, maxItems: 3 },
      ],
    },
  ],
  ["many described constants", { oneOf: Array.from({ length: 300 }, (_, i) => ({ const: `v${i}`, description: `value ${i}` })) }],
  ["constants equal only as numbers differ", { oneOf: [{ const: 1 }, { const: "1" }, { enum: [[1], { a: 1 }] }] }],
  [
    "a branch that is itself a choice",
    {
      oneOf: [
        { anyOf: [{ type: "boolean" }, { type: "null" }] },
        { oneOf: [{ type: "string", maxLength: 2 }, { type: "integer" }] },
      ],
    },
  ],
];

/** Branches a value may satisfy twice: the grammar cannot enforce oneOf. */
const OVERLAPPING: [string, Record<string, unknown>, unknown][] = [
  ["a narrower copy of a branch", { oneOf: [{ type: "string" }, { type: "string", maxLength: 3 }] }, "ab"],
  ["integer inside number", { oneOf: [{ type: "integer" }, { type: "number" }] }, 1],
  [
    "objects without required properties",
    { oneOf: [obj({ a: { type: "string" } }, []), obj({ b: { type: "string" } }, [])] },
    {},
  ],
  ["a shared constant", { oneOf: [{ const: 1 }, { enum: [2, 1] }] }, 1],
  [
    "equal objects written in another key order",
    { oneOf: [{ const: { a: 1, b: 2 } }, { const: { b: 2, a: 1 } }] },
    { a: 1, b: 2 },
  ],
  // Without `type` a keyword constrains only its own kind: any string is valid against `minimum`.
  ["a branch without a type", { oneOf: [{ minimum: 3 }, { type: "string" }] }, "x"],
  [
    "ranges that share an end",
    {
      oneOf: [
        { type: "integer", maximum: 5 },
        { type: "integer", minimum: 5 },
      ],
    },
    5,
  ],
];

describe("oneOf whose branches provably exclude each other: enforced exactly", () => {
  for (const [name, schema] of DISJOINT) {
    it(name, () => {
      expect(compileJsonSchema(schema, { strict: true }).ignored).toEqual([]);
      expectSamplesValid(schema);
    });
  }
});

describe("oneOf whose branches may overlap", () => {
  for (const [name, schema, witness] of OVERLAPPING) {
    it(`${name}: refused under strict, reported otherwise`, () => {
      // The refusal is not spurious: the witness satisfies two branches, so it fails oneOf.
      expect(ajv.validate({ anyOf: schema.oneOf }, witness)).toBe(true);
      expect(ajv.validate(schema, witness)).toBe(false);
      let error: unknown;
      try {
        compileJsonSchema(schema, { strict: true });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SchemaCompileError);
      expect((error as SchemaCompileError).keyword).toBe("oneOf");
      expect((error as SchemaCompileError).path).toBe("#/oneOf");
      expect((error as Error).message).toMatch(/'oneOf' at '#\/oneOf' cannot be enforced: branches \d and \d may both match/);
      const { ignored } = compileJsonSchema(schema);
      expect(ignored.map((i) => `${i.keyword} ${i.path}`)).toEqual(["oneOf #/oneOf"]);
    });
  }

  it("a nested oneOf is reported at its own path", () => {
    const schema = obj({ v: { oneOf: [{ type: "number" }, { type: "integer" }] } }, ["v"], false);
    expect(compileJsonSchema(schema).ignored.map((i) => i.path)).toEqual(["#/properties/v/oneOf"]);
  });

  it("proving never reports the branches' own left-out keywords twice, nor refuses them early", () => {
    const schema = { oneOf: [{ type: "array", uniqueItems: true }, { type: "string" }] };
    expect(compileJsonSchema(schema).ignored.map((i) => i.path)).toEqual(["#/oneOf/0/uniqueItems"]);
    expect(() => compileJsonSchema(schema, { strict: true })).toThrow(/uniqueItems/);
  });
});
