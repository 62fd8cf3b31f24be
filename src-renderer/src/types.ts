export interface Model {
  id: string;
  path: string;
  sizeBytes: number;
  architecture: string | null;
  contextLength: number | null;
  capabilities: Array<"chat" | "embedding" | "rerank">;
  quantization?: string | null;
  parameterCount?: number | null;
  source?: string;
  hfRepo?: string | null;
  settings?: ModelSettings;
  effectiveSettings?: { parallel: number; contextSize: number; threads?: number; gpuLayers: unknown; ttlMinutes: number };
  state?: "unloaded" | "loading" | "ready" | "error";
  load?: { progress: number; error: string | null; activeSequences: number; queued: number } | null;
  fit?: Fit | null;
}

export interface ModelSettings {
  contextSize?: number;
  gpuLayers?: "auto" | "max" | number;
  parallel?: number;
  ttlMinutes?: number;
  threads?: number;
  chatTemplate?: string;
}

export interface Fit {
  ram: number;
  vram: number;
  freeRam: number;
  freeVram: number;
  fits: boolean;
  contextSize: number;
}

export interface Download {
  id: string;
  uri: string;
  fileName: string;
  status: "queued" | "downloading" | "verifying" | "done" | "failed" | "cancelled";
  totalBytes: number;
  downloadedBytes: number;
  speed: number;
  etaSeconds: number | null;
  modelId: string | null;
  error: string | null;
}

export interface ApiKey {
  id: number;
  name: string;
  scopes: string[];
  maskedValue: string;
  allowedRoutes: string[] | null;
  rpmLimit: number | null;
  tokensPerDay: number | null;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface Route {
  id: number;
  name: string;
  genericProxy: boolean;
  enabled: boolean;
  auto: boolean;
  targets: Array<{
    id: number;
    kind: "model" | "upstream" | "process";
    modelId: string | null;
    upstreamUrl: string | null;
    upstreamModel: string | null;
    command: string | null;
    hasUpstreamKey: boolean;
    weight: number;
    fallback: boolean;
  }>;
}

export interface UsageRow {
  id: number;
  createdAt: number;
  requestId: string;
  apiKeyId: number | null;
  route: string | null;
  model: string | null;
  operation: string;
  promptTokens: number;
  completionTokens: number;
  ttftMs: number | null;
  durationMs: number;
  status: number;
}

export interface System {
  backend: string;
  build: string;
  source: string;
  cpuMathCores: number;
  devices: Array<{ name: string; vramTotal: number; vramFree: number }>;
  ram: { total: number; free: number };
}
