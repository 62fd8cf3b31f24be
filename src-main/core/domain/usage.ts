import { type Db, isBusy, prep } from "../db/database.js";

export type Operation =
  | "chat"
  | "completion"
  | "embedding"
  | "messages"
  | "count_tokens"
  | "responses"
  | "rerank"
  | "models"
  | "proxy";

export interface UsageRecordInput {
  requestId: string;
  apiKeyId: number | null;
  /** The name the client asked for (a route or model name); the model is what served it. */
  route?: string | null;
  model: string | null;
  operation: Operation;
  promptTokens: number;
  completionTokens: number;
  /** Of `promptTokens`, those the engine reused from a sequence's cache (a resent prefix). */
  cachedTokens?: number;
  ttftMs: number | null;
  durationMs: number;
  status: number;
  /** Proxied requests: bytes received from the caller and sent back. */
  bytesIn?: number | null;
  bytesOut?: number | null;
  /** Why a failed request failed (the message its caller got), for the request log. */
  error?: string | null;
}

export interface UsageRecord extends UsageRecordInput {
  id: number;
  createdAt: number;
  route: string | null;
}

export type UsageGroup = "model" | "key" | "operation" | "day";

export interface UsageSummaryRow {
  group: string;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  durationMs: number;
}

export interface RequestFilter {
  limit?: number;
  offset?: number;
  /** Part of the model or route name (case-insensitive). */
  model?: string;
  /** Part of the key's name (case-insensitive). */
  keyName?: string;
  apiKeyId?: number;
  /** Part of the operation's name. */
  operation?: string;
  status?: number;
  /** Part of the error text. */
  error?: string;
  /** Inclusive bounds, epoch ms. */
  from?: number;
  to?: number;
}

export interface RetentionOptions {
  /** Request rows older than this are deleted (default 30 days). */
  requestDays: number;
  /** Daily rollups older than this are deleted (default 13 months ≈ 396 days). */
  rollupDays: number;
}

export const DEFAULT_RETENTION: RetentionOptions = { requestDays: 30, rollupDays: 396 };

const DAY_MS = 86_400_000;
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function toRecord(r: Record<string, unknown>): UsageRecord {
  return {
    id: r.id as number,
    createdAt: r.created_at as number,
    requestId: r.request_id as string,
    apiKeyId: (r.api_key_id as number | null) ?? null,
    route: (r.route as string | null) ?? null,
    model: (r.model as string | null) ?? null,
    operation: r.operation as Operation,
    promptTokens: r.prompt_tokens as number,
    completionTokens: r.completion_tokens as number,
    cachedTokens: (r.cached_tokens as number | null) ?? 0,
    ttftMs: (r.ttft_ms as number | null) ?? null,
    durationMs: r.duration_ms as number,
    status: r.status as number,
    bytesIn: (r.bytes_in as number | null) ?? null,
    bytesOut: (r.bytes_out as number | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

/**
 * One row per inference request, written when the response has finished, and a
 * daily rollup per (day, model, key, operation) kept much longer than the rows.
 */
export class UsageService {
  private readonly insert;
  private readonly rollup;
  private readonly listeners = new Set<(record: UsageRecordInput) => void>();
  private lastPrune = 0;
  private pending: Array<UsageRecordInput & { createdAt: number }> = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private busyRetries = 0;
  /** Request ids recorded lately, oldest first (see `recorded`). */
  private readonly recent = new Set<string>();

  constructor(
    private readonly db: Db,
    private readonly retention: RetentionOptions = DEFAULT_RETENTION,
  ) {
    this.insert = db.prepare(
      `INSERT INTO usage_records (request_id, created_at, api_key_id, route, model, operation, prompt_tokens,
         completion_tokens, cached_tokens, ttft_ms, duration_ms, status, bytes_in, bytes_out, error)
       VALUES (@requestId, @createdAt, @apiKeyId, @route, @model, @operation, @promptTokens, @completionTokens,
         @cachedTokens, @ttftMs, @durationMs, @status, @bytesIn, @bytesOut, @error)`,
    );
    this.rollup = db.prepare(
      `INSERT INTO usage_daily (day, model, api_key_id, operation, requests, errors, prompt_tokens, completion_tokens, duration_ms)
       VALUES (@day, @model, @key, @operation, 1, @error, @promptTokens, @completionTokens, @durationMs)
       ON CONFLICT (day, model, api_key_id, operation) DO UPDATE SET
         requests = requests + 1, errors = errors + excluded.errors,
         prompt_tokens = prompt_tokens + excluded.prompt_tokens,
         completion_tokens = completion_tokens + excluded.completion_tokens,
         duration_ms = duration_ms + excluded.duration_ms`,
    );
  }

  /** Called after every recorded request (metrics listen here). */
  onRecord(listener: (record: UsageRecordInput) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Writes one request's row (and its rollup) before returning: a request that was
   * answered has its row on disk before the next one is served, so a kill -9 loses
   * nothing answered. In WAL mode with `synchronous=NORMAL` a commit is a write to the
   * WAL without an fsync, which is what makes a commit per request affordable. When
   * another process holds the write lock (SQLITE_BUSY after the short busy timeout),
   * the row waits in memory and is retried off the request path.
   */
  record(input: UsageRecordInput): void {
    this.recent.add(input.requestId);
    if (this.recent.size > 1000) this.recent.delete(this.recent.values().next().value as string);
    this.pending.push({ ...input, createdAt: Date.now() });
    for (const listener of this.listeners) listener(input);
    this.flush();
  }

  /** Writes queued rows now; on SQLITE_BUSY keeps them and retries shortly (never blocks for long). */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.db.transaction(() => {
        for (const input of batch) {
          this.insert.run({
            ...input,
            route: input.route ?? input.model,
            cachedTokens: input.cachedTokens ?? 0,
            bytesIn: input.bytesIn ?? null,
            bytesOut: input.bytesOut ?? null,
            error: input.error ?? null,
          });
          this.rollup.run({
            day: utcDay(input.createdAt),
            model: input.model ?? "",
            key: input.apiKeyId ?? 0,
            operation: input.operation,
            error: input.status >= 400 ? 1 : 0,
            promptTokens: input.promptTokens,
            completionTokens: input.completionTokens,
            durationMs: input.durationMs,
          });
        }
      })();
      this.busyRetries = 0;
    } catch (error) {
      if (!isBusy(error)) throw error;
      this.pending = [...batch, ...this.pending];
      this.busyRetries++;
      const delay = Math.min(1000, 25 * 2 ** Math.min(this.busyRetries, 6));
      this.flushTimer = setTimeout(() => this.flush(), delay);
      this.flushTimer.unref?.();
      return;
    }
    this.prune(Date.now());
  }

  /** Whether a request has its row already (recent requests only: the error handler asks right after). */
  recorded(requestId: string): boolean {
    return this.recent.has(requestId);
  }

  /** Adds the error text to a failed request's row, when its writer did not know it. */
  noteError(requestId: string, error: string): void {
    const waiting = this.pending.find((p) => p.requestId === requestId);
    if (waiting) {
      waiting.error ??= error;
      return;
    }
    try {
      prep(this.db, "UPDATE usage_records SET error = ? WHERE request_id = ? AND error IS NULL").run(error, requestId);
    } catch (e) {
      if (!isBusy(e)) throw e; // the text is a nicety; never fail a request over it
    }
  }

  /** Rows waiting for the write lock (another process holds it). */
  get unwritten(): number {
    return this.pending.length;
  }

  /** Prompt plus completion tokens a key used today (UTC). */
  tokensToday(apiKeyId: number, now = Date.now()): number {
    this.flush();
    const row = prep(
      this.db,
      "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS n FROM usage_daily WHERE day = ? AND api_key_id = ?",
    ).get(utcDay(now), apiKeyId) as { n: number };
    return row.n;
  }

  /** The request log, newest first, with filters and paging. */
  requests(filter: RequestFilter = {}): { data: UsageRecord[]; total: number } {
    this.flush();
    const where: string[] = [];
    const args: unknown[] = [];
    // Text filters match a part of the value, as a person types it ("qwen" finds "qwen2.5-0.5b").
    const contains = (value: string) => `%${value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    if (filter.model)
      where.push("(model LIKE ? ESCAPE '\\' OR route LIKE ? ESCAPE '\\')") &&
        args.push(contains(filter.model), contains(filter.model));
    if (filter.apiKeyId !== undefined) where.push("api_key_id = ?") && args.push(filter.apiKeyId);
    if (filter.keyName)
      where.push("api_key_id IN (SELECT id FROM api_keys WHERE name LIKE ? ESCAPE '\\')") && args.push(contains(filter.keyName));
    if (filter.operation) where.push("operation LIKE ? ESCAPE '\\'") && args.push(contains(filter.operation));
    if (filter.error) where.push("error LIKE ? ESCAPE '\\'") && args.push(contains(filter.error));
    if (filter.status !== undefined) where.push("status = ?") && args.push(filter.status);
    if (filter.from !== undefined) where.push("created_at >= ?") && args.push(filter.from);
    if (filter.to !== undefined) where.push("created_at <= ?") && args.push(filter.to);
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const limit = Math.min(10_000, Math.max(1, filter.limit ?? 100));
    const offset = Math.max(0, filter.offset ?? 0);
    const rows = prep(this.db, `SELECT * FROM usage_records ${clause} ORDER BY id DESC LIMIT ? OFFSET ?`).all(
      ...args,
      limit,
      offset,
    ) as Array<Record<string, unknown>>;
    const total = (prep(this.db, `SELECT COUNT(*) AS n FROM usage_records ${clause}`).get(...args) as { n: number }).n;
    return { data: rows.map(toRecord), total };
  }

  /** Usage between two UTC days (inclusive, `YYYY-MM-DD`), grouped, from the daily rollups. */
  summary(options: { from: string; to: string; groupBy: UsageGroup }): UsageSummaryRow[] {
    this.flush();
    const column = { model: "model", key: "CAST(api_key_id AS TEXT)", operation: "operation", day: "day" }[options.groupBy];
    const rows = prep(
      this.db,
      `SELECT ${column} AS grp, SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt,
           SUM(completion_tokens) AS completion, SUM(duration_ms) AS duration
         FROM usage_daily WHERE day >= ? AND day <= ? GROUP BY grp ORDER BY grp`,
    ).all(options.from, options.to) as Array<Record<string, number | string>>;
    return rows.map((r) => ({
      group: String(r.grp),
      requests: Number(r.requests),
      errors: Number(r.errors),
      promptTokens: Number(r.prompt),
      completionTokens: Number(r.completion),
      totalTokens: Number(r.prompt) + Number(r.completion),
      durationMs: Number(r.duration),
    }));
  }

  /** Tokens and requests per UTC day for each model, key or operation (for charts over time). */
  series(options: { from: string; to: string; groupBy: Exclude<UsageGroup, "day"> }): Array<{
    day: string;
    group: string;
    requests: number;
    tokens: number;
  }> {
    this.flush();
    const column = { model: "model", key: "CAST(api_key_id AS TEXT)", operation: "operation" }[options.groupBy];
    return (
      prep(
        this.db,
        `SELECT day, ${column} AS grp, SUM(requests) AS requests, SUM(prompt_tokens + completion_tokens) AS tokens
         FROM usage_daily WHERE day >= ? AND day <= ? GROUP BY day, grp ORDER BY day, grp`,
      ).all(options.from, options.to) as Array<{ day: string; grp: string | number; requests: number; tokens: number }>
    ).map((r) => ({ day: r.day, group: String(r.grp), requests: Number(r.requests), tokens: Number(r.tokens) }));
  }

  /** Deletes request rows and rollups past retention, at most once an hour. */
  prune(now = Date.now(), force = false): void {
    if (!force && now - this.lastPrune < 3_600_000) return;
    this.lastPrune = now;
    try {
      prep(this.db, "DELETE FROM usage_records WHERE created_at < ?").run(now - this.retention.requestDays * DAY_MS);
      prep(this.db, "DELETE FROM usage_daily WHERE day < ?").run(utcDay(now - this.retention.rollupDays * DAY_MS));
    } catch (error) {
      if (!isBusy(error)) throw error; // another process holds the write lock: pruning waits for the next hour
    }
  }
}

/** The columns of a request-log CSV export (CLI and admin API alike). */
export const REQUEST_CSV_COLUMNS: ReadonlyArray<keyof UsageRecord & string> = [
  "createdAt",
  "requestId",
  "apiKeyId",
  "route",
  "model",
  "operation",
  "promptTokens",
  "completionTokens",
  "ttftMs",
  "durationMs",
  "status",
  "error",
];

/** The columns of a usage-summary CSV export. */
export const SUMMARY_CSV_COLUMNS: ReadonlyArray<keyof UsageSummaryRow & string> = [
  "group",
  "requests",
  "errors",
  "promptTokens",
  "completionTokens",
  "totalTokens",
  "durationMs",
];

/** RFC 4180 CSV, with a header row. */
export function toCsv<T extends object>(rows: readonly T[], columns: ReadonlyArray<keyof T & string>): string {
  const cell = (value: unknown) => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return `${[columns.join(","), ...rows.map((row) => columns.map((c) => cell(row[c])).join(","))].join("\r\n")}\r\n`;
}
