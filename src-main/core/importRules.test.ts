import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script (run by `npm run lint`), without type declarations
import { importCircles, importProblems } from "../../scripts/check-imports.mjs";

describe("import rules", () => {
  it("finds a circle, including one made of type-only imports, and nothing in a chain", () => {
    const graph = (edges: Record<string, string[]>) =>
      new Map(Object.entries(edges).map(([file, files]) => [file, { files, packages: [] }]));
    expect(importCircles(graph({ auth: ["context"], context: ["router"], router: ["auth"], other: ["auth"] }))).toEqual([
      ["auth", "context", "router"],
    ]);
    expect(importCircles(graph({ a: ["b"], b: ["c"], c: [] }))).toEqual([]);
    expect(importCircles(graph({ self: ["self"] }))).toEqual([["self"]]);
  });

  it("holds for the sources: no circle in the core, the renderer imports nothing from engine/", () => {
    expect(importProblems()).toEqual([]);
  });
});
