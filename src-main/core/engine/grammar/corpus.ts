/**
 * Schemas the compiler is tested on (unit tests sample the grammar; the
 * integration test generates with real models). `bounded`: every document it
 * allows is short, so generation must finish within a small token budget.
 */
export interface CorpusSchema {
  name: string;
  schema: Record<string, unknown>;
  bounded: boolean;
}

const big = Array.from({ length: 1000 }, (_, i) => `item-${i.toString(36)}`);

export const CORPUS: CorpusSchema[] = [
  { name: "enum", schema: { enum: ["red", "green", "blue"] }, bounded: true },
  { name: "enum of any JSON value", schema: { enum: [1, "one", null, true, [1, 2], { a: 1 }] }, bounded: true },
  { name: "unicode enum", schema: { enum: ["日本", "Ελλάδα", 'naïve "quoted"', "emoji 😀"] }, bounded: true },
  { name: "large enum (1000)", schema: { type: "string", enum: big }, bounded: true },
  { name: "const", schema: { const: { ok: true, n: 3 } }, bounded: true },
  { name: "string min/max length", schema: { type: "string", minLength: 2, maxLength: 5 }, bounded: true },
  { name: "string longer than one repetition block", schema: { type: "string", minLength: 1, maxLength: 2500 }, bounded: false },
  {
    name: "integer 3..42",
    schema: {
      type: "object",
      properties: { n: { type: "integer", minimum: 3, maximum: 42 } },
      required: ["n"],
      additionalProperties: false,
    },
    bounded: true,
  },
  { name: "integer exclusive bounds", schema: { type: "integer", exclusiveMinimum: -5, exclusiveMaximum: 5 }, bounded: true },
  { name: "integer negative range", schema: { type: "integer", minimum: -1234, maximum: -17 }, bounded: true },
  { name: "integer wide range", schema: { type: "integer", minimum: -99999, maximum: 123456 }, bounded: true },
  { name: "integer min only", schema: { type: "integer", minimum: 250 }, bounded: true },
  { name: "integer max only", schema: { type: "integer", maximum: -3 }, bounded: true },
  { name: "integer multipleOf", schema: { type: "integer", minimum: 0, maximum: 1000, multipleOf: 7 }, bounded: true },
  { name: "number bounds", schema: { type: "number", minimum: -2.5, maximum: 3.25 }, bounded: true },
  {
    name: "number exclusive fraction bounds",
    schema: { type: "number", exclusiveMinimum: 0.1, exclusiveMaximum: 0.3 },
    bounded: true,
  },
  { name: "number open", schema: { type: "number" }, bounded: true },
  { name: "number multipleOf 5", schema: { type: "number", minimum: 0, maximum: 100, multipleOf: 5 }, bounded: true },
  { name: "pattern", schema: { type: "string", pattern: "^[A-Z]{3}-[0-9]{2}$" }, bounded: true },
  {
    name: "pattern alternation and groups",
    schema: { type: "string", pattern: "^(?:ab|c[de]+)?x{2,3}(\\d|_)\\.$" },
    bounded: false,
  },
  { name: "pattern with escapes", schema: { type: "string", pattern: '^["\\\\a]{1,4}\\u00e9?$' }, bounded: true },
  { name: "format date", schema: { type: "string", format: "date" }, bounded: true },
  { name: "format time", schema: { type: "string", format: "time" }, bounded: true },
  { name: "format date-time", schema: { type: "string", format: "date-time" }, bounded: true },
  { name: "format duration", schema: { type: "string", format: "duration" }, bounded: true },
  { name: "format email", schema: { type: "string", format: "email" }, bounded: true },
  { name: "format hostname", schema: { type: "string", format: "hostname" }, bounded: true },
  { name: "format ipv4", schema: { type: "string", format: "ipv4" }, bounded: true },
  { name: "format ipv6", schema: { type: "string", format: "ipv6" }, bounded: true },
  { name: "format uuid", schema: { type: "string", format: "uuid" }, bounded: true },
  { name: "format uri", schema: { type: "string", format: "uri" }, bounded: true },
  { name: "array min/max items", schema: { type: "array", items: { type: "boolean" }, minItems: 2, maxItems: 4 }, bounded: true },
  {
    name: "tuple (prefixItems, items false)",
    schema: { type: "array", prefixItems: [{ type: "integer", minimum: 0, maximum: 9 }, { enum: ["a", "b"] }], items: false },
    bounded: true,
  },
  {
    name: "tuple with rest",
    schema: {
      type: "array",
      prefixItems: [{ const: "head" }],
      items: { type: "integer", minimum: 0, maximum: 3 },
      minItems: 2,
      maxItems: 3,
    },
    bounded: true,
  },
  {
    name: "optional properties",
    schema: {
      type: "object",
      properties: { a: { type: "boolean" }, b: { type: "null" }, c: { enum: [1, 2] } },
      required: ["b"],
      additionalProperties: false,
    },
    bounded: true,
  },
  {
    name: "all optional properties",
    schema: { type: "object", properties: { x: { type: "boolean" }, y: { type: "boolean" } } },
    bounded: true,
  },
  {
    name: "additionalProperties schema",
    schema: {
      type: "object",
      properties: { id: { type: "integer", minimum: 1, maximum: 9 } },
      required: ["id"],
      additionalProperties: { type: "boolean" },
    },
    bounded: false,
  },
  { name: "nullable (type array)", schema: { type: ["string", "null"], maxLength: 3 }, bounded: true },
  { name: "nullable (OpenAPI)", schema: { type: "integer", nullable: true, minimum: 0, maximum: 5 }, bounded: true },
  {
    name: "anyOf of objects",
    schema: {
      anyOf: [
        {
          type: "object",
          properties: { kind: { const: "a" }, n: { type: "integer", minimum: 0, maximum: 3 } },
          required: ["kind", "n"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: { kind: { const: "b" }, ok: { type: "boolean" } },
          required: ["kind", "ok"],
          additionalProperties: false,
        },
      ],
    },
    bounded: true,
  },
  { name: "oneOf", schema: { oneOf: [{ type: "boolean" }, { type: "null" }] }, bounded: true },
  {
    // What zod's z.toJSONSchema writes for a discriminatedUnion: exclusive through the const.
    name: "oneOf tagged union",
    schema: {
      oneOf: [
        {
          type: "object",
          properties: { kind: { type: "string", const: "move" }, steps: { type: "integer", minimum: 1, maximum: 9 } },
          required: ["kind", "steps"],
          additionalProperties: false,
        },
        {
          type: "object",
          properties: { kind: { type: "string", const: "say" }, text: { type: "string", maxLength: 5 } },
          required: ["kind", "text"],
          additionalProperties: false,
        },
      ],
    },
    bounded: true,
  },
  {
    name: "allOf merged",
    schema: {
      allOf: [
        { type: "object", properties: { a: { type: "integer", minimum: 0 } }, required: ["a"] },
        { properties: { a: { maximum: 10 }, b: { type: "boolean" } }, required: ["b"], additionalProperties: false },
      ],
    },
    bounded: true,
  },
  {
    name: "$defs/$ref",
    schema: {
      type: "object",
      properties: { p: { $ref: "#/$defs/point" }, q: { $ref: "#/definitions/flag" } },
      required: ["p", "q"],
      additionalProperties: false,
      $defs: {
        point: {
          type: "object",
          properties: { x: { type: "integer", minimum: -9, maximum: 9 }, y: { type: "integer", minimum: -9, maximum: 9 } },
          required: ["x", "y"],
          additionalProperties: false,
        },
      },
      definitions: { flag: { type: "boolean" } },
    },
    bounded: true,
  },
  {
    name: "recursive $ref",
    schema: {
      $ref: "#/$defs/node",
      $defs: {
        node: {
          type: "object",
          properties: {
            v: { type: "integer", minimum: 0, maximum: 9 },
            kids: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 },
          },
          required: ["v"],
          additionalProperties: false,
        },
      },
    },
    bounded: false,
  },
  {
    name: "nested object with bounded integer",
    schema: {
      type: "object",
      properties: {
        user: {
          type: "object",
          properties: {
            age: { type: "integer", minimum: 18, maximum: 99 },
            name: { type: "string", minLength: 1, maxLength: 8 },
          },
          required: ["age", "name"],
          additionalProperties: false,
        },
      },
      required: ["user"],
      additionalProperties: false,
    },
    bounded: true,
  },
  {
    name: "combined",
    schema: {
      type: "object",
      properties: {
        id: { type: "string", format: "uuid" },
        tags: { type: "array", items: { enum: ["x", "y", "z"] }, maxItems: 3 },
        when: { type: "string", format: "date-time" },
        score: { type: "number", minimum: 0, maximum: 1 },
        code: { type: "string", pattern: "^[A-Z]{2}[0-9]$" },
      },
      required: ["id", "tags", "when", "score", "code"],
      additionalProperties: false,
    },
    bounded: true,
  },
];
