/**
 * The JSON Schema compiler's entry points. Pure (no node-llama-cpp): the server
 * process calls `checkSchema` to answer a bad schema with a 400 before any engine
 * work, and the engine calls `compileSchema` for the grammar; both share one cache.
 */
import { type CompiledSchema, type CompileOptions, compileJsonSchema, SchemaCompileError } from "./compile.js";

export { anyJsonObjectGrammar, type CompiledSchema, SchemaCompileError, SchemaCompiler, type SchemaIssue } from "./compile.js";

const CACHE_SIZE = 64;
const cache = new Map<string, CompiledSchema | SchemaCompileError>();

/** Compiles (or takes from the cache) a schema; throws SchemaCompileError. */
export function compileSchema(schema: unknown, options: CompileOptions = {}): CompiledSchema {
  const key = `${options.strict ? "s" : "n"}${options.fractionDigits ?? ""}:${JSON.stringify(schema)}`;
  let result = cache.get(key);
  if (result) {
    // Most recently used last.
    cache.delete(key);
  } else {
    try {
      result = compileJsonSchema(schema, options);
    } catch (error) {
      if (!(error instanceof SchemaCompileError)) throw error;
      result = error;
    }
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  cache.set(key, result);
  if (result instanceof SchemaCompileError) throw result;
  return result;
}

/** The `x-maas-schema-ignored` header value: the left-out keywords' locations, comma separated. */
export function ignoredHeader(issues: readonly { path: string }[]): string | undefined {
  if (issues.length === 0) return undefined;
  // Header values must be printable ASCII: property names may not be.
  return [...new Set(issues.map((i) => i.path))].join(", ").replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
}
