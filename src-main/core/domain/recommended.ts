import type { ModelCapability } from "../inference/types.js";

/** Small, well-liked GGUF models for a first start: one or two per capability. */
export interface Recommendation {
  ref: string;
  title: string;
  capability: ModelCapability;
  /** Approximate file size, bytes. */
  sizeBytes: number;
  description: string;
}

export const RECOMMENDED: readonly Recommendation[] = [
  {
    ref: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M",
    title: "Qwen2.5 0.5B Instruct",
    capability: "chat",
    sizeBytes: 398_000_000,
    description: "A tiny chat model with tool calling; runs on any machine.",
  },
  {
    ref: "hf:bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M",
    title: "Llama 3.2 3B Instruct",
    capability: "chat",
    sizeBytes: 2_020_000_000,
    description: "A capable small chat model for laptops with 8 GB of RAM.",
  },
  {
    ref: "hf:nomic-ai/nomic-embed-text-v1.5-GGUF:Q8_0",
    title: "nomic-embed-text v1.5",
    capability: "embedding",
    sizeBytes: 146_000_000,
    description: "Text embeddings (768 dimensions, 8k context) for RAG.",
  },
  {
    ref: "hf:gpustack/bge-reranker-v2-m3-GGUF:Q4_K_M",
    title: "BGE reranker v2 m3",
    capability: "rerank",
    sizeBytes: 438_000_000,
    description: "A multilingual reranker for /v1/rerank.",
  },
];

/** Whether a download of `sizeBytes` is likely to run here: the weights plus ~30 % for context and runtime. */
export function likelyFits(sizeBytes: number, freeRam: number, freeVram: number): boolean {
  return sizeBytes * 1.3 <= Math.max(freeRam, freeVram);
}
