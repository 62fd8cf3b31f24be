import { homedir } from "node:os";
import { join, posix, win32 } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { SecretBox } from "./db/secretBox.js";
import type { EngineLauncher } from "./engine/process/launcher.js";
import { mergeSettings, SETTING_KEYS, SETTINGS, type SettingKey, type SettingSource, type Settings } from "./settings.js";

/**
 * Options for one running core. Every field has a default a desktop user can live with.
 * The fields that are settings (settings.ts) must have the same types there; defaults live there.
 */
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
  /** Most items in one JSON array of a request body; 10× as many values in all (larger → 413). */
  maxJsonItems: number;
  /** Extra `Host` header names accepted besides the loopback names (DNS-rebinding defence). */
  allowedHosts: string[];
  logLevel: Settings["logLevel"];
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
  /** Disk each chat model's saved prompt prefixes may take, in bytes (`prefixCacheDir`); 0 = off. */
  prefixCacheMaxBytes: number;
  /** A sequence's prefix is saved when a new prompt would overwrite at least this many of its tokens. */
  prefixCacheMinTokens: number;
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
  /**
   * Build a tuned engine for this CPU in the background on first start, where cmake
   * and a compiler exist (minutes of CPU; the prebuilt engine serves meanwhile).
   * Defaults to off; `serve` turns it on outside CI and tests.
   */
  engineAutoBuild: boolean;
  /** Use this logger instead of making one (tests pass a silent one). */
  logger?: Logger;
  /** Where each setting's value came from (filled in by `resolveOptions`). */
  settingSources?: Record<SettingKey, SettingSource>;
  /** How engine processes start (`nodeLauncher()` unless the shell hands its own, e.g. Electron's utilityProcess). */
  launcher?: EngineLauncher;
  /** An engine that shows no progress for this long while requests wait is killed and restarted. */
  engineWatchdogMs: number;
  /** Longest the inspector may take to read one GGUF file before it is stopped and the file marked unreadable. */
  inspectorTimeoutMs: number;
}

// The settings table and these options must agree on every shared field's type.
type SettingFieldsMatch = {
  [K in SettingKey]: Settings[K] extends Exclude<CoreOptions[K], undefined>
    ? Exclude<CoreOptions[K], undefined> extends Settings[K]
      ? true
      : K
    : K;
}[SettingKey];
const settingFieldsMatch: SettingFieldsMatch = true;
void settingFieldsMatch;

export const PRODUCT_NAME = "MaaS-Base";
export const DEFAULT_PORT = SETTINGS.port.default;

/**
 * The per-user app-data folder. Every shell uses this one function: the CLI (`--data-dir`
 * default), `createCore`, and the desktop app, which sets Electron's `userData` to it
 * before anything reads the path, so `npm start`, `npm run dev`, the packaged app and
 * `maas-base serve` share keys, models and usage. It is also where Electron itself would
 * put `userData` for an app named MaaS-Base. `MAAS_BASE_DATA_DIR` moves it (tests, smoke runs).
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  if (env.MAAS_BASE_DATA_DIR) return env.MAAS_BASE_DATA_DIR;
  const path = platform === "win32" ? win32 : posix;
  if (platform === "win32") return path.join(env.APPDATA ?? path.join(home, "AppData", "Roaming"), PRODUCT_NAME);
  if (platform === "darwin") return path.join(home, "Library", "Application Support", PRODUCT_NAME);
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, ".config"), PRODUCT_NAME);
}

/** The options given at launch that are settings (undefined ones left out). */
function launchSettings(partial: Partial<CoreOptions>): Partial<Record<SettingKey, unknown>> {
  const out: Partial<Record<SettingKey, unknown>> = {};
  for (const key of SETTING_KEYS) if (partial[key] !== undefined) out[key] = partial[key];
  return out;
}

/**
 * The options of one core: for each setting, what the shell gave (`partial`) wins over
 * what the app saved (`saved`), which wins over the default declared in settings.ts.
 */
export function resolveOptions(partial: Partial<CoreOptions> = {}, saved: Partial<Settings> = {}): CoreOptions {
  const dataDir = partial.dataDir ?? defaultDataDir();
  const { values, sources } = mergeSettings(saved, launchSettings(partial));
  return {
    ...values,
    dataDir,
    modelsDir: values.modelsDir ?? join(dataDir, "models"),
    webRoot: partial.webRoot ?? defaultWebRoot(),
    settingSources: sources,
    engineAutoBuild: partial.engineAutoBuild ?? false,
    ...gatewayDefaults(partial),
    ...(partial.hfToken ? { hfToken: partial.hfToken } : {}),
    ...(partial.logger ? { logger: partial.logger } : {}),
    ...(partial.launcher ? { launcher: partial.launcher } : {}),
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

/** Where saved prompt prefixes live, one folder per model (engine/prefixStore.ts). */
export function prefixCacheDir(dataDir: string): string {
  return join(dataDir, "prefix-cache");
}

export function databasePath(dataDir: string): string {
  return join(dataDir, "maas-base.sqlite");
}
