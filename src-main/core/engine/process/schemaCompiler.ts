/**
 * JSON schema → GBNF inside an engine process. Small schemas compile inline (well
 * under a millisecond); large ones (a 30 000-value enum takes 200–900 ms) in a worker
 * thread, so the engine keeps decoding its other sequences meanwhile. The worker
 * starts on the first large schema and stops after a minute without one.
 */
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { type CompiledSchema, compileSchema, SchemaCompileError } from "../grammar/index.js";
import type { CompileAnswer, CompileJob } from "./compileWorker.js";
import { countValues } from "./requestSchemas.js";

/** Schemas with more values than this go to the worker. */
const INLINE_VALUES = 2000;
const WORKER_IDLE_MS = 60_000;
const CACHE_SIZE = 16;

function workerSource(): { source: string | URL; eval: boolean } {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith(".ts")) return { source: new URL("./compileWorker.js", import.meta.url), eval: false };
  // From sources (tests, tsx): a worker does not take `--import` loaders on Node 20, so it registers tsx itself.
  const api = createRequire(import.meta.url)
    .resolve("tsx/esm/api")
    .replace(/index\.cjs$/, "index.mjs");
  const entry = new URL("./compileWorker.ts", import.meta.url).href;
  return {
    source: `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`,
    eval: true,
  };
}

export class SchemaCompiler {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (c: CompiledSchema) => void; reject: (e: Error) => void }>();
  private idleTimer: NodeJS.Timeout | null = null;
  /** The same request's schema object is compiled twice (the pre-check, then the engine): by identity first. */
  private readonly byObject = new WeakMap<object, Map<boolean, Promise<CompiledSchema>>>();
  private readonly byText = new Map<string, Promise<CompiledSchema>>();

  compile(schema: unknown, strict: boolean): Promise<CompiledSchema> {
    const holder = schema !== null && typeof schema === "object" ? schema : null;
    const known = holder ? this.byObject.get(holder)?.get(strict) : undefined;
    if (known) return known;
    const result = this.compileUncached(schema, strict);
    if (holder) {
      const perStrict = this.byObject.get(holder) ?? new Map<boolean, Promise<CompiledSchema>>();
      perStrict.set(strict, result);
      this.byObject.set(holder, perStrict);
    }
    return result;
  }

  private compileUncached(schema: unknown, strict: boolean): Promise<CompiledSchema> {
    if (countValues(schema, INLINE_VALUES) <= INLINE_VALUES) {
      try {
        return Promise.resolve(compileSchema(schema, { strict }));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const key = `${strict ? "s" : "n"}:${JSON.stringify(schema)}`;
    const cached = this.byText.get(key);
    if (cached) {
      this.byText.delete(key);
      this.byText.set(key, cached);
      return cached;
    }
    const result = this.inWorker(schema, strict);
    this.byText.set(key, result);
    result.catch(() => {});
    if (this.byText.size > CACHE_SIZE) this.byText.delete(this.byText.keys().next().value as string);
    return result;
  }

  private inWorker(schema: unknown, strict: boolean): Promise<CompiledSchema> {
    const worker = this.startWorker();
    const id = this.nextId++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    return new Promise<CompiledSchema>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, schema, strict } satisfies CompileJob);
    });
  }

  private startWorker(): Worker {
    if (this.worker) return this.worker;
    const { source, eval: isEval } = workerSource();
    const worker = new Worker(source, { eval: isEval, execArgv: [] });
    worker.on("message", (answer: CompileAnswer) => {
      const waiter = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      if ("error" in answer) {
        waiter?.reject(new SchemaCompileError(answer.error.message, answer.error.keyword ?? "", answer.error.path ?? ""));
      } else waiter?.resolve({ gbnf: answer.gbnf, ignored: answer.ignored } as CompiledSchema);
      if (this.waiting.size === 0) this.idle();
    });
    const fail = (error: Error) => {
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
      if (this.worker === worker) this.worker = null;
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the schema compiler thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private idle(): void {
    this.worker?.unref();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.waiting.size > 0) return;
      void this.worker?.terminate();
      this.worker = null;
    }, WORKER_IDLE_MS);
    this.idleTimer.unref();
  }

  async dispose(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.worker?.terminate();
    this.worker = null;
  }
}
