/**
 * `npm run bench:grammar`: what structured output costs.
 *
 *   build     grammar build time for a 1 000-value enum and a deep `$ref` schema: our
 *             compiler (JSON Schema → GBNF), llama.cpp parsing that GBNF, and, beside
 *             them, node-llama-cpp's own `createGrammarForJsonSchema` for the enum
 *   decode    tokens/s of one stream with no grammar, with a long-string grammar and
 *             with a structured one (array of bounded objects), greedy, same prompt;
 *             with --llama-server PATH the same requests go to llama.cpp's server too
 *
 *   npm run bench:grammar -- [--tokens 64] [--repeats 3] [--threads 1] [--model path.gguf]
 *                            [--llama-server PATH]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, type LlamaGrammar, resolveChatWrapper } from "node-llama-cpp";
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

const llama = await getLlama({ gpu: false, maxThreads: threads, build: "never" });
const ms = (start: number) => Math.round((performance.now() - start) * 100) / 100;

// Warm the compiler up (JIT) on a schema unlike the measured ones.
for (let i = 0; i < 20; i++)
  compileSchema({
    type: "object",
    properties: { a: { enum: [`w${i}`, "x"] }, b: { $ref: "#/$defs/d" } },
    $defs: { d: { type: "integer", minimum: i } },
  });

console.log(
  `# Structured output bench (${new Date().toISOString()}, ${threads} thread(s), ${maxTokens} tokens, median of ${repeats})\n`,
);
console.log("## Grammar build time (ms)\n");
console.log("| schema | our compiler | llama.cpp parse of our GBNF | GBNF size | node-llama-cpp createGrammarForJsonSchema |");
console.log("|---|---|---|---|---|");
for (const [name, schema] of [
  ["1 000-value enum", enum1000],
  ["deep $ref (64 levels)", deepRef],
] as const) {
  const compileTimes: number[] = [];
  const parseTimes: number[] = [];
  const theirs: number[] = [];
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
  }
  console.log(
    `| ${name} | ${median(compileTimes)} | ${median(parseTimes)} | ${size} chars | ${theirs.length ? median(theirs) : "(no $ref support)"} |`,
  );
}

// After the build table: writing the bench model the first time takes a while.
const modelPath = values.model ? resolve(values.model) : benchModel(join(root, "bench", ".cache"));
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: 2048, threads });
const wrapper = resolveChatWrapper(model);
const prompt = "Write a long list of records about lighthouses.";

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

let server: ChildProcess | undefined;
let serverUrl: string | undefined;
if (values["llama-server"]) {
  const port = await freePort();
  server = spawn(
    resolve(values["llama-server"]),
    ["-m", modelPath, "--port", String(port), "-t", String(threads), "-c", "2048"],
    {
      stdio: "ignore",
    },
  );
  serverUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${serverUrl}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function decodeLlamaServer(schema: unknown): Promise<number> {
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
  const body = (await res.json()) as { usage?: { completion_tokens: number }; timings?: { predicted_per_second?: number } };
  return body.timings?.predicted_per_second ?? (body.usage?.completion_tokens ?? 0) / ((performance.now() - start) / 1000);
}

console.log("\n## Decode tokens/s, one stream\n");
console.log(`| grammar | ours (node-llama-cpp + our GBNF) |${serverUrl ? " llama-server |" : ""}`);
console.log(`|---|---|${serverUrl ? "---|" : ""}`);
try {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const grammar = schema ? await llama.createGrammar({ grammar: compileSchema(schema).gbnf }) : undefined;
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      ours.push(await decode(grammar));
      if (serverUrl) theirs.push(await decodeLlamaServer(schema));
    }
    console.log(`| ${name} | ${median(ours).toFixed(1)} |${serverUrl ? ` ${median(theirs).toFixed(1)} |` : ""}`);
  }
} finally {
  server?.kill();
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}
