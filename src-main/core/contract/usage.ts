/** Usage and the request log: `/api/admin/usage`, `/api/admin/usage/series`, `/api/admin/usage/requests`. Query strings. */
import { z } from "zod";

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const day = (param: string) => z.string().regex(DAY, `${param} must be a UTC day, YYYY-MM-DD.`).optional();
/** An integer given as query text (empty = not given). */
const int = (param: string) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === "") return undefined;
      const n = Number(value);
      if (!Number.isInteger(n)) {
        ctx.addIssue({ code: "custom", message: `${param} must be an integer.` });
        return z.NEVER;
      }
      return n;
    });
const format = z.enum(["json", "csv"], { error: "format is json or csv." }).optional();

export const USAGE_GROUPS = ["model", "key", "operation", "day"] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];
export const SERIES_GROUPS = ["model", "key", "operation"] as const;

/** `GET /api/admin/usage?from=&to=&groupBy=&format=`: totals per group over UTC days (the last 30 by default). */
export const UsageListQuery = z.object({
  from: day("from"),
  to: day("to"),
  groupBy: z.enum(USAGE_GROUPS, { error: "groupBy must be one of: model, key, operation, day." }).default("model"),
  format,
});
export type UsageListQuery = z.input<typeof UsageListQuery>;

/** `GET /api/admin/usage/series?from=&to=&groupBy=`: per day and group. */
export const UsageSeriesQuery = z.object({
  from: day("from"),
  to: day("to"),
  groupBy: z.enum(SERIES_GROUPS, { error: "groupBy must be one of: model, key, operation." }).default("model"),
});
export type UsageSeriesQuery = z.input<typeof UsageSeriesQuery>;

/** `GET /api/admin/usage/requests`: the request log, newest first. `model`, `key` (a key's name), `operation` and `error` match a part of the value. */
export const UsageRequestListQuery = z.object({
  limit: int("limit"),
  offset: int("offset"),
  model: z.string().optional(),
  keyId: int("keyId"),
  key: z.string().optional(),
  operation: z.string().optional(),
  status: int("status"),
  error: z.string().optional(),
  /** Inclusive bounds, epoch ms. */
  from: int("from"),
  to: int("to"),
  format,
});
export type UsageRequestListQuery = z.input<typeof UsageRequestListQuery>;

/** One group's totals. */
export const UsageSummaryPublic = z.object({
  group: z.string(),
  requests: z.number(),
  errors: z.number(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  totalTokens: z.number(),
  durationMs: z.number(),
});
export type UsageSummaryPublic = z.infer<typeof UsageSummaryPublic>;

/** One request in the log (no prompt text). */
export const UsageRecordPublic = z.object({
  id: z.number().int(),
  requestId: z.string(),
  apiKeyId: z.number().int().nullable(),
  /** The name the client asked for (a route or model name); `model` is what served it. */
  route: z.string().nullable(),
  model: z.string().nullable(),
  operation: z.string(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  /** Of `promptTokens`, those the engine reused from a sequence's cache. */
  cachedTokens: z.number().optional(),
  ttftMs: z.number().nullable(),
  durationMs: z.number(),
  status: z.number().int(),
  bytesIn: z.number().nullish(),
  bytesOut: z.number().nullish(),
  error: z.string().nullish(),
  createdAt: z.number(),
});
export type UsageRecordPublic = z.infer<typeof UsageRecordPublic>;

export interface UsageListPublic {
  from: string;
  to: string;
  groupBy: UsageGroup;
  data: UsageSummaryPublic[];
}

export interface UsageSeriesPublic {
  from: string;
  to: string;
  groupBy: Exclude<UsageGroup, "day">;
  data: Array<{ day: string; group: string; requests: number; tokens: number }>;
}

export interface UsageRequestListPublic {
  data: UsageRecordPublic[];
  total: number;
  limit: number;
  offset: number;
}
