/**
 * `npm run bench:grammar`: what structured output costs, ours beside llama-server's.
 *
 *   build     grammar build time for a 1 000-value enum and a deep `$ref` schema: our
 *             compiler (JSON Schema → GBNF), llama.cpp parsing that GBNF, node-llama-cpp's
 *             own `createGrammarForJsonSchema` for the enum, and, with --llama-server, the
 *             extra time a llama-server request takes with the schema (its C++ converter,
 *             its parse, the first constrained token) over the same request without it
 *   decode    tokens/s of one stream with no grammar, with a long-string grammar and
 *             with a structured one (array of bounded objects), greedy, same prompt, same
 *             GGUF; with --llama-server PATH the same requests go to llama.cpp's server
 *             too, configured alike (threads, one slot, context 2048, temperature 0)
 *
 *   npm run bench:grammar -- [--tokens 64] [--repeats 3] [--threads 1] [--model path.gguf]
 *                            [--llama-server bench/llama-server/bin/llama-server] [--dry]
 *
 * Appends its tables to bench/RESULTS.md unless --dry.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, type LlamaGrammar, resolveChatWrapper } from "node-llama-cpp";
import { engineBuildOptions } from "../src-main/core/engine/cpuKernels.js";
import { describeEngine } from "../src-main/core/engine/engineInfo.js";
import { compileSchema } from "../src-main/core/engine/grammar/index.js";
import { freePort } from "../src-main/core/proxy/managedProcesses.js";
import { benchModel, median } from "./common.js";

const { values } = parseArgs({
  options: {
    tokens: { type: "string", default: "64" },
    repeats: { type: "string", default: "3" },
    threads: { type: "string", default: "1" },
    model: { type: "string" },
    "llama-server": { type: "string" },
    dry: { type: "boolean", default: false },
  },
});
const maxTokens = Number(values.tokens);
const repeats = Number(values.repeats);
const threads = Number(values.threads);
const root = resolve(import.meta.dirname, "..");

const enum1000 = { type: "string", enum: Array.from({ length: 1000 }, (_, i) => `option-${i}-${(i * 7919) % 997}`) };
const deepRef = (() => {
  const $defs: Record<string, unknown> = { level0: { type: "integer", minimum: -50, maximum: 50 } };
  for (let i = 1; i <= 64; i++) {
    $defs[`level${i}`] = {
      type: "object",
      properties: { value: { $ref: `#/$defs/level${i - 1}` }, label: { type: "string", maxLength: 8 } },
      required: ["value"],
      additionalProperties: false,
    };
  }
  return { $ref: "#/$defs/level64", $defs };
})();
const SCHEMAS = {
  none: undefined,
  "long string": { type: "string", minLength: 4096 },
  "bounded objects": {
    type: "array",
    items: {
      type: "object",
      properties: {
        id: { type: "integer", minimum: 0, maximum: 9999 },
        tag: { enum: ["alpha", "beta", "gamma"] },
        ok: { type: "boolean" },
      },
      required: ["id", "tag", "ok"],
      additionalProperties: false,
    },
    minItems: 50,
  },
} as const;

const llama = await getLlama({ gpu: false, maxThreads: threads, build: "never", ...engineBuildOptions() });
const engine = await describeEngine(llama);
const ms = (start: number) => Math.round((performance.now() - start) * 100) / 100;
const CONTEXT = 2048;
const llamaServerPath = values["llama-server"] ? resolve(values["llama-server"]) : undefined;
if (llamaServerPath && !existsSync(llamaServerPath)) throw new Error(`no llama-server at ${llamaServerPath}`);
const loadAtStart = loadavg()[0] ?? 0;

/** The tables, printed as they are made and appended to RESULTS.md at the end. */
const out: string[] = [];
const emit = (line = "") => {
  out.push(line);
  console.log(line);
};

// Warm the compiler up (JIT) on a schema unlike the measured ones.
for (let i = 0; i < 20; i++)
  compileSchema({
    type: "object",
    properties: { a: { enum: [`w${i}`, "x"] }, b: { $ref: "#/$defs/d" } },
    $defs: { d: { type: "integer", minimum: i } },
  });

// Writing the bench model the first time takes a while.
const modelPath = values.model ? resolve(values.model) : benchModel(join(root, "bench", ".cache"));
const prompt = "Write a long list of records about lighthouses.";

let server: ChildProcess | undefined;
let serverUrl: string | undefined;
if (llamaServerPath) {
  const port = await freePort();
  // As our side runs: the same threads, one sequence (slot), the same context, no web UI.
  server = spawn(
    llamaServerPath,
    [
      ...["-m", modelPath, "--host", "127.0.0.1", "--port", String(port)],
      ...["-t", String(threads), "-tb", String(threads), "-np", "1", "-c", String(CONTEXT), "--no-webui"],
    ],
    { stdio: "ignore" },
  );
  serverUrl = `http://127.0.0.1:${port}`;
  let healthy = false;
  for (let i = 0; i < 1200 && !healthy; i++) {
    healthy = await fetch(`${serverUrl}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (!healthy) await new Promise((r) => setTimeout(r, 100));
  }
  if (!healthy) throw new Error("llama-server did not become healthy in 120 s");
}

type ServerReply = { ok: true; seconds: number; perSecond: number; tokens: number } | { ok: false; error: string };

/** One chat request to llama-server: greedy, the schema (if any) as response_format. */
async function askLlamaServer(schema: unknown, maxTokens: number): Promise<ServerReply> {
  const start = performance.now();
  const res = await fetch(`${serverUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      messages: [{ role: "user", content: prompt }],
      max_tokens: maxTokens,
      temperature: 0,
      ...(schema ? { response_format: { type: "json_schema", json_schema: { name: "s", schema } } } : {}),
    }),
  });
  const seconds = (performance.now() - start) / 1000;
  const body = (await res.json()) as {
    usage?: { completion_tokens: number };
    timings?: { predicted_per_second?: number };
    error?: { message?: string };
  };
  if (!res.ok) return { ok: false, error: `${res.status} ${(body.error?.message ?? "").slice(0, 80)}` };
  const tokens = body.usage?.completion_tokens ?? 0;
  return { ok: true, seconds, tokens, perSecond: body.timings?.predicted_per_second ?? tokens / seconds };
}

emit(
  `## ${new Date().toISOString().slice(0, 10)} — structured output (\`npm run bench:grammar\`), ${threads} thread(s), ${maxTokens} tokens, greedy, median of ${repeats}`,
);
emit();
emit(
  `Machine: ${cpus()[0]?.model.trim() ?? "?"}, ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
    `load average ${loadAtStart.toFixed(1)} at the start. Engine binary: ${engine.build} (${engine.source}, CPU ${engine.cpuVariant ?? "?"}, kernels ${engine.cpuKernels})` +
    `${llamaServerPath ? `; llama-server: ${llamaServerPath.replace(`${root}/`, "")} (built by bench/build-llama-server.sh from the same source)` : ""}. ` +
    `Model: ${modelPath.replace(`${root}/`, "")}. One sequence (slot), context ${CONTEXT}.`,
);
emit();
emit("### Grammar build time (ms)");
emit();
emit(
  `| schema | our compiler | llama.cpp parse of our GBNF | GBNF size | node-llama-cpp createGrammarForJsonSchema |${serverUrl ? " llama-server: request with the schema minus without |" : ""}`,
);
emit(`|---|---|---|---|---|${serverUrl ? "---|" : ""}`);
for (const [name, schema] of [
  ["1 000-value enum", enum1000],
  ["deep $ref (64 levels)", deepRef],
] as const) {
  const compileTimes: number[] = [];
  const parseTimes: number[] = [];
  const theirs: number[] = [];
  const serverExtra: number[] = [];
  let serverError: string | undefined;
  let size = 0;
  for (let r = 0; r < repeats; r++) {
    // A changing title defeats the compile cache without changing the grammar.
    const fresh = { ...schema, title: `run ${r} ${Math.random()}` };
    let start = performance.now();
    const { gbnf } = compileSchema(fresh);
    compileTimes.push(ms(start));
    size = gbnf.length;
    start = performance.now();
    await llama.createGrammar({ grammar: `${gbnf}# ${r}\n` });
    parseTimes.push(ms(start));
    if (name.includes("enum")) {
      start = performance.now();
      await llama.createGrammarForJsonSchema({ enum: [...enum1000.enum, `x${r}`] } as never);
      theirs.push(ms(start));
    }
    if (serverUrl) {
      // One token each, the prompt cached by the first: what is left is the schema's cost.
      const without = await askLlamaServer(undefined, 1);
      const withSchema = await askLlamaServer(fresh, 1);
      if (!withSchema.ok) serverError = withSchema.error;
      else if (without.ok) serverExtra.push(Math.round((withSchema.seconds - without.seconds) * 100000) / 100);
    }
  }
  const serverCell = serverError ? `error: ${serverError}` : `${median(serverExtra)}`;
  emit(
    `| ${name} | ${median(compileTimes)} | ${median(parseTimes)} | ${size} chars | ${theirs.length ? median(theirs) : "(no $ref support)"} |${serverUrl ? ` ${serverCell} |` : ""}`,
  );
}

const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: CONTEXT, threads, sequences: 1 });
const wrapper = resolveChatWrapper(model);

async function decode(grammar: LlamaGrammar | undefined): Promise<number> {
  const sequence = context.getSequence();
  const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: wrapper });
  try {
    let tokens = 0;
    let first = 0;
    const start = performance.now();
    await chat.generateResponse(
      [
        { type: "user", text: prompt },
        { type: "model", response: [] },
      ],
      {
        maxTokens,
        temperature: 0,
        ...(grammar ? { grammar } : {}),
        onToken: (t) => {
          if (tokens === 0) first = performance.now();
          tokens += t.length;
        },
      },
    );
    // Decode rate after the first token (prompt processing is the same with or without a grammar).
    return tokens > 1 ? (tokens - 1) / ((performance.now() - (first || start)) / 1000) : 0;
  } finally {
    chat.dispose({ disposeSequence: false });
    sequence.dispose();
  }
}

emit();
emit("### Decode tokens/s, one stream");
emit();
emit(
  `| grammar | ours (node-llama-cpp + our GBNF) |${serverUrl ? " llama-server (its own converter) | ours/llama-server |" : ""}`,
);
emit(`|---|---|${serverUrl ? "---|---|" : ""}`);
try {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const grammar = schema ? await llama.createGrammar({ grammar: compileSchema(schema).gbnf }) : undefined;
    const ours: number[] = [];
    const theirs: number[] = [];
    let serverError: string | undefined;
    for (let r = 0; r < repeats; r++) {
      ours.push(await decode(grammar));
      if (serverUrl) {
        const reply = await askLlamaServer(schema, maxTokens);
        if (reply.ok) theirs.push(reply.perSecond);
        else serverError = reply.error;
      }
    }
    const oursRate = median(ours);
    const theirRate = theirs.length ? median(theirs) : Number.NaN;
    const serverCells = serverError
      ? ` error: ${serverError} | — |`
      : ` ${theirRate.toFixed(1)} | ${(oursRate / theirRate).toFixed(2)} |`;
    emit(`| ${name} | ${oursRate.toFixed(1)} |${serverUrl ? serverCells : ""}`);
  }
} finally {
  server?.kill();
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}
emit();
emit(
  `Load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end` +
    `${Math.max(loadAtStart, loadavg()[0] ?? 0) > cpus().length ? ": the machine was under load (shared), so absolute rates are low; compare the columns of one run" : ""}.`,
);
if (!values.dry) appendFileSync(join(import.meta.dirname, "RESULTS.md"), `${out.join("\n")}\n`);
