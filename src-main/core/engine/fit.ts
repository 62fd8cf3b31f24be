// Types only at the top: the server process imports ModelPool (and so this file) for its
// settings helpers, and must not load node-llama-cpp; the estimate runs in engine processes.
import type { GgufInsights, Llama } from "node-llama-cpp";
import type { FitEstimate, FitSettings } from "../inference/engineReport.js";
import type { ModelInfo } from "../inference/types.js";

export type { FitEstimate, FitSettings } from "../inference/engineReport.js";

const insightsCache = new Map<string, Promise<GgufInsights>>();

function insightsFor(llama: Llama, info: ModelInfo): Promise<GgufInsights> {
  const key = `${info.path}:${info.sizeBytes}`;
  let cached = insightsCache.get(key);
  if (!cached) {
    cached = import("node-llama-cpp").then(async ({ GgufInsights, readGgufFileInfo }) =>
      GgufInsights.from(await readGgufFileInfo(info.path, { logWarnings: false }), llama),
    );
    insightsCache.set(key, cached);
    cached.catch(() => insightsCache.delete(key));
    if (insightsCache.size > 256) insightsCache.delete(insightsCache.keys().next().value as string);
  }
  return cached;
}

/**
 * "Will it fit": node-llama-cpp's GGUF insights estimate the memory a model and
 * its context take with the given settings, against the memory free now.
 */
export async function estimateFit(llama: Llama, info: ModelInfo, settings: FitSettings): Promise<FitEstimate> {
  const insights = await insightsFor(llama, info);
  const onGpu = llama.gpu !== false;
  const gpuLayers = !onGpu
    ? 0
    : typeof settings.gpuLayers === "number"
      ? Math.min(settings.gpuLayers, insights.totalLayers)
      : insights.totalLayers;
  const contextSize = Math.min(settings.contextSize, insights.trainContextSize ?? settings.contextSize);
  const encoder = !info.capabilities.includes("chat");
  const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
  const context = await insights.estimateContextResourceRequirementsV2({
    contextSize,
    modelGpuLayers: gpuLayers,
    sequences: encoder ? 1 : settings.parallel,
    isEmbeddingContext: encoder,
  });
  const ram = model.cpuRam + context.cpuRam;
  const vram = model.gpuVram + context.gpuVram;
  const freeRam = (await llama.getRamState()).free;
  const freeVram = onGpu ? (await llama.getVramState()).free : 0;
  return {
    gpuLayers,
    contextSize,
    sequences: encoder ? 1 : settings.parallel,
    ram,
    vram,
    freeRam,
    freeVram,
    fits: ram <= freeRam && vram <= freeVram,
  };
}
