/**
 * The server's settings, declared once: type and bounds (zod), default, description,
 * the `serve` flag that sets it and whether the app's Settings page may save it. Pure
 * data (zod only), so the Settings page checks a value exactly as the server will.
 * The CLI's flags, the saved settings, `createCore`'s options, the admin settings API
 * and the Settings page all read this table; core/settings.ts merges and parses it.
 *
 * Precedence, for each setting: what the shell gives at launch (`serve` flags, or the
 * options the desktop shell passes to `createCore`) > saved in the app > default.
 *
 * To add a setting: add an entry below (and the same-named field to `CoreOptions` in
 * config.ts, which the type check then requires to match). It gets a flag if it has
 * `flag`, is accepted by `PUT /api/admin/settings` if `saved: true`, and is shown by
 * `GET /api/admin/settings` either way.
 */
import { z } from "zod";

/**
 * The server's cap on every model's context, in tokens (`serve --context-size`).
 * Coding agents open with 23k–41k-token prompts (Claude Code ~41k); 64k covers them.
 */
export const DEFAULT_CONTEXT_CAP = 65_536;

/** How a flag's text becomes a value before the schema checks it. */
export type FlagKind = "string" | "integer" | "number" | "switch" | "list";

export interface SettingDefinition<S extends z.ZodType> {
  schema: S;
  /** `undefined` = decided at run time (e.g. threads = the machine's physical cores). */
  default: z.infer<S> | undefined;
  /** One line, for `--help`, the admin API and the Settings page. */
  description: string;
  /**
   * The `serve` flag. A `switch` flag sets `switchValue` (default `true`) when given,
   * e.g. `--cpu` sets `gpu` to `false`.
   */
  flag?: { flags: string; kind: FlagKind; switchValue?: z.infer<S> };
  /** The app's Settings page may save it; it applies at the next start. */
  saved: boolean;
}

/** Keeps each entry's own default type, so settings without one stay optional in `ResolvedSettings`. */
const setting = <S extends z.ZodType, D extends z.infer<S> | undefined>(
  definition: SettingDefinition<S> & { default: D },
): SettingDefinition<S> & { default: D } => definition;

const hostSchema = z.string().min(1).max(255);

export const SETTINGS = {
  host: setting({
    schema: hostSchema,
    default: "127.0.0.1",
    description: "interface to bind",
    flag: { flags: "--host <host>", kind: "string" },
    saved: true,
  }),
  port: setting({
    schema: z.number().int().min(0).max(65535),
    default: 8421,
    description: "port to bind (0 = any free port)",
    flag: { flags: "--port <port>", kind: "integer" },
    saved: true,
  }),
  modelsDir: setting({
    schema: z.string().min(1),
    default: undefined,
    description: "folder scanned for *.gguf models (default <data-dir>/models)",
    flag: { flags: "--models-dir <dir>", kind: "string" },
    saved: true,
  }),
  threads: setting({
    schema: z.number().int().min(1).max(256),
    default: undefined,
    description: "threads per model context (default: physical cores)",
    flag: { flags: "--threads <n>", kind: "integer" },
    saved: true,
  }),
  gpu: setting({
    schema: z.union([z.literal("auto"), z.literal(false)]),
    default: "auto",
    description: "do not use a GPU even when one is found",
    flag: { flags: "--cpu", kind: "switch", switchValue: false },
    saved: false,
  }),
  parallel: setting({
    schema: z.number().int().min(1).max(64),
    default: 4,
    description: "parallel sequences per chat model",
    flag: { flags: "--parallel <n>", kind: "integer" },
    saved: true,
  }),
  maxQueue: setting({
    schema: z.number().int().min(0).max(100_000),
    default: 32,
    description: "requests that may wait per model before 429",
    flag: { flags: "--max-queue <n>", kind: "integer" },
    saved: true,
  }),
  contextSize: setting({
    schema: z.number().int().min(64).max(4_194_304),
    default: DEFAULT_CONTEXT_CAP,
    description:
      "cap on each sequence's context: a model gets the largest its training context and free memory allow, up to this",
    flag: { flags: "--context-size <n>", kind: "integer" },
    saved: true,
  }),
  bodyLimit: setting({
    schema: z.number().int().min(1024),
    default: 16 * 1024 * 1024,
    description: "largest accepted request body, in bytes (larger → 413)",
    saved: false,
  }),
  maxJsonItems: setting({
    schema: z.number().int().min(1000).max(10_000_000),
    default: 100_000,
    description:
      "most items one JSON array in a request body may hold (a messages, tools, input or enum array); a body may hold 10× as many values in all (larger → 413)",
    flag: { flags: "--max-json-items <n>", kind: "integer" },
    saved: true,
  }),
  allowedHosts: setting({
    schema: z.array(hostSchema),
    default: [],
    description: "extra Host header names to accept (for LAN use)",
    flag: { flags: "--allowed-host <name...>", kind: "list" },
    saved: true,
  }),
  logLevel: setting({
    schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    default: "info",
    description: "pino log level",
    flag: { flags: "--log-level <level>", kind: "string" },
    saved: false,
  }),
  allowLoopbackWithoutKey: setting({
    schema: z.boolean(),
    default: false,
    description: "let clients on this machine call the inference endpoints without a key",
    flag: { flags: "--allow-loopback-without-key", kind: "switch" },
    saved: true,
  }),
  corsOrigins: setting({
    schema: z.array(z.string().min(1)),
    default: [],
    description: "browser origins allowed to call the API ('*' for any)",
    flag: { flags: "--cors-origin <origin...>", kind: "list" },
    saved: true,
  }),
  metricsWithoutKey: setting({
    schema: z.boolean(),
    default: false,
    description: "serve GET /metrics without a management key",
    flag: { flags: "--metrics-without-key", kind: "switch" },
    saved: true,
  }),
  maxLoadedModels: setting({
    schema: z.number().int().min(1).max(64),
    default: 4,
    description: "models kept in memory at once",
    flag: { flags: "--max-loaded-models <n>", kind: "integer" },
    saved: true,
  }),
  modelTtlMinutes: setting({
    schema: z.number().min(0),
    default: 15,
    description: "idle minutes before a model unloads (0 = never)",
    flag: { flags: "--model-ttl-minutes <n>", kind: "number" },
    saved: true,
  }),
  ramBudgetBytes: setting({
    schema: z.number().int().min(0),
    default: undefined,
    description: "RAM the loaded models may take together, in bytes (default: whatever is free)",
    saved: true,
  }),
  prefixCacheMaxBytes: setting({
    schema: z.number().int().min(0),
    default: 2 * 2 ** 30,
    description:
      "disk each chat model's saved prompt prefixes may take, in bytes (under <data-dir>/prefix-cache; least recently used deleted first; 0 = off)",
    flag: { flags: "--prefix-cache-max-bytes <n>", kind: "integer" },
    saved: true,
  }),
  prefixCacheMinTokens: setting({
    schema: z.number().int().min(1),
    default: 1024,
    description:
      "a sequence's state is saved to disk before a new prompt overwrites at least this many of its tokens that no saved file holds",
    flag: { flags: "--prefix-cache-min-tokens <n>", kind: "integer" },
    saved: true,
  }),
  upstreamTimeoutMs: setting({
    schema: z.number().int().min(1),
    default: 120_000,
    description: "how long an upstream may take to start answering before 504, in ms",
    saved: true,
  }),
  usageRetention: setting({
    schema: z.object({ requestDays: z.number().int().min(1), rollupDays: z.number().int().min(1) }),
    default: { requestDays: 30, rollupDays: 396 },
    description: "days request rows and daily usage rollups are kept",
    saved: true,
  }),
  engineWatchdogMs: setting({
    schema: z.number().int().min(1000),
    default: 30_000,
    description: "an engine that shows no progress for this long while requests wait is killed and restarted, in ms",
    saved: true,
  }),
  inspectorTimeoutMs: setting({
    schema: z.number().int().min(1000),
    default: 20_000,
    description: "longest the inspector may take to read one GGUF file before it is marked unreadable, in ms",
    saved: true,
  }),
  hfEndpoint: setting({
    schema: z.url(),
    default: undefined,
    description: "Hugging Face base URL (default: $HF_ENDPOINT or https://huggingface.co)",
    flag: { flags: "--hf-endpoint <url>", kind: "string" },
    saved: true,
  }),
} as const;

export type SettingKey = keyof typeof SETTINGS;
/** Every setting with its value type; optional ones have no default. */
export type Settings = { [K in SettingKey]: z.infer<(typeof SETTINGS)[K]["schema"]> };
type KeysWithDefault = { [K in SettingKey]: (typeof SETTINGS)[K]["default"] extends undefined ? never : K }[SettingKey];
/** The settings once defaults apply: those without a default may still be missing. */
export type ResolvedSettings = Pick<Settings, KeysWithDefault> & Partial<Omit<Settings, KeysWithDefault>>;

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];
/** The settings the app may save (the rest are flags or options only). */
export const SAVED_SETTING_KEYS = SETTING_KEYS.filter((k) => SETTINGS[k].saved);
export type SavedSettingKey = (typeof SAVED_SETTING_KEYS)[number];

export type SettingSource = "default" | "saved" | "launch";

/** `PUT /api/admin/settings`: saveable keys only; `null` removes a saved value (back to the default). */
export const SavedSettingsUpdate = z
  .object(Object.fromEntries(SAVED_SETTING_KEYS.map((k) => [k, SETTINGS[k].schema.nullish()])) as Record<string, z.ZodType>)
  .strict();

/** `PUT /api/admin/settings` (the same schema under its family name). */
export const SettingsUpdate = SavedSettingsUpdate;
/** Saveable keys only; `null` removes a saved value (back to the default). */
export type SettingsUpdate = Partial<{ [K in SavedSettingKey]: Settings[K] | null }>;

/** Server settings saved by the app; `createCore` applies them at the next start, under what was given at launch. */
export type SavedSettings = Partial<Pick<Settings, SavedSettingKey>>;

/** What `GET /api/admin/settings` tells of each setting, so the UI needs no copy of this table's texts. */
export interface SettingDescription {
  description: string;
  default: unknown;
  saved: boolean;
  flag: string | null;
}

/** The body of `GET /api/admin/settings` (and of a `PUT`'s answer, with `restartRequired`). */
export interface SettingsPublic {
  /** What the app saved (applies at the next start). */
  saved: SavedSettings;
  /** What this server runs with; `null` = decided at run time. */
  running: Record<SettingKey, unknown>;
  /** Settings given at launch (a `serve` flag, or the desktop shell), which win over saved values. */
  fromFlags: SettingKey[];
  sources: Partial<Record<SettingKey, SettingSource>>;
  settings: Record<SettingKey, SettingDescription>;
  restartRequired?: boolean;
}
