#!/usr/bin/env node
// Import rules the type checker cannot see (run by `npm run lint` and a unit test):
//   1. no import circle among the core's files (type-only imports count: a circle of
//      types is still two files that cannot be understood one without the other);
//   2. the renderer imports nothing of the core but the admin contract (src-main/core/contract/),
//      nothing of the main process, and no Node built-in module (it runs in a browser page);
//   2b. the contract is pure: it imports zod, its own files and, for types only, the plain
//      shapes in src-main/core/inference/ (so the renderer bundles nothing else through it);
//   3. the core never imports the desktop shell, Electron or the renderer.
// Imports are read with TypeScript's own pre-processor (imports, `import type`,
// `export … from`, dynamic `import()`), so no bundler or extra package is needed.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts)$/.test(name) && !/\.d\.ts$/.test(name)) out.push(path);
  }
  return out;
}

/** The file a relative specifier names (`./x.js` is `./x.ts` in the sources), or null for a package. */
function resolveSpecifier(from, specifier) {
  if (!specifier.startsWith(".")) return null;
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(m?js|jsx)$/, "");
  for (const candidate of [base, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Every file's imports: relative ones resolved to files, packages by name. */
export function importGraph(dirs) {
  const graph = new Map();
  for (const dir of dirs) {
    for (const file of sourceFiles(join(ROOT, dir))) {
      const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
      const specifiers = info.importedFiles.map((f) => f.fileName);
      graph.set(file, {
        files: specifiers.map((s) => resolveSpecifier(file, s)).filter(Boolean),
        packages: specifiers.filter((s) => !s.startsWith(".")),
      });
    }
  }
  return graph;
}

/** The relative imports of a file that are not type-only (`import type`, `export type … from`). */
export function valueImports(file) {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const out = [];
  for (const node of source.statements) {
    const specifier =
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
        ? node.moduleSpecifier.text
        : null;
    if (!specifier) continue;
    const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
    if (!typeOnly) out.push(specifier);
  }
  return out;
}

/** The import circles among `files` (strongly connected components of two or more files, or a self-import). */
export function importCircles(graph) {
  let index = 0;
  const stack = [];
  const state = new Map();
  const circles = [];
  const visit = (file) => {
    const node = { index, low: index, onStack: true };
    index++;
    state.set(file, node);
    stack.push(file);
    for (const next of graph.get(file)?.files ?? []) {
      if (!graph.has(next)) continue;
      const seen = state.get(next);
      if (!seen) {
        visit(next);
        node.low = Math.min(node.low, state.get(next).low);
      } else if (seen.onStack) node.low = Math.min(node.low, seen.index);
    }
    if (node.low !== node.index) return;
    const component = [];
    let member;
    do {
      member = stack.pop();
      state.get(member).onStack = false;
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || graph.get(file).files.includes(file)) circles.push(component.reverse());
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return circles;
}

const rel = (file) => relative(ROOT, file);

/** Every broken rule, as lines to print; empty when all hold. */
export function importProblems() {
  const problems = [];
  const core = importGraph(["src-main/core"]);
  for (const circle of importCircles(core)) {
    problems.push(`import circle in the core: ${circle.map(rel).join(" → ")} → ${rel(circle[0])}`);
  }
  const srcMain = `${join(ROOT, "src-main")}/`;
  const contract = `${join(ROOT, "src-main/core/contract")}/`;
  const inference = `${join(ROOT, "src-main/core/inference")}/`;
  const builtins = new Set(builtinModules);
  for (const [file, { files, packages }] of importGraph(["src-renderer"])) {
    for (const target of files) {
      if (target.startsWith(srcMain) && !target.startsWith(contract)) {
        problems.push(`the renderer imports the core outside its contract: ${rel(file)} → ${rel(target)}`);
      }
    }
    for (const name of packages) {
      if (name.startsWith("node:") || builtins.has(name)) problems.push(`the renderer imports Node's ${name}: ${rel(file)}`);
    }
  }
  for (const [file, { files, packages }] of importGraph(["src-main/core/contract"])) {
    const values = new Set(valueImports(file).map((s) => resolveSpecifier(file, s)));
    for (const target of files) {
      if (target.startsWith(contract)) continue;
      if (!target.startsWith(inference) || values.has(target)) {
        problems.push(`the contract imports more than zod, itself and inference types: ${rel(file)} → ${rel(target)}`);
      }
    }
    for (const name of packages) {
      if (name !== "zod") problems.push(`the contract imports ${name}: ${rel(file)}`);
    }
  }
  const shell = [`${join(ROOT, "src-main/electron")}/`, `${join(ROOT, "src-main/preload")}/`, `${join(ROOT, "src-renderer")}/`];
  for (const [file, { files, packages }] of core) {
    for (const target of files) {
      if (shell.some((s) => target.startsWith(s))) problems.push(`the core imports the shell: ${rel(file)} → ${rel(target)}`);
    }
    if (packages.some((p) => p === "electron" || p.startsWith("electron/"))) {
      problems.push(`the core imports electron: ${rel(file)}`);
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = importProblems();
  for (const line of problems) console.error(line);
  if (problems.length > 0) process.exit(1);
  console.log(
    "imports: no circle in the core, the renderer reaches the core through its contract only, no shell import in the core",
  );
}
