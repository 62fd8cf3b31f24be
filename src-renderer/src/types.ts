/**
 * The shapes the admin API answers with: the core's own types, imported for their
 * types only (nothing of the core is bundled into the renderer).
 */
import type { ModelInfo } from "../../src-main/core/inference/types.js";

export type { ApiKeyPublic as ApiKey } from "../../src-main/core/domain/apiKeys.js";
export type { SavedSettings } from "../../src-main/core/domain/appState.js";
export type { DownloadInfo as Download } from "../../src-main/core/domain/downloads.js";
export type { Route } from "../../src-main/core/domain/routes.js";
export type { UsageRecord as UsageRow, UsageSummaryRow } from "../../src-main/core/domain/usage.js";
export type { EngineDescription as System, FitEstimate as Fit } from "../../src-main/core/inference/engineReport.js";
export type { ModelSettings } from "../../src-main/core/inference/types.js";

import type { FitEstimate } from "../../src-main/core/inference/engineReport.js";

/** A library entry as `GET /api/admin/library` gives it: the model, its effective settings, state and fit. */
export interface Model extends ModelInfo {
  effectiveSettings?: { parallel: number; contextSize: number; threads?: number; gpuLayers: unknown; ttlMinutes: number };
  state?: "unloaded" | "loading" | "ready" | "error";
  load?: {
    progress: number;
    error: string | null;
    activeSequences: number;
    queued: number;
    /** The chat context it has now (0 before its first chat request). */
    contextSize?: number;
    /** The last reload with a larger context (a prompt did not fit the one it had). */
    lastReload?: { at: number; from: number; to: number; reason: string } | null;
  } | null;
  fit?: FitEstimate | null;
}
