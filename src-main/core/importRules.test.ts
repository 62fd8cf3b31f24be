import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ESM script (run by `npm run lint`), without type declarations
import { importCircles, importProblems, valueImports } from "../../scripts/check-imports.mjs";

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

  it("tells type-only imports (which bundle nothing) from value imports", () => {
    const file = join(mkdtempSync(join(tmpdir(), "imports-")), "x.ts");
    writeFileSync(
      file,
      'import type { A } from "./a.js";\nimport { b, type C } from "./b.js";\nexport type { D } from "./d.js";\nexport { e } from "./e.js";\n',
    );
    expect(valueImports(file)).toEqual(["./b.js", "./e.js"]);
  });

  it("holds for the sources: no circle in the core, the renderer reaches the core through the contract only", () => {
    expect(importProblems()).toEqual([]);
  });
});
