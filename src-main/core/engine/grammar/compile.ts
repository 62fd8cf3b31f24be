/**
 * JSON Schema → GBNF. Every string the grammar accepts is a JSON text that
 * validates against the schema; where a keyword cannot be enforced that way it is
 * reported (with its location) and, under `strict`, the compile fails instead.
 *
 * Choices made for a sampler rather than for a validator:
 * - the grammar produces a subset of the valid documents: no extra object
 *   properties unless `additionalProperties` asks for them, no exponents, at most
 *   `fractionDigits` digits after the point, formats in their strict readings;
 * - whitespace is bounded, so a weak model cannot spend its budget on spaces.
 */
import { DisjointnessProver } from "./disjoint.js";
import { FORMAT_LENGTHS, FORMATS } from "./formats.js";
import { alt, type CharRange, cls, EMPTY, type Expr, Grammar, isNever, lit, NEVER, opt, ref, rep, seq } from "./gbnf.js";
import { decimalRange, integerRange, MAX_INTEGER_DIGITS, scaled, toDecimal } from "./numbers.js";
import { compilePattern, PatternError } from "./regex.js";

export interface CompileOptions {
  /** Refuse (throw) instead of leaving out a keyword the grammar cannot enforce. Defaults to false. */
  strict?: boolean;
  /** Most digits after the decimal point in a `number`. Defaults to 6. */
  fractionDigits?: number;
  /** Rules go into this grammar (to compose several schemas into one); defaults to a new one. */
  grammar?: Grammar;
}

/** A keyword the grammar does not enforce, and where it is (a JSON Pointer into the schema). */
export interface SchemaIssue {
  keyword: string;
  path: string;
  reason: string;
}

/** The schema cannot be compiled (malformed, unsatisfiable, or a keyword refused under strict). */
export class SchemaCompileError extends Error {
  constructor(
    message: string,
    readonly keyword: string,
    readonly path: string,
  ) {
    super(message);
  }
}

export interface CompiledSchema {
  gbnf: string;
  /** Keywords left out (never under strict). */
  ignored: SchemaIssue[];
}

type Schema = Record<string, unknown>;

/** Keywords that only describe, so leaving them out changes nothing a validator checks. */
const ANNOTATIONS = new Set([
  "title",
  "description",
  "$comment",
  "examples",
  "default",
  "readOnly",
  "writeOnly",
  "deprecated",
  "$schema",
  "$id",
  "$anchor",
  "$defs",
  "definitions",
  "contentEncoding",
  "contentMediaType",
  "contentSchema",
  "discriminator",
  "strict",
  "name",
]);

/** Keywords no grammar here enforces. */
const UNSUPPORTED = [
  "not",
  "if",
  "then",
  "else",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "propertyNames",
  "contains",
  "minContains",
  "maxContains",
  "unevaluatedItems",
  "$dynamicRef",
  "$recursiveRef",
];

const TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"] as const;
type TypeName = (typeof TYPES)[number];

const DIGIT = cls([[0x30, 0x39]]);
/** A character of a JSON string: plain, or an escape (no lone surrogates, so lengths count as validators count). */
const STRING_CHAR = alt(
  cls(
    [
      [0x00, 0x1f],
      [0x22, 0x22],
      [0x5c, 0x5c],
    ],
    true,
  ),
  seq(
    lit("\\"),
    alt(
      cls([
        [0x22, 0x22],
        [0x2f, 0x2f],
        [0x5c, 0x5c],
        [0x62, 0x62],
        [0x66, 0x66],
        [0x6e, 0x6e],
        [0x72, 0x72],
        [0x74, 0x74],
      ]),
      seq(
        lit("u"),
        alt(
          seq(
            cls([
              [0x30, 0x39],
              [0x61, 0x63],
              [0x65, 0x66],
              [0x41, 0x43],
              [0x45, 0x46],
            ]),
            rep(
              cls([
                [0x30, 0x39],
                [0x61, 0x66],
                [0x41, 0x46],
              ]),
              3,
              3,
            ),
          ),
          seq(
            cls([
              [0x64, 0x64],
              [0x44, 0x44],
            ]),
            cls([[0x30, 0x37]]),
            rep(
              cls([
                [0x30, 0x39],
                [0x61, 0x66],
                [0x41, 0x46],
              ]),
              2,
              2,
            ),
          ),
        ),
      ),
    ),
  ),
);
/** Characters of an extra property's name: plain ones only, so no escape can spell a listed name. */
const PLAIN_CHAR_EXCLUDED: CharRange[] = [
  [0x00, 0x1f],
  [0x22, 0x22],
  [0x5c, 0x5c],
];
const MAX_EXTRA_KEY_LENGTH = 32;
/** Most values an enumerated `multipleOf` may expand to. */
const MAX_ENUMERATED_MULTIPLES = 10_000;
/** Most alternatives `anyOf` × `anyOf` (in `allOf`) may multiply to. */
const MAX_CROSS_PRODUCT = 64;
/** Most `oneOf` branches compared pair by pair for exclusivity (finite ones are compared at any count). */
const MAX_ONE_OF_PAIRWISE = 128;

const isObject = (v: unknown): v is Schema => typeof v === "object" && v !== null && !Array.isArray(v);
const escapePointer = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");
const child = (path: string, ...parts: (string | number)[]) => `${path}/${parts.map((p) => escapePointer(String(p))).join("/")}`;

/** A trie of texts as one choice per branching point (bounded grammar and fast matching for huge enums). */
function trie(texts: readonly string[]): Expr {
  type Node = { end: boolean; next: Map<string, Node> };
  const root: Node = { end: false, next: new Map() };
  for (const text of texts) {
    let node = root;
    for (const ch of text) {
      let next = node.next.get(ch);
      if (!next) {
        next = { end: false, next: new Map() };
        node.next.set(ch, next);
      }
      node = next;
    }
    node.end = true;
  }
  // Built by hand rather than with seq()/alt(): branches differ in their first character, so
  // there is nothing to flatten or de-duplicate, and huge enums stay cheap.
  const build = (node: Node): Expr => {
    const options: Expr[] = node.end ? [EMPTY] : [];
    for (const [ch, start] of node.next) {
      let text = ch;
      let n = start;
      while (!n.end && n.next.size === 1) {
        const [c, only] = n.next.entries().next().value as [string, Node];
        text += c;
        n = only;
      }
      const head: Expr = { kind: "literal", text };
      if (n.next.size === 0) options.push(head);
      else {
        const rest = build(n);
        options.push({ kind: "sequence", items: rest.kind === "sequence" ? [head, ...rest.items] : [head, rest] });
      }
    }
    return options.length === 1 ? (options[0] as Expr) : { kind: "choice", options };
  };
  return build(root);
}

/** A decimal bound from a schema number, or a SchemaCompileError. */
function numberBound(value: unknown, keyword: string, path: string) {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new SchemaCompileError(`'${keyword}' at '${path}' must be a finite number.`, keyword, path);
  }
  return toDecimal(value);
}

export class SchemaCompiler {
  readonly grammar: Grammar;
  readonly ignored: SchemaIssue[] = [];
  private readonly refRules = new Map<string, string>();
  private readonly strict: boolean;
  private readonly places: number;
  /** Set while proving `oneOf` branches disjoint: that resolving must not report or refuse anything. */
  private quiet = false;

  constructor(
    private readonly root: unknown,
    options: CompileOptions = {},
  ) {
    this.grammar = options.grammar ?? new Grammar();
    this.strict = options.strict ?? false;
    this.places = options.fractionDigits ?? 6;
  }

  /** Reports a keyword the grammar leaves out; under strict that is an error. */
  private skip(keyword: string, path: string, reason: string): void {
    if (this.quiet) return;
    const where = child(path, keyword);
    if (this.strict) {
      throw new SchemaCompileError(
        `JSON schema keyword '${keyword}' at '${where}' cannot be enforced: ${reason}.`,
        keyword,
        where,
      );
    }
    if (!this.ignored.some((i) => i.path === where)) this.ignored.push({ keyword, path: where, reason });
  }

  private fail(message: string, keyword: string, path: string): never {
    throw new SchemaCompileError(message, keyword, path);
  }

  private ws(): Expr {
    return ref(this.grammar.add("ws", alt(EMPTY, lit(" "), seq(lit("\n"), rep(lit(" "), 0, 12)))));
  }

  /** The grammar of any JSON value (for `{}`, `true`, and values nothing constrains). */
  anyValue(): Expr {
    const existing = this.refRules.get("\0any");
    if (existing) return ref(existing);
    const value = this.grammar.reserve("value");
    this.refRules.set("\0any", value);
    const ws = this.ws();
    const str = this.plainString(0, undefined);
    const obj = seq(
      lit("{"),
      ws,
      opt(seq(str, ws, lit(":"), ws, ref(value), rep(seq(lit(","), ws, str, ws, lit(":"), ws, ref(value)), 0, undefined))),
      ws,
      lit("}"),
    );
    const arr = seq(lit("["), ws, opt(seq(ref(value), rep(seq(lit(","), ws, ref(value)), 0, undefined))), ws, lit("]"));
    this.grammar.define(
      value,
      alt(
        ref(this.grammar.add("object", obj)),
        ref(this.grammar.add("array", arr)),
        str,
        this.plainNumber(),
        lit("true"),
        lit("false"),
        lit("null"),
      ),
    );
    return ref(value);
  }

  /** Any JSON object (`json_object` mode). */
  anyObject(): Expr {
    const ws = this.ws();
    const value = this.anyValue();
    const str = this.plainString(0, undefined);
    const member = seq(str, ws, lit(":"), ws, value);
    return ref(
      this.grammar.add("object", seq(lit("{"), ws, opt(seq(member, rep(seq(lit(","), ws, member), 0, undefined))), ws, lit("}"))),
    );
  }

  private plainString(min: number, max: number | undefined): Expr {
    const char = ref(this.grammar.add("char", STRING_CHAR));
    return ref(
      this.grammar.add(
        min === 0 && max === undefined ? "string" : `string-${min}-${max ?? "n"}`,
        seq(lit('"'), rep(char, min, max), lit('"')),
      ),
    );
  }

  private plainNumber(): Expr {
    const integer = alt(lit("0"), seq(cls([[0x31, 0x39]]), rep(DIGIT, 0, MAX_INTEGER_DIGITS - 1)));
    return ref(this.grammar.add("number", seq(opt(lit("-")), integer, opt(seq(lit("."), rep(DIGIT, 1, this.places))))));
  }

  private plainInteger(): Expr {
    return ref(this.grammar.add("integer", integerRange(undefined, undefined)));
  }

  /** Resolves a local JSON Pointer reference (`#`, `#/$defs/x`, `#/definitions/x`, …). */
  private resolve(pointer: string, path: string): unknown {
    if (pointer !== "#" && !pointer.startsWith("#/")) {
      this.fail(`'$ref' at '${path}' must point into this schema ('#/…'); '${pointer}' does not.`, "$ref", path);
    }
    if (pointer === "#") return this.root;
    let node: unknown = this.root;
    for (const raw of pointer.slice(2).split("/")) {
      const key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
      node = Array.isArray(node) ? node[Number(key)] : isObject(node) ? node[key] : undefined;
      if (node === undefined) this.fail(`'$ref' at '${path}' points to '${pointer}', which does not exist.`, "$ref", path);
    }
    return node;
  }

  private refRule(pointer: string, path: string): Expr {
    const existing = this.refRules.get(pointer);
    if (existing) return ref(existing);
    const target = this.resolve(pointer, path);
    const name = this.grammar.reserve(pointer === "#" ? "root-ref" : (pointer.split("/").pop() ?? "ref"));
    this.refRules.set(pointer, name);
    this.grammar.define(name, this.compile(target, pointer === "#" ? "#" : pointer));
    return ref(name);
  }

  /** `schema` as a grammar expression; `path` locates it for error messages. */
  compile(schema: unknown, path = "#"): Expr {
    if (schema === true || (isObject(schema) && Object.keys(schema).length === 0)) return this.anyValue();
    if (schema === false) this.fail(`The schema at '${path}' is false: no value is valid.`, "false", path);
    if (!isObject(schema)) this.fail(`The JSON schema at '${path}' must be an object or a boolean.`, "type", path);
    const s = schema;

    for (const keyword of UNSUPPORTED) if (keyword in s) this.skip(keyword, path, "no grammar can check it");

    if (typeof s.$ref === "string") {
      const rest = Object.fromEntries(
        Object.entries(s).filter(([k]) => k !== "$ref" && !ANNOTATIONS.has(k) && !UNSUPPORTED.includes(k)),
      );
      if (Object.keys(rest).length === 0) return this.refRule(s.$ref, path);
      return this.compile({ allOf: [this.resolve(s.$ref, path), rest] }, path);
    }
    if (Array.isArray(s.allOf)) {
      const { allOf, ...rest } = s;
      let merged: Schema = this.withoutUnsupported(rest);
      (allOf as unknown[]).forEach((part, i) => {
        merged = this.merge(merged, this.deref(part, child(path, "allOf", i)), child(path, "allOf", i));
      });
      return this.compile(merged, path);
    }
    const alternatives = (Array.isArray(s.anyOf) ? "anyOf" : Array.isArray(s.oneOf) ? "oneOf" : undefined) as
      | "anyOf"
      | "oneOf"
      | undefined;
    if (alternatives) {
      const { [alternatives]: list, ...rest } = s;
      const base = this.withoutUnsupported(rest);
      const constraining = Object.keys(base).filter((k) => !ANNOTATIONS.has(k));
      if (alternatives === "oneOf") this.checkExclusive(list as unknown[], base, path);
      const options = (list as unknown[]).map((option, i) => {
        const where = child(path, alternatives, i);
        return constraining.length === 0
          ? this.compile(option, where)
          : this.compile(this.merge(base, this.deref(option, where), where), where);
      });
      return this.nonEmpty(alt(...options), alternatives, path);
    }
    if ("const" in s) return lit(JSON.stringify(s.const));
    if (Array.isArray(s.enum)) {
      const types = this.types(s);
      const values = s.enum.filter((v) => types === undefined || types.some((t) => this.valueHasType(v, t)));
      return this.nonEmpty(values.length ? trie(values.map((v) => JSON.stringify(v))) : NEVER, "enum", path);
    }

    const types = this.types(s) ?? this.inferTypes(s);
    if (types === undefined) return this.anyValue();
    const options = types.map((type) => this.typed(type, s, path));
    return this.nonEmpty(alt(...options), "type", path);
  }

  /**
   * `oneOf` is compiled as `anyOf`, which is exact only when no value satisfies two
   * branches; where that cannot be proved (disjoint.ts) the exclusivity is reported.
   */
  private checkExclusive(branches: readonly unknown[], base: Schema, path: string): void {
    if (branches.length < 2) return;
    const constraining = Object.keys(base).some((k) => !ANNOTATIONS.has(k));
    const withBase = branches.map((b) => (constraining ? { allOf: [base, b] } : b));
    const overlap = this.overlappingBranches(withBase);
    if (!overlap) return;
    this.skip(
      "oneOf",
      path,
      `branches ${overlap[0]} and ${overlap[1]} may both match one value, and a grammar cannot keep a value out of the other branches (enforced exactly: branches of different types, with different const/enum values of a required property, where one requires a property the other forbids, or whose ranges do not meet)`,
    );
  }

  /** Two branches that may share a value, or undefined when all are provably disjoint. */
  private overlappingBranches(branches: readonly unknown[]): [number, number] | undefined {
    this.quiet = true;
    try {
      const prover = new DisjointnessProver({ flatten: (s) => this.flatten(s) });
      // Finite branches (`const`/`enum`, as in a oneOf of described constants) at any count.
      const seen = new Map<string, number>();
      let allFinite = true;
      for (const [i, branch] of branches.entries()) {
        const values = prover.finiteTexts(branch);
        if (!values) {
          allFinite = false;
          break;
        }
        for (const v of values) {
          const other = seen.get(v);
          if (other !== undefined && other !== i) return [other, i];
          seen.set(v, i);
        }
      }
      if (allFinite) return undefined;
      if (branches.length > MAX_ONE_OF_PAIRWISE) return [0, 1];
      for (let i = 0; i < branches.length; i++)
        for (let j = i + 1; j < branches.length; j++) if (!prover.disjoint(branches[i], branches[j])) return [i, j];
      return undefined;
    } finally {
      this.quiet = false;
    }
  }

  /** `$ref` followed and `allOf` merged, for the disjointness prover (throws SchemaCompileError). */
  private flatten(schema: unknown): Schema | boolean {
    if (typeof schema === "boolean") return schema;
    let s = this.deref(schema, "#");
    for (let round = 0; Array.isArray(s.allOf); round++) {
      if (round > 32) this.fail("'allOf' nests too deep.", "allOf", "#");
      const { allOf, ...rest } = s;
      let merged: Schema = rest;
      for (const part of allOf as unknown[]) {
        if (part === true) continue;
        merged = this.merge(merged, this.deref(part, "#"), "#");
      }
      s = merged;
    }
    return s;
  }

  private nonEmpty(expr: Expr, keyword: string, path: string): Expr {
    if (isNever(expr)) this.fail(`The schema at '${path}' admits no value ('${keyword}').`, keyword, path);
    return expr;
  }

  private withoutUnsupported(s: Schema): Schema {
    return Object.fromEntries(Object.entries(s).filter(([k]) => !UNSUPPORTED.includes(k)));
  }

  private deref(schema: unknown, path: string): Schema {
    let node = schema;
    for (let depth = 0; isObject(node) && typeof node.$ref === "string"; depth++) {
      if (depth > 32) this.fail(`'$ref' at '${path}' does not lead to a schema.`, "$ref", path);
      const { $ref, ...rest } = node;
      const target = this.resolve($ref as string, path);
      node = Object.keys(rest).length ? this.merge(this.deref(target, path), rest, path) : target;
    }
    if (node === true) return {};
    if (node === false) this.fail(`The schema at '${path}' is false: no value is valid.`, "false", path);
    if (!isObject(node)) this.fail(`The JSON schema at '${path}' must be an object or a boolean.`, "type", path);
    return node;
  }

  /** Two schemas that must both hold, as one (for `allOf` and for keywords beside `anyOf`/`$ref`). */
  private merge(a: Schema, b: Schema, path: string): Schema {
    const out: Schema = { ...a };
    for (const [key, value] of Object.entries(b)) {
      if (!(key in out) || ANNOTATIONS.has(key)) {
        if (!(key in out)) out[key] = value;
        continue;
      }
      const mine = out[key];
      switch (key) {
        case "type": {
          const left = Array.isArray(mine) ? mine : [mine];
          const right = Array.isArray(value) ? value : [value];
          const both = left.filter((t) => right.includes(t) || (t === "integer" && right.includes("number")));
          for (const t of right)
            if (t === "integer" && left.includes("number") && !both.includes("integer")) both.push("integer");
          if (both.length === 0) this.fail(`'allOf' at '${path}' asks for types that never meet.`, "allOf", path);
          out.type = both.length === 1 ? both[0] : both;
          break;
        }
        case "properties": {
          const props: Schema = { ...(mine as Schema) };
          for (const [name, sub] of Object.entries(value as Schema)) {
            props[name] =
              name in props
                ? this.merge(this.deref(props[name], path), this.deref(sub, path), child(path, "properties", name))
                : sub;
          }
          out.properties = props;
          break;
        }
        case "required":
          out.required = [...new Set([...(mine as string[]), ...(value as string[])])];
          break;
        case "minimum":
        case "exclusiveMinimum":
        case "minLength":
        case "minItems":
        case "minProperties":
          out[key] = typeof mine === "number" && typeof value === "number" ? Math.max(mine, value) : value;
          break;
        case "maximum":
        case "exclusiveMaximum":
        case "maxLength":
        case "maxItems":
        case "maxProperties":
          out[key] = typeof mine === "number" && typeof value === "number" ? Math.min(mine, value) : value;
          break;
        case "enum": {
          const keep = new Set((value as unknown[]).map((v) => JSON.stringify(v)));
          out.enum = (mine as unknown[]).filter((v) => keep.has(JSON.stringify(v)));
          break;
        }
        case "const":
          if (JSON.stringify(mine) !== JSON.stringify(value))
            this.fail(`'allOf' at '${path}' asks for two different constants.`, "const", path);
          break;
        case "items":
        case "additionalProperties":
          if (mine === false || value === false) out[key] = false;
          else if (isObject(mine) && isObject(value))
            out[key] = this.merge(this.deref(mine, path), this.deref(value, path), child(path, key));
          else out[key] = isObject(mine) ? mine : value;
          break;
        case "anyOf":
        case "oneOf": {
          const left = mine as unknown[];
          const right = value as unknown[];
          if (left.length * right.length > MAX_CROSS_PRODUCT) {
            this.skip(key, path, `combining two lists of alternatives would make ${left.length * right.length}`);
            break;
          }
          out[key] = left.flatMap((l) => right.map((r) => ({ allOf: [l, r] })));
          break;
        }
        case "allOf":
          out.allOf = [...(mine as unknown[]), ...(value as unknown[])];
          break;
        default:
          if (JSON.stringify(mine) !== JSON.stringify(value))
            this.skip(key, path, "two different values for it in 'allOf' cannot be merged");
      }
    }
    return out;
  }

  private types(s: Schema): TypeName[] | undefined {
    if (s.type === undefined) return undefined;
    const list = Array.isArray(s.type) ? s.type : [s.type];
    for (const t of list) {
      if (!TYPES.includes(t as TypeName)) this.fail(`Unknown JSON schema type ${JSON.stringify(t)}.`, "type", "#");
    }
    const types = [...new Set(list as TypeName[])];
    if (s.nullable === true && !types.includes("null")) types.push("null");
    // "number" already covers "integer".
    return types.includes("number") ? types.filter((t) => t !== "integer") : types;
  }

  private inferTypes(s: Schema): TypeName[] | undefined {
    const has = (...keys: string[]) => keys.some((k) => k in s);
    const types: TypeName[] = [];
    if (has("properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties"))
      types.push("object");
    if (has("items", "prefixItems", "minItems", "maxItems", "uniqueItems")) types.push("array");
    if (has("minLength", "maxLength", "pattern", "format")) types.push("string");
    if (has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")) types.push("number");
    if (types.length === 0) return undefined;
    if (s.nullable === true) types.push("null");
    return types;
  }

  private valueHasType(v: unknown, t: TypeName): boolean {
    switch (t) {
      case "null":
        return v === null;
      case "boolean":
        return typeof v === "boolean";
      case "integer":
        return typeof v === "number" && Number.isInteger(v);
      case "number":
        return typeof v === "number";
      case "string":
        return typeof v === "string";
      case "array":
        return Array.isArray(v);
      case "object":
        return isObject(v);
    }
  }

  private typed(type: TypeName, s: Schema, path: string): Expr {
    switch (type) {
      case "null":
        return lit("null");
      case "boolean":
        return alt(lit("true"), lit("false"));
      case "integer":
        return this.integer(s, path);
      case "number":
        return this.number(s, path);
      case "string":
        return this.string(s, path);
      case "array":
        return this.array(s, path);
      case "object":
        return this.object(s, path);
    }
  }

  /** Inclusive bounds in units of 10^-scale (draft-04 boolean exclusive bounds too). */
  private bounds(s: Schema, path: string, scale: number): [bigint | undefined, bigint | undefined] {
    let min: bigint | undefined;
    let max: bigint | undefined;
    const raise = (v: bigint) => {
      if (min === undefined || v > min) min = v;
    };
    const lower = (v: bigint) => {
      if (max === undefined || v < max) max = v;
    };
    if (s.minimum !== undefined) {
      const d = numberBound(s.minimum, "minimum", path);
      if (s.exclusiveMinimum === true) raise(scaled(d, scale, "floor") + 1n);
      else raise(scaled(d, scale, "ceil"));
    }
    if (typeof s.exclusiveMinimum === "number")
      raise(scaled(numberBound(s.exclusiveMinimum, "exclusiveMinimum", path), scale, "floor") + 1n);
    if (s.maximum !== undefined) {
      const d = numberBound(s.maximum, "maximum", path);
      if (s.exclusiveMaximum === true) lower(scaled(d, scale, "ceil") - 1n);
      else lower(scaled(d, scale, "floor"));
    }
    if (typeof s.exclusiveMaximum === "number")
      lower(scaled(numberBound(s.exclusiveMaximum, "exclusiveMaximum", path), scale, "ceil") - 1n);
    if (min !== undefined && max !== undefined && min > max)
      this.fail(`The bounds at '${path}' leave no value.`, "minimum", path);
    return [min, max];
  }

  private integer(s: Schema, path: string): Expr {
    const [min, max] = this.bounds(s, path, 0);
    if (s.multipleOf !== undefined) {
      const step = numberBound(s.multipleOf, "multipleOf", path);
      if (step.units <= 0n) this.fail(`'multipleOf' at '${path}' must be greater than 0.`, "multipleOf", path);
      if (step.scale === 0 && step.units !== 1n) return this.multiples(step.units, min, max, path);
      // A step like 0.5 divides every integer; 0.3 does not.
      if (step.scale > 0 && 10n ** BigInt(step.scale) % step.units !== 0n)
        this.skip("multipleOf", path, "only whole-number steps are enforced");
    }
    if (min === undefined && max === undefined) return this.plainInteger();
    return this.nonEmpty(integerRange(min, max), "minimum", path);
  }

  /** The multiples of `step` between the bounds, listed (so both bounds must be given and the list short). */
  private multiples(step: bigint, min: bigint | undefined, max: bigint | undefined, path: string): Expr {
    if (min === undefined || max === undefined) {
      this.skip("multipleOf", path, "multiples are enforced only between a minimum and a maximum");
      return integerRange(min, max);
    }
    let first = min % step === 0n ? min : min + ((step - (min % step)) % step);
    if (first < min) first += step;
    const count = first > max ? 0n : (max - first) / step + 1n;
    if (count > BigInt(MAX_ENUMERATED_MULTIPLES)) {
      this.skip("multipleOf", path, `more than ${MAX_ENUMERATED_MULTIPLES} multiples between the bounds`);
      return integerRange(min, max);
    }
    const values: string[] = [];
    for (let v = first; v <= max; v += step) values.push(v.toString());
    return this.nonEmpty(values.length ? trie(values) : NEVER, "multipleOf", path);
  }

  private number(s: Schema, path: string): Expr {
    if (s.multipleOf !== undefined) {
      const step = numberBound(s.multipleOf, "multipleOf", path);
      if (step.scale === 0) return this.integer(s, path);
      this.skip("multipleOf", path, "only whole-number steps are enforced for numbers");
    }
    const [min, max] = this.bounds(s, path, this.places);
    if (min === undefined && max === undefined) return this.plainNumber();
    return this.nonEmpty(decimalRange(min, max, this.places), "minimum", path);
  }

  private string(s: Schema, path: string): Expr {
    const minLength = typeof s.minLength === "number" ? Math.max(0, Math.ceil(s.minLength)) : 0;
    const maxLength = typeof s.maxLength === "number" ? Math.floor(s.maxLength) : undefined;
    if (maxLength !== undefined && maxLength < minLength)
      this.fail(`minLength exceeds maxLength at '${path}'.`, "maxLength", path);
    const lengthsFit = (lo: number, hi: number | undefined) => {
      if (lo < minLength) this.skip("minLength", path, `values of this ${"pattern" in s ? "pattern" : "format"} may be shorter`);
      if (maxLength !== undefined && (hi === undefined || hi > maxLength)) {
        this.skip("maxLength", path, `values of this ${"pattern" in s ? "pattern" : "format"} may be longer`);
      }
    };
    if (typeof s.format === "string") {
      const format = FORMATS[s.format];
      if (format) {
        if ("pattern" in s) this.skip("pattern", path, "a pattern beside a format is not enforced");
        if ("minLength" in s || "maxLength" in s) {
          const [lo, hi] = FORMAT_LENGTHS[s.format] ?? [1, undefined];
          lengthsFit(lo, hi);
        }
        return seq(lit('"'), format, lit('"'));
      }
      this.skip("format", path, `format '${s.format}' is not one of ${Object.keys(FORMATS).join(", ")}`);
    }
    if (typeof s.pattern === "string") {
      try {
        const compiled = compilePattern(s.pattern);
        if ("minLength" in s || "maxLength" in s) lengthsFit(compiled.minLength, compiled.maxLength);
        return seq(lit('"'), compiled.expr, lit('"'));
      } catch (error) {
        if (!(error instanceof PatternError)) throw error;
        // A pattern the JavaScript engine itself rejects is a malformed schema, strict or not.
        try {
          new RegExp(s.pattern, "u");
        } catch {
          this.fail(
            `'pattern' at '${child(path, "pattern")}' is not a valid regular expression.`,
            "pattern",
            child(path, "pattern"),
          );
        }
        this.skip("pattern", path, `${error.message} (${JSON.stringify(s.pattern)})`);
      }
    }
    return this.plainString(minLength, maxLength);
  }

  private array(s: Schema, path: string): Expr {
    const ws = this.ws();
    const minItems = typeof s.minItems === "number" ? Math.max(0, Math.ceil(s.minItems)) : 0;
    const maxItemsGiven = typeof s.maxItems === "number" ? Math.floor(s.maxItems) : undefined;
    // Draft 2019 and before: `items` as a list is a tuple, `additionalItems` the rest.
    const prefix = (Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : []) as unknown[];
    const restSchema = Array.isArray(s.prefixItems) || !Array.isArray(s.items) ? s.items : s.additionalItems;
    const restAllowed = restSchema !== false;
    let maxItems = maxItemsGiven;
    if (!restAllowed) maxItems = maxItems === undefined ? prefix.length : Math.min(maxItems, prefix.length);
    if (maxItems !== undefined && minItems > maxItems)
      this.fail(`The array at '${path}' cannot have between ${minItems} and ${maxItems} items.`, "minItems", path);
    if (s.uniqueItems === true && (maxItems === undefined || maxItems > 1))
      this.skip("uniqueItems", path, "a grammar cannot compare items with each other");
    const prefixKey = Array.isArray(s.prefixItems) ? "prefixItems" : "items";
    const itemExprs = prefix.map((p, i) => this.compile(p, child(path, prefixKey, i)));
    const rest = restAllowed
      ? restSchema === undefined || restSchema === true
        ? this.anyValue()
        : this.compile(restSchema, child(path, Array.isArray(s.items) ? "additionalItems" : "items"))
      : NEVER;
    const restRule = isNever(rest) ? rest : ref(this.grammar.add("item", rest));
    const comma = seq(lit(","), ws);
    const build = (i: number, first: boolean): Expr => {
      if (maxItems !== undefined && i >= maxItems) return EMPTY;
      const lead = first ? EMPTY : comma;
      if (i < prefix.length) {
        const element = seq(lead, itemExprs[i] as Expr, build(i + 1, false));
        return i < minItems ? element : opt(element);
      }
      if (isNever(restRule)) return EMPTY;
      const need = Math.max(0, minItems - i);
      const most = maxItems === undefined ? undefined : maxItems - i;
      if (!first) return rep(seq(comma, restRule), need, most);
      const tail = rep(seq(comma, restRule), Math.max(0, need - 1), most === undefined ? undefined : most - 1);
      return need > 0 ? seq(restRule, tail) : opt(seq(restRule, tail));
    };
    return seq(lit("["), ws, build(0, true), ws, lit("]"));
  }

  private object(s: Schema, path: string): Expr {
    const ws = this.ws();
    const properties = isObject(s.properties) ? s.properties : {};
    const required = new Set(
      Array.isArray(s.required) ? (s.required as unknown[]).filter((r): r is string => typeof r === "string") : [],
    );
    const names = Object.keys(properties);
    for (const name of required) if (!(name in properties)) names.push(name);
    const additional = s.additionalProperties ?? s.unevaluatedProperties;
    const extras = additional !== undefined && additional !== false;
    if (extras && s.patternProperties !== undefined)
      this.skip("patternProperties", path, "extra properties are not checked against patterns");
    if (typeof s.minProperties === "number" && s.minProperties > required.size) {
      this.skip("minProperties", path, "only required properties are sure to be present");
    }
    if (typeof s.maxProperties === "number" && (extras || s.maxProperties < names.length)) {
      this.skip("maxProperties", path, "optional and extra properties may exceed it");
    }
    const member = (name: string): Expr => {
      const schema = name in properties ? properties[name] : true;
      return seq(lit(JSON.stringify(name)), ws, lit(":"), ws, this.compile(schema, child(path, "properties", name)));
    };
    const members = names.map(member);
    const comma = seq(lit(","), ws);
    let extraMember: Expr | undefined;
    if (extras) {
      const value =
        additional === true
          ? this.anyValue()
          : this.compile(
              additional,
              child(path, s.additionalProperties !== undefined ? "additionalProperties" : "unevaluatedProperties"),
            );
      extraMember = seq(this.keyOutside(names), ws, lit(":"), ws, value);
    }
    // After something was written: every later member with its comma, optional ones skippable.
    const restRules: Expr[] = [];
    let tail: Expr = extraMember ? rep(seq(comma, extraMember), 0, undefined) : EMPTY;
    restRules[names.length] = tail;
    for (let i = names.length - 1; i >= 0; i--) {
      const item = seq(comma, members[i] as Expr);
      const body = seq(required.has(names[i] as string) ? item : opt(item), tail);
      tail = isSmall(body) ? body : ref(this.grammar.add(`${path.split("/").pop() || "obj"}-rest-${i}`, body));
      restRules[i] = tail;
    }
    // Before anything was written: the first member present has no comma; members before it must be optional.
    const firsts: Expr[] = [];
    let allOptional = true;
    for (let i = 0; i < names.length; i++) {
      firsts.push(seq(members[i] as Expr, restRules[i + 1] as Expr));
      if (required.has(names[i] as string)) {
        allOptional = false;
        break;
      }
    }
    if (allOptional) {
      if (extraMember) firsts.push(seq(extraMember, restRules[names.length] as Expr));
      firsts.push(EMPTY);
    }
    return seq(lit("{"), ws, alt(...firsts), ws, lit("}"));
  }

  /** A quoted property name that is none of `names` (built from the names' trie). */
  private keyOutside(names: readonly string[]): Expr {
    type Node = { end: boolean; next: Map<number, Node> };
    const root: Node = { end: false, next: new Map() };
    for (const name of names) {
      let node = root;
      for (const ch of name) {
        const code = ch.codePointAt(0) as number;
        let next = node.next.get(code);
        if (!next) {
          next = { end: false, next: new Map() };
          node.next.set(code, next);
        }
        node = next;
      }
      node.end = true;
    }
    const plain = rep(cls(PLAIN_CHAR_EXCLUDED, true), 0, MAX_EXTRA_KEY_LENGTH);
    const build = (node: Node): Expr => {
      const options: Expr[] = [];
      if (!node.end) options.push(EMPTY);
      const children = [...node.next.keys()];
      options.push(seq(cls([...PLAIN_CHAR_EXCLUDED, ...children.map((c): CharRange => [c, c])], true), plain));
      for (const [code, next] of node.next) options.push(seq(lit(String.fromCodePoint(code)), build(next)));
      return alt(...options);
    };
    return ref(this.grammar.add("extra-key", seq(lit('"'), build(root), lit('"'))));
  }
}

function isSmall(e: Expr): boolean {
  return JSON.stringify(e).length < 200;
}

/** Compiles a schema to GBNF (the value alone, no surrounding whitespace). */
export function compileJsonSchema(schema: unknown, options: CompileOptions = {}): CompiledSchema {
  const compiler = new SchemaCompiler(schema, options);
  const root = compiler.compile(schema);
  return { gbnf: compiler.grammar.toGbnf(root), ignored: compiler.ignored };
}

/** GBNF for any JSON object (`response_format: json_object`). */
export function anyJsonObjectGrammar(): string {
  const compiler = new SchemaCompiler({});
  return compiler.grammar.toGbnf(compiler.anyObject());
}
