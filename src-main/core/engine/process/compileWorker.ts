/**
 * A worker thread of the engine process that compiles large JSON schemas to GBNF, so
 * a 30 000-value enum (hundreds of ms to compile) does not stall the other sequences
 * the engine is decoding. The compiler is pure; only its answer crosses back.
 */
import { parentPort } from "node:worker_threads";
import { compileSchema, SchemaCompileError } from "../grammar/index.js";

export interface CompileJob {
  id: number;
  schema: unknown;
  strict: boolean;
}

export type CompileAnswer =
  | { id: number; gbnf: string; ignored: Array<{ keyword: string; path: string; reason: string }> }
  | { id: number; error: { message: string; keyword?: string | undefined; path?: string | undefined } };

parentPort?.on("message", (job: CompileJob) => {
  try {
    const { gbnf, ignored } = compileSchema(job.schema, { strict: job.strict });
    parentPort?.postMessage({ id: job.id, gbnf, ignored } satisfies CompileAnswer);
  } catch (error) {
    const e = error as SchemaCompileError;
    if (!(error instanceof SchemaCompileError)) {
      parentPort?.postMessage({ id: job.id, error: { message: `the schema compiler failed: ${(error as Error).message}` } });
      return;
    }
    parentPort?.postMessage({
      id: job.id,
      error: { message: e.message, keyword: e.keyword, path: e.path },
    } satisfies CompileAnswer);
  }
});
