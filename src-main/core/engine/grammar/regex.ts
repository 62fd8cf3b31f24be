/**
 * The part of ECMAScript regular expressions that is a regular language (classes,
 * groups, alternation, quantifiers, anchors at the ends), turned into a grammar for
 * the *inside* of a JSON string: characters JSON must escape are written escaped,
 * control characters are left out. Anything else (lookaround, backreferences,
 * word boundaries, anchors in the middle) is a `PatternError`.
 */
import { alt, type CharRange, cls, EMPTY, type Expr, lit, rep, seq } from "./gbnf.js";

export class PatternError extends Error {}

type Node =
  | { t: "set"; ranges: CharRange[] }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; options: Node[] }
  | { t: "rep"; item: Node; min: number; max: number | undefined }
  | { t: "start" }
  | { t: "end" };

const MAX_CODE_POINT = 0x10ffff;
const DIGITS: CharRange[] = [[0x30, 0x39]];
const WORD: CharRange[] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: CharRange[] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: CharRange[] = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];

export function normalizeRanges(ranges: readonly CharRange[]): CharRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [from, to] of sorted) {
    const last = out[out.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

export function complement(ranges: readonly CharRange[]): CharRange[] {
  const out: CharRange[] = [];
  let next = 0;
  for (const [from, to] of normalizeRanges(ranges)) {
    if (from > next) out.push([next, from - 1]);
    next = to + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function subtract(ranges: readonly CharRange[], remove: readonly CharRange[]): CharRange[] {
  const keep = complement(remove);
  const out: CharRange[] = [];
  for (const [a, b] of normalizeRanges(ranges)) {
    for (const [c, d] of keep) {
      const from = Math.max(a, c);
      const to = Math.min(b, d);
      if (from <= to) out.push([from, to]);
    }
  }
  return out;
}

/** What JSON cannot hold unescaped (controls, quote, backslash) and lone surrogates. */
const NOT_PLAIN: CharRange[] = [
  [0x00, 0x1f],
  [0x22, 0x22],
  [0x5c, 0x5c],
  [0xd800, 0xdfff],
];

/** A set of characters as JSON string content: plain ones in a class, `"` and `\` escaped, controls left out. */
export function jsonCharSet(ranges: readonly CharRange[]): Expr {
  const normalized = normalizeRanges(ranges);
  const has = (c: number) => normalized.some(([a, b]) => a <= c && c <= b);
  const plain = subtract(normalized, NOT_PLAIN);
  const options: Expr[] = [];
  if (plain.length) {
    // A class covering most of Unicode reads better negated.
    const missing = complement(plain);
    options.push(missing.length < plain.length ? cls(missing, true) : cls(plain));
  }
  if (has(0x22)) options.push(lit('\\"'));
  if (has(0x5c)) options.push(lit("\\\\"));
  return alt(...options);
}

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.alternation();
    if (this.i < this.src.length) throw new PatternError(`unexpected '${this.src[this.i]}' at ${this.i}`);
    return node;
  }

  private peek(): string | undefined {
    return this.src[this.i];
  }

  private alternation(): Node {
    const options = [this.sequence()];
    while (this.peek() === "|") {
      this.i++;
      options.push(this.sequence());
    }
    return options.length === 1 ? (options[0] as Node) : { t: "alt", options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.peek() !== "|" && this.peek() !== ")") items.push(this.quantified());
    return { t: "seq", items };
  }

  private quantified(): Node {
    const atom = this.atom();
    const c = this.peek();
    let min: number;
    let max: number | undefined;
    if (c === "*") [min, max] = [0, undefined];
    else if (c === "+") [min, max] = [1, undefined];
    else if (c === "?") [min, max] = [0, 1];
    else if (c === "{" && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.i))) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i)) as RegExpExecArray;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === "" ? undefined : Number(m[3]);
      if (max !== undefined && max < min) throw new PatternError("quantifier range out of order");
      this.i += m[0].length - 1;
    } else return atom;
    this.i++;
    if (this.peek() === "?") this.i++; // lazy: the same strings
    if (atom.t === "start" || atom.t === "end") throw new PatternError("quantified anchor");
    return { t: "rep", item: atom, min, max };
  }

  private atom(): Node {
    const c = this.src[this.i++] as string;
    switch (c) {
      case "(": {
        if (this.src.startsWith("?:", this.i)) this.i += 2;
        else if (/^\?<[A-Za-z_$][\w$]*>/.test(this.src.slice(this.i))) this.i = this.src.indexOf(">", this.i) + 1;
        else if (this.peek() === "?") throw new PatternError("lookaround is not a regular language");
        const inner = this.alternation();
        if (this.src[this.i++] !== ")") throw new PatternError("unterminated group");
        return inner;
      }
      case ")":
        throw new PatternError("unbalanced ')'");
      case "[":
        return { t: "set", ranges: this.charClass() };
      case ".":
        return { t: "set", ranges: complement(LINE_TERMINATORS) };
      case "^":
        return { t: "start" };
      case "$":
        return { t: "end" };
      case "\\":
        return { t: "set", ranges: this.escape(false) };
      case "*":
      case "+":
      case "?":
        throw new PatternError(`nothing to repeat before '${c}'`);
      default: {
        const code = this.src.codePointAt(this.i - 1) as number;
        if (code > 0xffff) this.i++;
        return { t: "set", ranges: [[code, code]] };
      }
    }
  }

  private charClass(): CharRange[] {
    let negated = false;
    if (this.peek() === "^") {
      negated = true;
      this.i++;
    }
    const ranges: CharRange[] = [];
    let first = true;
    while (true) {
      if (this.i >= this.src.length) throw new PatternError("unterminated character class");
      if (this.peek() === "]" && !first) break;
      first = false;
      const from = this.classAtom();
      if (this.peek() === "-" && this.src[this.i + 1] !== "]" && this.i + 1 < this.src.length && from.length === 1) {
        this.i++;
        const to = this.classAtom();
        const a = from[0] as CharRange;
        const b = to[0] as CharRange;
        if (to.length !== 1 || a[0] !== a[1] || b[0] !== b[1]) throw new PatternError("class range with a class escape");
        if (b[0] < a[0]) throw new PatternError("class range out of order");
        ranges.push([a[0], b[0]]);
      } else ranges.push(...from);
    }
    this.i++;
    return negated ? complement(ranges) : normalizeRanges(ranges);
  }

  private classAtom(): CharRange[] {
    const c = this.src[this.i++] as string;
    if (c === "\\") return this.escape(true);
    const code = this.src.codePointAt(this.i - 1) as number;
    if (code > 0xffff) this.i++;
    return [[code, code]];
  }

  private escape(inClass: boolean): CharRange[] {
    const c = this.src[this.i++];
    if (c === undefined) throw new PatternError("pattern ends with '\\'");
    const one = (code: number): CharRange[] => [[code, code]];
    switch (c) {
      case "d":
        return DIGITS;
      case "D":
        return complement(DIGITS);
      case "w":
        return WORD;
      case "W":
        return complement(WORD);
      case "s":
        return SPACE;
      case "S":
        return complement(SPACE);
      case "n":
        return one(0x0a);
      case "r":
        return one(0x0d);
      case "t":
        return one(0x09);
      case "f":
        return one(0x0c);
      case "v":
        return one(0x0b);
      case "0":
        if (/\d/.test(this.peek() ?? "")) throw new PatternError("octal escapes are not supported");
        return one(0);
      case "b":
        if (inClass) return one(0x08);
        throw new PatternError("word boundaries (\\b) are not a regular language");
      case "x": {
        const hex = this.src.slice(this.i, this.i + 2);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new PatternError("bad \\x escape");
        this.i += 2;
        return one(Number.parseInt(hex, 16));
      }
      case "u": {
        const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(this.src.slice(this.i));
        if (braced) {
          this.i += braced[0].length;
          return one(Number.parseInt(braced[1] as string, 16));
        }
        const hex = this.src.slice(this.i, this.i + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PatternError("bad \\u escape");
        this.i += 4;
        return one(Number.parseInt(hex, 16));
      }
      default:
        if (/[1-9]/.test(c)) throw new PatternError("backreferences are not a regular language");
        if (/[A-Za-z]/.test(c)) throw new PatternError(`unsupported escape \\${c}`);
        return one(c.codePointAt(0) as number);
    }
  }
}

/** Any one character a JSON string may hold, as content (escapes for `"` and `\`). */
const ANY_CHAR = jsonCharSet([[0, MAX_CODE_POINT]]);

function toExpr(node: Node): Expr {
  switch (node.t) {
    case "set":
      return jsonCharSet(node.ranges);
    case "seq":
      return seq(...node.items.map(toExpr));
    case "alt":
      return alt(...node.options.map(toExpr));
    case "rep":
      return rep(toExpr(node.item), node.min, node.max);
    case "start":
    case "end":
      throw new PatternError("anchors are supported only at the start and end of the pattern");
  }
}

/** Shortest and longest match in characters (`undefined` = unbounded). */
function lengths(node: Node): [number, number | undefined] {
  switch (node.t) {
    case "set":
      return [1, 1];
    case "start":
    case "end":
      return [0, 0];
    case "seq":
      return node.items
        .map(lengths)
        .reduce<[number, number | undefined]>(
          ([a, b], [c, d]) => [a + c, b === undefined || d === undefined ? undefined : b + d],
          [0, 0],
        );
    case "alt": {
      const all = node.options.map(lengths);
      return [
        Math.min(...all.map((l) => l[0])),
        all.some((l) => l[1] === undefined) ? undefined : Math.max(...all.map((l) => l[1] as number)),
      ];
    }
    case "rep": {
      const [a, b] = lengths(node.item);
      return [a * node.min, node.max === undefined ? (b === 0 ? 0 : undefined) : b === undefined ? undefined : b * node.max];
    }
  }
}

export interface CompiledPattern {
  /** The string's content, between the quotes. */
  expr: Expr;
  minLength: number;
  maxLength: number | undefined;
}

/** A pattern as a grammar for a JSON string's content; unanchored ends match any text, as JSON Schema says. */
export function compilePattern(pattern: string): CompiledPattern {
  const tree = new Parser(pattern).parse();
  const top = tree.t === "alt" ? tree.options : [tree];
  const options: Expr[] = [];
  let minLength = Number.POSITIVE_INFINITY;
  let maxLength: number | undefined = 0;
  for (const branch of top) {
    const items = branch.t === "seq" ? [...branch.items] : [branch];
    const anchoredStart = items[0]?.t === "start";
    if (anchoredStart) items.shift();
    const anchoredEnd = items[items.length - 1]?.t === "end";
    if (anchoredEnd) items.pop();
    const body: Node = { t: "seq", items };
    const [lo, hi] = lengths(body);
    minLength = Math.min(minLength, lo);
    maxLength =
      maxLength === undefined || hi === undefined || !anchoredStart || !anchoredEnd ? undefined : Math.max(maxLength, hi);
    options.push(
      seq(anchoredStart ? EMPTY : rep(ANY_CHAR, 0, undefined), toExpr(body), anchoredEnd ? EMPTY : rep(ANY_CHAR, 0, undefined)),
    );
  }
  return { expr: alt(...options), minLength, maxLength };
}
