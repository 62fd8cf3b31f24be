/**
 * The entry of an engine process (`engine` role: one loaded model) and of the
 * inspector (`inspector` role: GGUF headers and memory estimates). Everything that
 * touches llama.cpp runs here, so an abort, a runaway chat template or a hostile
 * header takes down this process only; the supervisor in the server process
 * reports it and starts another.
 */
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";
import { InvalidRequestError } from "../../errors.js";
import type { ChatRequest, ModelInfo } from "../../inference/types.js";
import type { Engine } from "../Engine.js";
import { SchemaCompileError } from "../grammar/index.js";
import type { LoadOverrides } from "../ModelPool.js";
import { parentChannel } from "./channel.js";
import { EventOutbox } from "./outbox.js";
import { type EngineProcessOptions, type FromEngine, type SchemaIssueWire, serializeError, type ToEngine } from "./protocol.js";
import { heldSchemas, SCHEMA_REFUSED } from "./requestSchemas.js";
import { SchemaCompiler } from "./schemaCompiler.js";

const role = process.argv[2] === "inspector" ? "inspector" : "engine";
// node-llama-cpp tests its binary in a forked process that inherits these flags: it needs
// neither the TypeScript loader (seconds of startup) nor this process's heap cap.
process.execArgv = [];
const channel = parentChannel();
const send = (message: FromEngine) => channel.send(message);

// The server owns the log: lines travel as messages and it writes them with its logger.
function ipcLogger(level: string): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = chunk.toString("utf8").trim();
      if (line) {
        let parsed: { level?: number } = {};
        try {
          parsed = JSON.parse(line) as { level?: number };
        } catch {}
        send({ type: "log", level: pino.levels.labels[parsed.level ?? 30] ?? "info", line });
      }
      done();
    },
  });
  return pino({ level, base: null, timestamp: false }, sink);
}

let options: EngineProcessOptions | null = null;
let logger: Logger = pino({ level: "silent" });
let engine: Promise<Engine> | null = null;
const model = new Map<string, ModelInfo>();
const aborts = new Map<number, AbortController>();
const schemas = new SchemaCompiler();

async function getEngine(): Promise<Engine> {
  if (!options) throw new Error("the engine process was not initialised");
  const settings = options;
  engine ??= import("../Engine.js").then(({ Engine }) =>
    Engine.create({
      gpu: settings.gpu,
      ...(settings.prebuiltEngine ? { prebuiltEngine: true } : {}),
      threads: settings.threads,
      parallel: settings.parallel,
      maxQueue: settings.maxQueue,
      contextSize: settings.contextSize,
      ...(settings.defaultTtlMinutes !== undefined ? { defaultTtlMinutes: settings.defaultTtlMinutes } : {}),
      ...(settings.prefixCache ? { prefixCache: settings.prefixCache } : {}),
      maxLoadedModels: 1,
      idleUnload: false,
      logger,
      resolveModel: (id) => model.get(id),
      compileSchema: (schema, strict) => schemas.compile(schema, strict),
    }),
  );
  return engine;
}

/** The longest token's UTF-8 bytes and the training context: the server bounds prompts with them (promptBound.ts). */
function promptLimits(llamaModel: import("node-llama-cpp").LlamaModel) {
  const ggml = llamaModel.fileInfo.metadata?.tokenizer?.ggml as { model?: string; tokens?: readonly string[] } | undefined;
  const tokens = ggml?.tokens;
  // Only tokenizers that keep every byte of the text (WordPiece drops whitespace).
  if (!tokens?.length || (ggml?.model !== "gpt2" && ggml?.model !== "llama")) return null;
  let maxTokenBytes = 1;
  for (const token of tokens) {
    // UTF-16 length × 3 bounds UTF-8 bytes; measure exactly only where it could matter.
    if (token.length * 3 > maxTokenBytes) maxTokenBytes = Math.max(maxTokenBytes, Buffer.byteLength(token, "utf8"));
  }
  return { maxTokenBytes, trainContextSize: llamaModel.trainContextSize };
}

/** Inspector state: the llama binding, loaded on the first job that needs it. */
let inspectorLlama: Promise<import("node-llama-cpp").Llama> | null = null;
async function llamaForInspector() {
  if (!options) throw new Error("the inspector was not initialised");
  const settings = options;
  inspectorLlama ??= import("../llama.js").then(({ loadLlama }) => loadLlama({ gpu: settings.gpu, maxThreads: 1, logger }));
  return inspectorLlama;
}

/** The streams' events, sent in batches (outbox.ts). */
const outbox = new EventOutbox((batches) => send({ type: "events", batches }));

/**
 * Compiles the schemas the request will be held to (off this event loop when large) before
 * any generation: one the grammar cannot enforce under `strict` is a 400 naming where it is
 * (the server turns the place into its dialect's param); the keywords left out otherwise
 * go back with `stream-start` for the `x-maas-schema-ignored` header.
 */
async function checkSchemas(request: ChatRequest): Promise<SchemaIssueWire[]> {
  const ignored: SchemaIssueWire[] = [];
  for (const held of heldSchemas(request)) {
    try {
      const compiled = await schemas.compile(held.schema, held.strict);
      for (const issue of compiled.ignored) ignored.push({ ...issue, path: held.prefix + issue.path });
    } catch (error) {
      if (!(error instanceof SchemaCompileError)) throw error;
      const where = held.where === "response_format" ? "response_format" : `tools[${held.where}]`;
      throw new InvalidRequestError((error as Error).message, where, SCHEMA_REFUSED);
    }
  }
  return ignored;
}

async function runStream(id: number, method: "chat" | "complete", request: unknown) {
  const controller = new AbortController();
  aborts.set(id, controller);
  try {
    const current = await getEngine();
    const schemaIgnored = method === "chat" ? await checkSchemas(request as ChatRequest) : [];
    const stream =
      method === "chat"
        ? await current.chat(request as never, controller.signal)
        : await current.complete(request as never, controller.signal);
    send({ type: "stream-start", id, promptTokens: stream.promptTokens, ...(schemaIgnored.length ? { schemaIgnored } : {}) });
    let first = true;
    for await (const event of stream) {
      outbox.push(id, event, first);
      first = false;
    }
    // Its events go before its end.
    outbox.flush();
    send({ type: "stream-end", id });
  } catch (error) {
    outbox.flush();
    send({ type: "error", id, error: serializeError(error) });
  } finally {
    aborts.delete(id);
  }
}

async function runCall(id: number, method: string, args: unknown[]): Promise<unknown> {
  const controller = new AbortController();
  aborts.set(id, controller);
  try {
    if (role === "inspector") {
      switch (method) {
        case "warmup":
          // Startup (the binding, the reader) is paid here, outside any file's time limit.
          await Promise.all([llamaForInspector(), import("../inspect.js"), import("../fit.js")]);
          return null;
        case "inspect": {
          const { inspectGguf } = await import("../inspect.js");
          return inspectGguf(args[0] as string, await llamaForInspector());
        }
        case "fit": {
          const { estimateFit } = await import("../fit.js");
          return estimateFit(await llamaForInspector(), args[0] as never, args[1] as never);
        }
        case "describe": {
          const { describeEngine } = await import("../engineInfo.js");
          return describeEngine(await llamaForInspector());
        }
      }
      throw new Error(`unknown inspector job '${method}'`);
    }
    const current = await getEngine();
    switch (method) {
      case "load": {
        const info = args[0] as ModelInfo;
        model.set(info.id, info);
        const overrides = (args[1] ?? {}) as LoadOverrides;
        const loaded = await current.pool.get(info, overrides);
        // A load with a chosen context (a reload) makes it now, so the supervisor can report its size.
        if (overrides.context && info.capabilities.includes("chat")) await loaded.createChatContext();
        return { stats: current.pool.stats(), promptLimits: promptLimits(loaded.model) };
      }
      case "embed":
        return await current.embed(args[0] as never, controller.signal);
      case "rerank":
        return await current.rerank(args[0] as never, controller.signal);
      case "countChatTokens":
        return await current.countChatTokens(args[0] as never);
      case "tokenize":
        return await current.tokenize(args[0] as string, args[1] as string);
      case "stats":
        return current.pool.stats();
    }
    throw new Error(`unknown engine call '${method}'`);
  } finally {
    aborts.delete(id);
  }
}

async function shutdown(code: number) {
  try {
    const running = engine ? await engine.catch(() => null) : null;
    await running?.dispose();
    await schemas.dispose();
    await (inspectorLlama ? await inspectorLlama.catch(() => null) : null)?.dispose();
  } finally {
    process.exit(code);
  }
}

channel.onMessage((raw) => receive(raw as ToEngine));

function receive(message: ToEngine): void {
  switch (message.type) {
    case "batch":
      for (const inner of message.messages) receive(inner);
      return;
    case "init": {
      options = message.options;
      logger = ipcLogger(options.logLevel);
      const beat = () => {
        const running = engine;
        const rss = process.memoryUsage.rss();
        if (!running) return send({ type: "heartbeat", rss });
        // Stats only once the engine exists; a failed engine still beats.
        void running.then(
          (e) => send({ type: "heartbeat", rss, stats: e.pool.stats() }),
          () => send({ type: "heartbeat", rss }),
        );
      };
      // Imports and the binding load first (seconds of synchronous work on a busy machine):
      // the first heartbeat says "started", and only from then on does the watchdog count.
      const warm = role === "engine" ? getEngine() : llamaForInspector();
      void warm
        .catch(() => {})
        .then(() => {
          setInterval(beat, message.options.heartbeatMs).unref();
          beat();
        });
      return;
    }
    case "call": {
      if (message.model) model.set(message.model.id, message.model);
      if (message.method === "chat" || message.method === "complete") {
        void runStream(message.id, message.method, message.args[0]);
        return;
      }
      runCall(message.id, message.method, message.args).then(
        (value) => send({ type: "result", id: message.id, value }),
        (error) => send({ type: "error", id: message.id, error: serializeError(error) }),
      );
      return;
    }
    case "abort":
      aborts.get(message.id)?.abort();
      return;
    case "shutdown":
      void shutdown(0);
      return;
  }
}

// Without its server there is nobody to answer: exit rather than linger.
channel.onDisconnect(() => void shutdown(0));
