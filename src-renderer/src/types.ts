/**
 * The shapes the admin API answers with, from the admin contract (types only: nothing of
 * the core is bundled into the renderer by this file), under the names the pages use.
 */
export type {
  DownloadPublic as Download,
  FitEstimate as Fit,
  KeyPublic as ApiKey,
  ModelPublic as Model,
  ModelSettings,
  RoutePublic as Route,
  RouteTargetPublic as RouteTarget,
  SavedSettings,
  SystemPublic as System,
  UsageRecordPublic as UsageRow,
  UsageSummaryPublic as UsageSummaryRow,
} from "../../src-main/core/contract/index.js";
