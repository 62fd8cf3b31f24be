/**
 * When is `oneOf` the same as `anyOf`? A grammar can offer every branch but cannot
 * keep a value out of the other branches, so `oneOf` is enforced exactly only where
 * no value can satisfy two branches at once. This proves that for the cases real
 * schemas use (reasoning with validation semantics, so a proof holds for whatever
 * the grammar generates):
 * - the branches accept different kinds of value (`type`, or the kinds of their `const`/`enum`);
 * - both are finite (`const`/`enum`) and share no value;
 * - objects with a required property whose two schemas are themselves disjoint
 *   (a `const`/`enum` discriminator, as pydantic and zod write tagged unions);
 * - objects where one requires a property the other forbids (`additionalProperties: false`);
 * - numbers, strings (by length) or arrays (by item count) whose ranges do not meet.
 * Anything else may overlap, and the caller reports it.
 */

type Schema = Record<string, unknown>;

/** What the analysis needs from the compiler: `$ref`/`allOf` resolved into one plain schema. */
export interface SchemaResolver {
  /** The schema with `$ref` followed and `allOf` merged in; throws if that fails. */
  flatten(schema: unknown): Schema | boolean;
}

/** The kinds of JSON value a validator tells apart (`number` is integer ∪ fraction). */
const KINDS = ["null", "boolean", "object", "array", "string", "integer", "fraction"] as const;
type Kind = (typeof KINDS)[number];

/** Deeper than this (recursive schemas), nothing is proved. */
const MAX_DEPTH = 8;
/** Most alternatives a branch's own `anyOf`/`oneOf` may expand to. */
const MAX_ALTERNATIVES = 64;

const isObject = (v: unknown): v is Schema => typeof v === "object" && v !== null && !Array.isArray(v);

/** JSON text with object keys sorted, so equal values compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

function kindOf(value: unknown): Kind {
  if (value === null) return "null";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "string") return "string";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "fraction";
  return Array.isArray(value) ? "array" : "object";
}

/** The value's canonical texts when the schema admits finitely many (`const`/`enum`), else undefined. */
function finiteValues(s: Schema): Map<string, Kind> | undefined {
  const list = "const" in s ? [s.const] : Array.isArray(s.enum) ? s.enum : undefined;
  if (!list) return undefined;
  const typed = declaredKinds(s);
  const out = new Map<string, Kind>();
  for (const v of list) if (!typed || typed.has(kindOf(v))) out.set(canonical(v), kindOf(v));
  return out;
}

function declaredKinds(s: Schema): Set<Kind> | undefined {
  if (s.type === undefined) return undefined;
  const out = new Set<Kind>();
  for (const t of Array.isArray(s.type) ? s.type : [s.type]) {
    if (t === "number") {
      out.add("integer");
      out.add("fraction");
    } else if (KINDS.includes(t as Kind)) out.add(t as Kind);
  }
  if (s.nullable === true) out.add("null");
  return out;
}

/** The kinds a value valid against `s` can have (every kind when nothing says otherwise). */
function kinds(s: Schema): Set<Kind> {
  const finite = finiteValues(s);
  if (finite) return new Set(finite.values());
  return declaredKinds(s) ?? new Set(KINDS);
}

/** [low, high] with exclusive ends, from a schema's numeric keywords (or undefined when open). */
type Range = { low?: number; lowOpen: boolean; high?: number; highOpen: boolean };

function numberRange(s: Schema): Range {
  const r: Range = { lowOpen: false, highOpen: false };
  const raise = (v: unknown, open: boolean) => {
    if (typeof v !== "number") return;
    if (r.low === undefined || v > r.low || (v === r.low && open)) {
      r.low = v;
      r.lowOpen = open;
    }
  };
  const lower = (v: unknown, open: boolean) => {
    if (typeof v !== "number") return;
    if (r.high === undefined || v < r.high || (v === r.high && open)) {
      r.high = v;
      r.highOpen = open;
    }
  };
  raise(s.minimum, s.exclusiveMinimum === true);
  if (typeof s.exclusiveMinimum === "number") raise(s.exclusiveMinimum, true);
  lower(s.maximum, s.exclusiveMaximum === true);
  if (typeof s.exclusiveMaximum === "number") lower(s.exclusiveMaximum, true);
  return r;
}

function countRange(s: Schema, min: string, max: string): Range {
  return {
    low: typeof s[min] === "number" ? (s[min] as number) : undefined,
    lowOpen: false,
    high: typeof s[max] === "number" ? (s[max] as number) : undefined,
    highOpen: false,
  };
}

/** Whether no number lies in both ranges. */
function rangesApart(a: Range, b: Range): boolean {
  const below = (x: Range, y: Range) =>
    x.high !== undefined && y.low !== undefined && (x.high < y.low || (x.high === y.low && (x.highOpen || y.lowOpen)));
  return below(a, b) || below(b, a);
}

export class DisjointnessProver {
  constructor(private readonly resolver: SchemaResolver) {}

  /** The canonical texts of the values a `const`/`enum` schema admits, else undefined. */
  finiteTexts(schema: unknown): string[] | undefined {
    let flat: Schema | boolean;
    try {
      flat = this.resolver.flatten(schema);
    } catch {
      return undefined;
    }
    if (flat === false) return [];
    if (flat === true || Array.isArray(flat.anyOf) || Array.isArray(flat.oneOf)) return undefined;
    const values = finiteValues(flat);
    return values ? [...values.keys()] : undefined;
  }

  /** Whether no JSON value is valid against both schemas. */
  disjoint(a: unknown, b: unknown, depth = 0): boolean {
    if (depth > MAX_DEPTH) return false;
    let left: Schema | boolean;
    let right: Schema | boolean;
    try {
      left = this.resolver.flatten(a);
      right = this.resolver.flatten(b);
    } catch {
      return false;
    }
    if (left === false || right === false) return true;
    if (left === true || right === true) return false;
    const leftAlternatives = this.alternatives(left);
    const rightAlternatives = this.alternatives(right);
    if (!leftAlternatives || !rightAlternatives) return false;
    return leftAlternatives.every((l) => rightAlternatives.every((r) => this.disjointPlain(l, r, depth)));
  }

  /** A schema with `anyOf`/`oneOf` as the list of what it may be (the rest merged into each); undefined if too many. */
  private alternatives(s: Schema): Schema[] | undefined {
    const key = Array.isArray(s.anyOf) ? "anyOf" : Array.isArray(s.oneOf) ? "oneOf" : undefined;
    if (!key) return [s];
    const { [key]: list, ...rest } = s;
    const out: Schema[] = [];
    for (const option of list as unknown[]) {
      let flat: Schema | boolean;
      try {
        flat = this.resolver.flatten({ allOf: [rest, option] });
      } catch {
        return undefined;
      }
      if (flat === false) continue;
      if (flat === true) flat = {};
      const more = this.alternatives(flat);
      if (!more) return undefined;
      out.push(...more);
      if (out.length > MAX_ALTERNATIVES) return undefined;
    }
    return out;
  }

  private disjointPlain(a: Schema, b: Schema, depth: number): boolean {
    const left = kinds(a);
    const right = kinds(b);
    const common = [...left].filter((k) => right.has(k));
    if (common.length === 0) return true;
    const finiteA = finiteValues(a);
    const finiteB = finiteValues(b);
    if (finiteA && finiteB) return ![...finiteA.keys()].some((v) => finiteB.has(v));
    return common.every((kind) => this.disjointWithin(kind, a, b, depth));
  }

  /** Whether no value of this kind is valid against both. */
  private disjointWithin(kind: Kind, a: Schema, b: Schema, depth: number): boolean {
    switch (kind) {
      case "integer":
      case "fraction":
        return rangesApart(numberRange(a), numberRange(b));
      case "string":
        return rangesApart(countRange(a, "minLength", "maxLength"), countRange(b, "minLength", "maxLength"));
      case "array":
        return rangesApart(countRange(a, "minItems", "maxItems"), countRange(b, "minItems", "maxItems"));
      case "object":
        return this.objectsDisjoint(a, b, depth) || this.objectsDisjoint(b, a, depth);
      default:
        return false;
    }
  }

  private objectsDisjoint(a: Schema, b: Schema, depth: number): boolean {
    const requiredA = Array.isArray(a.required) ? a.required.filter((r): r is string => typeof r === "string") : [];
    const propsA = isObject(a.properties) ? a.properties : {};
    const propsB = isObject(b.properties) ? b.properties : {};
    for (const name of requiredA) {
      if (!(name in propsB)) {
        // A property A must have and B must not have.
        if (b.additionalProperties === false && b.patternProperties === undefined) return true;
        continue;
      }
      // A property A must have, whose value cannot also satisfy B's schema for it (a discriminator).
      if (name in propsA && this.disjoint(propsA[name], propsB[name], depth + 1)) return true;
    }
    return false;
  }
}
