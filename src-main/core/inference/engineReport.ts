// What the engine reports, as plain data: the server, the CLI's --json and the renderer
// read these shapes without importing the engine layer (which loads node-llama-cpp).

/** What `maas-base gpus --json` and `GET /api/admin/engine` report about the engine in use. */
export interface EngineDescription {
  backend: "cpu" | "cuda" | "vulkan" | "metal";
  /** `localBuild`: compiled on this machine by `maas-base engine build`; `prebuilt`: shipped with node-llama-cpp. */
  build: "localBuild" | "prebuilt";
  /**
   * `rebuilt`: the prebuilt engine with its CPU backend library compiled again on this
   * machine (the CPU kernels build; `build` is then `localBuild`); `portable`: all its CPU
   * libraries compiled again at packaging (`--portable`); `native`: the full tuned build;
   * `prebuilt`: as shipped.
   */
  cpuKernels: "prebuilt" | "rebuilt" | "portable" | "native";
  /** The llama.cpp release the binary was built from. */
  source: string;
  /**
   * Which CPU backend library llama.cpp loaded: a prebuilt variant picked for this CPU
   * (`haswell`, `zen4`, `icelake`, …), `native` for a local build tuned to this machine,
   * or null where it cannot be told (not Linux).
   */
  cpuVariant: string | null;
  cpuMathCores: number;
  devices: Array<{ name: string; vramTotal: number; vramFree: number }>;
  ram: { total: number; free: number };
}

export interface FitEstimate {
  /** Layers the estimate puts on the GPU (0 on the CPU backend). */
  gpuLayers: number;
  contextSize: number;
  sequences: number;
  /** Bytes of RAM and VRAM the model plus its context would take. */
  ram: number;
  vram: number;
  /** Free memory now, for comparison. */
  freeRam: number;
  freeVram: number;
  fits: boolean;
}

/** The settings an estimate depends on (a model's effective settings have them). */
export interface FitSettings {
  contextSize: number;
  /** Parallel sequences of a chat model (encoder models use one). */
  parallel: number;
  gpuLayers: "auto" | "max" | number;
}

/** `unloaded` when the engine holds nothing for it; `crashed`/`failed` after its engine process died (once / too often). */
export type ModelLoadState = "unloaded" | "loading" | "ready" | "crashed" | "failed" | "error";

/** A model the engine holds, with its numbers (from its engine process's last heartbeat): `GET /api/admin/engine`'s `models`. */
export interface ModelLoadReport {
  id: string;
  state: ModelLoadState;
  progress: number;
  error: string | null;
  /** Why it is not ready (a load error, a crash). */
  reason: string | null;
  pid: number | null;
  /** Resident memory of the model's engine process, in bytes (0 when it has none). */
  processRss: number;
  crashes: number;
  restarts: number;
  activeSequences: number;
  queued: number;
  activeEncoders: number;
  parallel: number;
  /** The chat context it has now (0 before its first chat request). */
  contextSize: number;
  decodeBatches?: number;
  batchedTokens?: number;
  shortBatches?: number;
  /** Decode steps llama.cpp ran in more than one pass: their sequences were not adjacent ids. */
  splitSteps?: number;
  unknownSequences?: number;
  ttlMinutes?: number;
  lastUsed?: number;
  estimatedRam?: number | null;
  estimatedVram?: number | null;
  /** The last reload with a larger context (a prompt did not fit the one it had), if any. */
  lastReload: { at: number; from: number; to: number; reason: string } | null;
  contextReloads: number;
  /** It crashed twice on a local engine build, and runs on node-llama-cpp's prebuilt engine since. */
  prebuiltEngine: boolean;
}
