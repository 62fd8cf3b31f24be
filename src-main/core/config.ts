import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { SecretBox } from "./db/secretBox.js";
import type { EngineLauncher } from "./engine/process/launcher.js";

/** Options for one running core. Every field has a default a desktop user can live with. */
export interface CoreOptions {
  /** Interface to bind. Loopback by default; LAN access is an explicit choice. */
  host: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Where the database (and by default the models) live. */
  dataDir: string;
  /** Folder scanned for `*.gguf` at start. */
  modelsDir: string;
  /** Threads per context; `undefined` = the machine's physical cores as llama.cpp counts them. */
  threads?: number;
  /** `false` forces CPU inference. */
  gpu: "auto" | false;
  /** Parallel sequences per chat model. */
  parallel: number;
  /** Requests that may wait for a free sequence before new ones get 429. */
  maxQueue: number;
  /** Upper bound on the per-sequence context size, in tokens. */
  contextSize: number;
  /** Largest accepted request body, in bytes (larger → 413). */
  bodyLimit: number;
  /** Extra `Host` header names accepted besides the loopback names (DNS-rebinding defence). */
  allowedHosts: string[];
  logLevel: string;
  /** Let loopback clients call the inference endpoints without a key (off by default). */
  allowLoopbackWithoutKey: boolean;
  /** Browser origins allowed by CORS; empty = CORS closed; `*` only when the user chooses it. */
  corsOrigins: string[];
  /** Serve `GET /metrics` without a management key (loopback scrapers); off by default. */
  metricsWithoutKey: boolean;
  /** Days request rows and daily usage rollups are kept. */
  usageRetention: { requestDays: number; rollupDays: number };
  /** Models kept in memory at once (least recently used idle ones are evicted). */
  maxLoadedModels: number;
  /** Minutes without requests before a model is unloaded, unless its settings say otherwise (0 = never). */
  modelTtlMinutes: number;
  /** RAM the loaded models may take together, in bytes; `undefined` = whatever is free. */
  ramBudgetBytes?: number;
  /** Hugging Face base URL (default: `HF_ENDPOINT`, else https://huggingface.co). */
  hfEndpoint?: string;
  /** Hugging Face token for gated or private repositories (default: `HF_TOKEN`). */
  hfToken?: string;
  /** How long an upstream (route target) may take to start answering before 504. */
  upstreamTimeoutMs: number;
  // ── Gateway hardening (issue 19) ──────────────────────────────────────────
  /** Let route upstreams be link-local / cloud-metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254). Defaults to false. */
  allowPrivateUpstreams: boolean;
  /** Requests one route may have at its upstreams at once; beyond, 429. Defaults to 64. */
  upstreamConcurrencyPerRoute: number;
  /** A proxied request body that sends no bytes for this long is dropped with 408. Defaults to 10 000 ms. */
  requestBodyIdleTimeoutMs: number;
  /** The request line and headers must arrive within this. Defaults to 30 000 ms. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this. Defaults to 30 s plus 1 s per 64 KiB of `bodyLimit`. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. Defaults to 5 000 ms. */
  keepAliveTimeoutMs: number;
  /** Seals upstream keys at rest; the desktop shell passes one backed by Electron's `safeStorage`. Defaults to a 0600 key file beside the database. */
  secretBox?: SecretBox;
  // ─────────────────────────────────────────────────────────────────────────
  /** The built web app served at `/` (the renderer's `out/renderer`); none when missing. */
  webRoot?: string;
  /** Use this logger instead of making one (tests pass a silent one). */
  logger?: Logger;
  /** How engine processes start (`nodeLauncher()` unless the shell hands its own, e.g. Electron's utilityProcess). */
  launcher?: EngineLauncher;
  /** An engine that shows no progress for this long while requests wait is killed and restarted. */
  engineWatchdogMs: number;
  /** Longest the inspector may take to read one GGUF file before it is stopped and the file marked unreadable. */
  inspectorTimeoutMs: number;
}

export const PRODUCT_NAME = "MaaS-Base";
export const DEFAULT_PORT = 8421;

/**
 * The per-user app-data folder, the same one Electron's `app.getPath("userData")`
 * gives the desktop app, so the CLI and the window share keys, models and usage.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.MAAS_BASE_DATA_DIR) return env.MAAS_BASE_DATA_DIR;
  if (platform === "win32") return join(env.APPDATA ?? join(homedir(), "AppData", "Roaming"), PRODUCT_NAME);
  if (platform === "darwin") return join(homedir(), "Library", "Application Support", PRODUCT_NAME);
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), PRODUCT_NAME);
}

export function resolveOptions(partial: Partial<CoreOptions> = {}): CoreOptions {
  const dataDir = partial.dataDir ?? defaultDataDir();
  return {
    host: partial.host ?? "127.0.0.1",
    port: partial.port ?? DEFAULT_PORT,
    dataDir,
    modelsDir: partial.modelsDir ?? join(dataDir, "models"),
    ...(partial.threads !== undefined ? { threads: partial.threads } : {}),
    gpu: partial.gpu ?? "auto",
    parallel: partial.parallel ?? 4,
    maxQueue: partial.maxQueue ?? 32,
    contextSize: partial.contextSize ?? 8192,
    bodyLimit: partial.bodyLimit ?? 16 * 1024 * 1024,
    allowedHosts: partial.allowedHosts ?? [],
    logLevel: partial.logLevel ?? "info",
    allowLoopbackWithoutKey: partial.allowLoopbackWithoutKey ?? false,
    corsOrigins: partial.corsOrigins ?? [],
    metricsWithoutKey: partial.metricsWithoutKey ?? false,
    usageRetention: partial.usageRetention ?? { requestDays: 30, rollupDays: 396 },
    maxLoadedModels: partial.maxLoadedModels ?? 4,
    upstreamTimeoutMs: partial.upstreamTimeoutMs ?? 120_000,
    webRoot: partial.webRoot ?? defaultWebRoot(),
    ...gatewayDefaults(partial),
    modelTtlMinutes: partial.modelTtlMinutes ?? 15,
    ...(partial.ramBudgetBytes !== undefined ? { ramBudgetBytes: partial.ramBudgetBytes } : {}),
    ...(partial.hfEndpoint ? { hfEndpoint: partial.hfEndpoint } : {}),
    ...(partial.hfToken ? { hfToken: partial.hfToken } : {}),
    ...(partial.logger ? { logger: partial.logger } : {}),
    ...(partial.launcher ? { launcher: partial.launcher } : {}),
    engineWatchdogMs: partial.engineWatchdogMs ?? 30_000,
    inspectorTimeoutMs: partial.inspectorTimeoutMs ?? 20_000,
  };
}

/** The gateway-hardening options (issue 19) with their defaults. */
function gatewayDefaults(partial: Partial<CoreOptions>) {
  const headersTimeoutMs = partial.headersTimeoutMs ?? 30_000;
  const bodyLimit = partial.bodyLimit ?? 16 * 1024 * 1024;
  return {
    allowPrivateUpstreams: partial.allowPrivateUpstreams ?? false,
    upstreamConcurrencyPerRoute: partial.upstreamConcurrencyPerRoute ?? 64,
    requestBodyIdleTimeoutMs: partial.requestBodyIdleTimeoutMs ?? 10_000,
    headersTimeoutMs,
    // A slow but live client gets 64 KiB/s for the largest body it may send.
    requestTimeoutMs: partial.requestTimeoutMs ?? headersTimeoutMs + Math.ceil(bodyLimit / 65_536) * 1000,
    keepAliveTimeoutMs: partial.keepAliveTimeoutMs ?? 5_000,
    ...(partial.secretBox ? { secretBox: partial.secretBox } : {}),
  };
}

/** The renderer build next to the sources (`out/renderer`), if it was built. */
export function defaultWebRoot(): string {
  return fileURLToPath(new URL("../../out/renderer", import.meta.url));
}

/** Whether `host` keeps the server on this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

export function databasePath(dataDir: string): string {
  return join(dataDir, "maas-base.sqlite");
}
