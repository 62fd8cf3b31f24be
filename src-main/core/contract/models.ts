/** The model library: `/api/admin/library`, `/api/admin/models/*`. */
import { z } from "zod";
import type { FitEstimate, ModelLoadReport, ModelLoadState } from "../inference/engineReport.js";
import type { ModelInfo } from "../inference/types.js";

export type { FitEstimate, FitSettings } from "../inference/engineReport.js";
export type { ModelCapability, ModelInfo } from "../inference/types.js";

const sampling = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().min(0).max(1).optional(),
    topK: z.number().int().min(0).optional(),
    minP: z.number().min(0).max(1).optional(),
  })
  .strict();

const contextSize = z
  .number()
  .int()
  .min(64)
  .max(1 << 20);

/**
 * `PUT /api/admin/models/:id/settings` and `POST /api/admin/models/:id/fit`: a model's own
 * settings (left out = the server's default). A model's `settings` as GET gives them may be sent back.
 */
export const ModelSettingsUpdate = z
  .object({
    contextSize: contextSize.optional(),
    gpuLayers: z.union([z.literal("auto"), z.literal("max"), z.number().int().min(0)]).optional(),
    parallel: z.number().int().min(1).max(64).optional(),
    ttlMinutes: z
      .number()
      .min(0)
      .max(7 * 24 * 60)
      .optional(),
    threads: z.number().int().min(1).max(256).optional(),
    sampling: sampling.optional(),
    chatTemplate: z.string().max(100_000).optional(),
  })
  .strict();
export type ModelSettingsUpdate = z.infer<typeof ModelSettingsUpdate>;
export type ModelSettings = ModelSettingsUpdate;

/** `POST /api/admin/models/import`: a GGUF file on this machine, copied or linked into the library. */
export const ModelImport = z.object({
  path: z.string().min(1),
  mode: z.enum(["copy", "link"]).default("copy"),
  id: z
    .string()
    .regex(/^[\w.:-]{1,128}$/)
    .optional(),
});
export type ModelImport = z.input<typeof ModelImport>;

/** `POST /api/admin/models/:id/load`: an optional context to load with this time (not saved). */
export const ModelLoad = z.object({ contextSize: contextSize.optional() }).strict();
export type ModelLoad = z.infer<typeof ModelLoad>;

/** The settings a model runs with: its own, else the server's. */
export interface EffectiveSettings {
  parallel: number;
  /** The largest context asked for; the engine gives what free memory allows, down to `contextMin`. */
  contextSize: number;
  contextMin: number;
  threads?: number | undefined;
  gpuLayers: "auto" | "max" | number;
  ttlMinutes: number;
}

export type { ModelLoadReport as ModelLoadPublic, ModelLoadState as ModelState } from "../inference/engineReport.js";

/** A library entry (`GET /api/admin/library`, `GET /api/admin/models/:id`): the model, its effective settings, state and fit. */
export interface ModelPublic extends ModelInfo {
  effectiveSettings: EffectiveSettings;
  state: ModelLoadState;
  load: ModelLoadReport | null;
  fit: FitEstimate | null;
}

/** A model file the inspector could not read, kept so the next scan skips it until it changes. */
export interface UnreadableFilePublic {
  file: string;
  path: string;
  sizeBytes: number;
  reason: string;
  since: number;
}

/** `GET /api/admin/library`. */
export interface LibraryPublic {
  data: ModelPublic[];
  /** Files in the models folder that could not be read, and why (skipped until they change). */
  unreadable: UnreadableFilePublic[];
}

/** The answer to `POST /api/admin/models/scan`. */
export interface ModelScanPublic {
  registered: string[];
  skipped: Array<{ file: string; reason: string }>;
}
