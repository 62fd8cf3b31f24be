/**
 * Reading what a GGUF header says about a model. Runs in the inspector process
 * (never in the server): node-llama-cpp's reader trusts the header's counts, and
 * llama.cpp's own metadata check aborts the process on some malformed files.
 */
import { open, stat } from "node:fs/promises";
import { GgufFileType, GgufInsights, type Llama, readGgufFileInfo } from "node-llama-cpp";
import type { ModelCapability, ModelInfo } from "../inference/types.js";

/** Encoder-only architectures: they embed (or rank), they cannot chat. */
const ENCODER_ONLY = new Set([
  "bert",
  "nomic-bert",
  "nomic-bert-moe",
  "jina-bert-v2",
  "jina-bert-v3",
  "modern-bert",
  "neo-bert",
  "t5encoder",
]);

export type GgufSummary = Pick<
  ModelInfo,
  "architecture" | "contextLength" | "capabilities" | "quantization" | "parameterCount" | "hasChatTemplate"
>;

/** Smallest bytes one key/value (8-byte name length, 4-byte type, 1-byte value) and one tensor info take. */
const MIN_KV_BYTES = 13;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

/**
 * Refuses a header whose counts cannot fit in the file (`2^48 tensors` in 4 KB)
 * before any reader allocates for them.
 */
async function checkHeaderCounts(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    const header = Buffer.alloc(24);
    const { bytesRead } = await handle.read(header, 0, 24, 0);
    if (bytesRead < 24 || header.toString("ascii", 0, 4) !== "GGUF") throw new Error("not a GGUF file (bad magic)");
    const version = header.readUInt32LE(4);
    if (version < 2 || version > 3) throw new Error(`unsupported GGUF version ${version}`);
    const tensors = header.readBigUInt64LE(8);
    const kvs = header.readBigUInt64LE(16);
    const size = BigInt((await handle.stat()).size);
    const room = size - 24n;
    if (kvs * BigInt(MIN_KV_BYTES) > room) {
      throw new Error(`the header claims ${kvs} key/values, more than a file of ${size} bytes can hold`);
    }
    if (tensors * BigInt(MIN_TENSOR_INFO_BYTES) > room) {
      throw new Error(`the header claims ${tensors} tensors, more than a file of ${size} bytes can hold`);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Reads what the GGUF header says about a model; throws on a file that is not GGUF.
 * With `llama`, also runs llama.cpp's own metadata simulation (what a memory
 * estimate runs), so a file that would abort llama.cpp aborts the inspector here.
 */
export async function inspectGguf(path: string, llama?: Llama): Promise<GgufSummary> {
  await checkHeaderCounts(path);
  const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
  // The header parser reads past the end of a cut-off file without complaint, so check
  // that the tensor data the header promises is all there.
  const first = info.fullTensorInfo?.[0];
  const insights = await GgufInsights.from(info, llama);
  if (first && (info.splicedParts ?? 1) === 1) {
    const dataStart = Number(BigInt(first.fileOffset) - BigInt(first.offset));
    const needed = dataStart + insights.modelSize;
    const size = (await stat(path)).size;
    if (size < needed) throw new Error(`the file is truncated: ${size} bytes of the ${needed} its header describes`);
  }
  if (llama) await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 });
  const metadata = info.metadata as Record<string, unknown> & {
    general?: { architecture?: string; file_type?: number };
    tokenizer?: { chat_template?: string };
  };
  const architecture = metadata.general?.architecture ?? null;
  const archMeta = (architecture ? metadata[architecture] : undefined) as Record<string, unknown> | undefined;
  const contextLength = typeof archMeta?.context_length === "number" ? archMeta.context_length : null;
  const poolingType = archMeta?.pooling_type;
  const tensors = info.fullTensorInfo ?? info.tensorInfo ?? [];
  const tensorNames = new Set(tensors.map((t) => t.name));
  const ranks =
    poolingType === 4 || (tensorNames.has("cls.output.weight") && poolingType !== undefined) || tensorNames.has("cls.weight");
  const capabilities: ModelCapability[] = [];
  if (ranks) capabilities.push("rerank");
  else {
    if (!architecture || !ENCODER_ONLY.has(architecture)) capabilities.push("chat");
    capabilities.push("embedding");
  }
  const fileType = metadata.general?.file_type;
  const parameterCount = tensors.reduce((sum, t) => sum + t.dimensions.reduce((n: number, d) => n * Number(d), 1), 0);
  return {
    architecture,
    contextLength,
    capabilities,
    quantization:
      typeof fileType === "number" ? (GgufFileType[fileType] ?? `type ${fileType}`).replace(/^(MOSTLY|ALL)_/, "") : null,
    parameterCount: parameterCount || null,
    hasChatTemplate: typeof metadata.tokenizer?.chat_template === "string",
  };
}
