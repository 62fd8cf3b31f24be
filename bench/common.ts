import { type ChildProcess, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { writeTinyBert, writeTinyLlama } from "../src-main/core/fixtures/tinyModels.js";

export type Mode = "completions" | "chat";

/** One measured run: `streams` concurrent generations started together. */
export interface RunResult {
  streams: number;
  tokens: number;
  seconds: number;
  ttftMs: number[];
}

/**
 * Stream i of repeat r at concurrency n: the same prompt on every side (greedy
 * decoding then yields the same work), and no prompt repeats within a side, so
 * no side gains from a cached prefix.
 */
export const promptFor = (n: number, r: number, i: number) =>
  `Story ${n}.${r}.${i}: write a long story about a lighthouse keeper and the sea.`;

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export const median = (values: readonly number[]) => percentile(values, 50);

/**
 * The medium bench model: a random-weight llama, 12 layers, 768 wide, F16 (~170 MB),
 * whose vocabulary holds only printable ASCII and newline, so llama-server (which
 * rejects output that is not valid UTF-8) can serve it too. Cached across runs.
 */
export function benchModel(cacheDir: string): string {
  const path = join(cacheDir, "bench-medium-v1.gguf");
  if (existsSync(path)) return path;
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${path}.partial`;
  writeTinyLlama(partial, {
    layers: 12,
    embedding: 768,
    heads: 12,
    feedForward: 2048,
    type: "f16",
    vocabulary: "ascii",
    seed: 12,
  });
  renameSync(partial, path);
  return path;
}

/** The quantizations of the medium model the bench makes (llama-quantize's type names). */
export const BENCH_QUANTS = ["Q8_0", "Q4_K_M"] as const;
export type BenchQuant = (typeof BENCH_QUANTS)[number];

/**
 * The medium bench model quantized by `llama-quantize` built from the same bundled llama.cpp
 * source (`bench/build-llama-server.sh --with-quantize`), so the bench measures the weight
 * formats users run and not only F16. Cached beside the F16 file.
 */
export function benchQuantized(cacheDir: string, quant: BenchQuant, quantizeBin: string): string {
  const path = join(cacheDir, `bench-medium-v1-${quant}.gguf`);
  if (existsSync(path)) return path;
  if (!existsSync(quantizeBin)) {
    throw new Error(`no llama-quantize at ${quantizeBin}: run bench/build-llama-server.sh --with-quantize first`);
  }
  const source = benchModel(cacheDir);
  const partial = `${path}.partial`;
  execFileSync(quantizeBin, [source, partial, quant], { stdio: ["ignore", "ignore", "inherit"] });
  renameSync(partial, path);
  return path;
}

/** Splits an SSE byte stream into its `data:` payloads. */
export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const piece of body) {
    buffer += decoder.decode(piece, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      for (const line of event.split("\n")) if (line.startsWith("data: ")) yield line.slice(6);
    }
  }
}

/** Encoder bench models: MiniLM-sized BERTs (6 layers, 384 wide), a reranker and an embedder. Cached. */
export function benchEncoders(cacheDir: string): { rerank: string; embed: string } {
  mkdirSync(cacheDir, { recursive: true });
  const rerank = join(cacheDir, "bench-rerank-v1.gguf");
  const embed = join(cacheDir, "bench-embed-v1.gguf");
  if (!existsSync(rerank)) writeTinyBert(rerank, { pooling: 4, embedding: 384, layers: 6, seed: 21 });
  if (!existsSync(embed)) writeTinyBert(embed, { pooling: 1, embedding: 384, layers: 6, seed: 22 });
  return { rerank, embed };
}

export const RERANK_QUERY = "which harbour has a lighthouse keeper";
/** 64 documents of a few sentences each. */
export const rerankDocuments = () =>
  Array.from(
    { length: 64 },
    (_, i) => `document ${i}: the keeper of harbour ${i} lit the lamp at dusk, and the sea was calm until morning.`,
  );
/** A batch of 32 embedding inputs. */
export const embeddingInputs = () =>
  Array.from({ length: 32 }, (_, i) => `input ${i}: a short sentence about boats, light and the sea.`);

/** One encoder measurement: items per second for rerank (documents) and embeddings (inputs). */
export interface EncoderResult {
  rerankDocsPerSecond: number;
  embedInputsPerSecond: number;
}

/** A process's memory from /proc/<pid>/smaps_rollup, in bytes: RSS counts shared pages fully, PSS shares them out, USS is its own. */
export interface ProcessMemory {
  rss: number;
  pss: number;
  uss: number;
}

export function processMemory(pid: number): ProcessMemory | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return null;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb("Rss"), pss: kb("Pss"), uss: kb("Private_Clean") + kb("Private_Dirty") };
}

/** Waits until a server process answers `url` (its /health) with 2xx; fails if it exits or after two minutes. */
export async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`server exited with ${child.exitCode ?? child.signalCode}`);
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false, // not listening yet
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no answer from ${url}`);
}
