/**
 * Random strings from a compiled grammar tree, for tests: whatever the sampler
 * can produce, llama.cpp's sampler can too, so every sample must validate.
 */
import type { Expr, Grammar } from "./gbnf.js";

const POOL = [...'abcXYZ019 _-.:/@"\\{}[],é中', "\u{1F600}", "\n", "\t", "\u0001"].map((c) => c.codePointAt(0) as number);

class TooDeep extends Error {}

export function sampleGrammar(grammar: Grammar, root: Expr, random: () => number, maxDepth = 40): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const walk = (e: Expr, depth: number): string => {
    switch (e.kind) {
      case "literal":
      case "token":
        return e.text;
      case "class": {
        if (e.negated) {
          const allowed = POOL.filter((c) => !e.ranges.some(([a, b]) => a <= c && c <= b));
          if (allowed.length === 0) throw new Error("negated class excludes the whole pool");
          return String.fromCodePoint(pick(allowed));
        }
        const [a, b] = pick(e.ranges);
        let code = a + Math.floor(random() * (b - a + 1));
        if (code >= 0xd800 && code <= 0xdfff) code = a;
        return String.fromCodePoint(code);
      }
      case "sequence":
        return e.items.map((i) => walk(i, depth)).join("");
      case "choice":
        if (e.options.length === 0) throw new Error("empty choice");
        return walk(pick(e.options), depth);
      case "repeat": {
        let n = e.min;
        const extra = e.max === undefined ? 4 : e.max - e.min;
        // Often the edges (min, max), else anything between.
        const r = random();
        if (r < 0.25) n = e.min;
        else if (r < 0.5 && e.max !== undefined) n = e.max;
        else n = e.min + Math.floor(random() * (extra + 1));
        let out = "";
        for (let i = 0; i < n; i++) out += walk(e.item, depth);
        return out;
      }
      case "ref": {
        if (depth > maxDepth) throw new TooDeep();
        const body = grammar.rules.get(e.rule);
        if (!body) throw new Error(`no rule ${e.rule}`);
        return walk(body, depth + 1);
      }
    }
  };
  for (let attempt = 0; ; attempt++) {
    try {
      return walk(root, 0);
    } catch (error) {
      if (!(error instanceof TooDeep) || attempt > 200) throw error;
    }
  }
}

/** A seeded generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
