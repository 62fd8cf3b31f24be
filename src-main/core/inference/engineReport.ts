// What the engine reports, as plain data: the server, the CLI's --json and the renderer
// read these shapes without importing the engine layer (which loads node-llama-cpp).

/** What `maas-base gpus --json` and `GET /api/admin/engine` report about the engine in use. */
export interface EngineDescription {
  backend: "cpu" | "cuda" | "vulkan" | "metal";
  /** `localBuild`: compiled on this machine by `maas-base engine build`; `prebuilt`: shipped with node-llama-cpp. */
  build: "localBuild" | "prebuilt";
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
