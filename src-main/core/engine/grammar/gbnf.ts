/**
 * A small grammar tree and its GBNF text. The compiler builds trees, not text, so
 * tests can walk the same tree (sample strings from it) that llama.cpp receives.
 */

/** Inclusive code point range. */
export type CharRange = readonly [number, number];

export type Expr =
  | { readonly kind: "literal"; readonly text: string }
  | { readonly kind: "class"; readonly ranges: readonly CharRange[]; readonly negated: boolean }
  | { readonly kind: "sequence"; readonly items: readonly Expr[] }
  | { readonly kind: "choice"; readonly options: readonly Expr[] }
  | { readonly kind: "repeat"; readonly item: Expr; readonly min: number; readonly max: number | undefined }
  | { readonly kind: "ref"; readonly rule: string }
  /** One vocabulary token by id (llama.cpp's `<[id]>`): a special token of a call syntax; `text` is how it detokenizes. */
  | { readonly kind: "token"; readonly id: number; readonly text: string };

export const EMPTY: Expr = { kind: "literal", text: "" };

export function lit(text: string): Expr {
  return { kind: "literal", text };
}

export function tok(id: number, text: string): Expr {
  return { kind: "token", id, text };
}

export function cls(ranges: readonly CharRange[], negated = false): Expr {
  return { kind: "class", ranges, negated };
}

/** A sequence, with nested sequences and empty literals flattened and adjacent literals joined. */
export function seq(...items: Expr[]): Expr {
  if (items.some(isNever)) return NEVER;
  const out: Expr[] = [];
  for (const item of items.flatMap((i) => (i.kind === "sequence" ? i.items : [i]))) {
    if (item.kind === "literal") {
      if (item.text === "") continue;
      const last = out[out.length - 1];
      if (last?.kind === "literal") {
        out[out.length - 1] = lit(last.text + item.text);
        continue;
      }
    }
    out.push(item);
  }
  if (out.length === 0) return EMPTY;
  if (out.length === 1) return out[0] as Expr;
  return { kind: "sequence", items: out };
}

/** No string at all (an empty choice); `alt` drops it, the compiler rejects a schema that is only this. */
export const NEVER: Expr = { kind: "choice", options: [] };

export function isNever(e: Expr): boolean {
  return e.kind === "choice" && e.options.length === 0;
}

export function alt(...options: Expr[]): Expr {
  const flat = options.flatMap((o) => (o.kind === "choice" ? o.options : [o]));
  if (flat.length === 0) return NEVER;
  const seen = new Set<string>();
  const unique = flat.filter((o) => {
    const key = JSON.stringify(o);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length === 1) return unique[0] as Expr;
  return { kind: "choice", options: unique };
}

/**
 * Most repetitions one `{m,n}` may hold: llama.cpp refuses counts above 2000 ("exceeds
 * sane defaults"), so larger ones are built from blocks of this size.
 */
export const MAX_REPEAT = 1000;

export function rep(item: Expr, min: number, max: number | undefined): Expr {
  if (max === 0) return EMPTY;
  if (isNever(item)) return min === 0 ? EMPTY : NEVER;
  if (item.kind === "literal" && item.text === "") return EMPTY;
  if (min === 1 && max === 1) return item;
  if (min > MAX_REPEAT) {
    const blocks = Math.floor(min / MAX_REPEAT);
    const done = blocks * MAX_REPEAT;
    return seq(
      rep(rep(item, MAX_REPEAT, MAX_REPEAT), blocks, blocks),
      rep(item, min - done, max === undefined ? undefined : max - done),
    );
  }
  if (max !== undefined && max > MAX_REPEAT) return seq(rep(item, min, min), upTo(item, max - min));
  return { kind: "repeat", item, min, max };
}

/** `item{0,n}` for a large n, unambiguously: a full block and the rest, or less than a block. */
function upTo(item: Expr, n: number): Expr {
  if (n <= MAX_REPEAT) return rep(item, 0, n);
  return alt(seq(rep(item, MAX_REPEAT, MAX_REPEAT), upTo(item, n - MAX_REPEAT)), rep(item, 0, MAX_REPEAT - 1));
}

export function opt(item: Expr): Expr {
  return rep(item, 0, 1);
}

export function ref(rule: string): Expr {
  return { kind: "ref", rule };
}

/** A set of named rules; identical bodies share one name. */
export class Grammar {
  readonly rules = new Map<string, Expr>();
  private readonly byBody = new Map<string, string>();

  /** Adds `body` under a name derived from `hint` (or reuses the rule that already has this body). */
  add(hint: string, body: Expr): string {
    const key = JSON.stringify(body);
    const existing = this.byBody.get(key);
    if (existing) return existing;
    const name = this.reserve(hint);
    this.define(name, body);
    return name;
  }

  /** A fresh rule name, for rules defined later (recursion). */
  reserve(hint: string): string {
    const base =
      hint
        .replace(/[^a-zA-Z0-9-]+/g, "-")
        .replace(/^-+|-+$/g, "")
        .toLowerCase() || "r";
    let name = base;
    for (let i = 1; this.rules.has(name) || name === "root"; i++) name = `${base}-${i}`;
    this.rules.set(name, EMPTY);
    return name;
  }

  define(name: string, body: Expr): void {
    this.rules.set(name, body);
    this.byBody.set(JSON.stringify(body), name);
  }

  /** GBNF text with `root` first. */
  toGbnf(root: Expr): string {
    const lines = [`root ::= ${exprToGbnf(root, 0)}`];
    for (const [name, body] of this.rules) lines.push(`${name} ::= ${exprToGbnf(body, 0)}`);
    return `${lines.join("\n")}\n`;
  }
}

function escapeChar(code: number, inClass: boolean): string {
  const ch = String.fromCodePoint(code);
  if (/[a-zA-Z0-9 ]/.test(ch)) return ch;
  if (!inClass && /[!#-[\]-~]/.test(ch)) return ch;
  if (inClass && /[!"#-,./:-@_`{|}~]/.test(ch)) return ch;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\U${code.toString(16).padStart(8, "0")}`;
}

function literalToGbnf(text: string): string {
  let out = '"';
  for (const ch of text) out += escapeChar(ch.codePointAt(0) as number, false);
  return `${out}"`;
}

function classToGbnf(ranges: readonly CharRange[], negated: boolean): string {
  let out = negated ? "[^" : "[";
  for (const [from, to] of ranges) {
    out += escapeChar(from, true);
    if (to !== from) out += `-${escapeChar(to, true)}`;
  }
  return `${out}]`;
}

// Precedence: 0 = choice, 1 = sequence, 2 = atom.
function exprToGbnf(expr: Expr, context: number): string {
  switch (expr.kind) {
    case "literal":
      return literalToGbnf(expr.text);
    case "class":
      return classToGbnf(expr.ranges, expr.negated);
    case "ref":
      return expr.rule;
    case "token":
      return `<[${expr.id}]>`;
    case "sequence": {
      const text = expr.items.map((i) => exprToGbnf(i, 2)).join(" ");
      return context > 1 ? `(${text})` : text;
    }
    case "choice": {
      const text = expr.options.map((o) => exprToGbnf(o, 1)).join(" | ");
      return context > 0 ? `(${text})` : text;
    }
    case "repeat": {
      // A repetition of a repetition needs its own parentheses: `x{3}{2}` does not parse.
      const item = expr.item.kind === "repeat" ? `(${exprToGbnf(expr.item, 0)})` : exprToGbnf(expr.item, 2);
      const { min, max } = expr;
      if (min === 0 && max === 1) return `${item}?`;
      if (min === 0 && max === undefined) return `${item}*`;
      if (min === 1 && max === undefined) return `${item}+`;
      if (max === undefined) return `${item}{${min},}`;
      if (min === max) return `${item}{${min}}`;
      return `${item}{${min},${max}}`;
    }
  }
}
