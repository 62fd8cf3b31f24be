/** Downloads from Hugging Face: `/api/admin/downloads`. */
import { z } from "zod";

/** `POST /api/admin/downloads`: `owner/repo/file.gguf`, `owner/repo:quant` or an https URL. */
export const DownloadCreate = z.object({ ref: z.string().min(1) });
export type DownloadCreate = z.infer<typeof DownloadCreate>;

export const DOWNLOAD_STATUSES = ["queued", "downloading", "paused", "verifying", "done", "failed", "cancelled"] as const;
export type DownloadStatus = (typeof DOWNLOAD_STATUSES)[number];

export const DownloadPublic = z.object({
  id: z.string(),
  uri: z.string(),
  hfRepo: z.string().nullable(),
  hfFile: z.string().nullable(),
  fileName: z.string(),
  status: z.enum(DOWNLOAD_STATUSES),
  totalBytes: z.number(),
  downloadedBytes: z.number(),
  /** Bytes per second over the last few seconds (0 when not running or not measured yet). */
  speed: z.number(),
  /** Seconds left at that speed (null until a second or more of progress was measured). */
  etaSeconds: z.number().nullable(),
  modelId: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type DownloadPublic = z.infer<typeof DownloadPublic>;
