import type { Db } from "../db/database.js";

export type Operation = "chat" | "completion" | "embedding" | "messages" | "responses" | "rerank" | "proxy";

export interface UsageRecordInput {
  requestId: string;
  apiKeyId: number | null;
  model: string | null;
  operation: Operation;
  promptTokens: number;
  completionTokens: number;
  ttftMs: number | null;
  durationMs: number;
  status: number;
}

export interface UsageRecord extends UsageRecordInput {
  id: number;
  createdAt: number;
}

/** One row per inference request, written when the response has finished. */
export class UsageService {
  private readonly insert;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO usage_records (request_id, created_at, api_key_id, model, operation, prompt_tokens,
         completion_tokens, ttft_ms, duration_ms, status)
       VALUES (@requestId, @createdAt, @apiKeyId, @model, @operation, @promptTokens, @completionTokens,
         @ttftMs, @durationMs, @status)`,
    );
  }

  record(input: UsageRecordInput): void {
    this.insert.run({ ...input, createdAt: Date.now() });
  }

  recent(limit = 100): UsageRecord[] {
    const rows = this.db.prepare("SELECT * FROM usage_records ORDER BY id DESC LIMIT ?").all(limit) as Array<
      Record<string, unknown>
    >;
    return rows.map((r) => ({
      id: r.id as number,
      createdAt: r.created_at as number,
      requestId: r.request_id as string,
      apiKeyId: (r.api_key_id as number | null) ?? null,
      model: (r.model as string | null) ?? null,
      operation: r.operation as Operation,
      promptTokens: r.prompt_tokens as number,
      completionTokens: r.completion_tokens as number,
      ttftMs: (r.ttft_ms as number | null) ?? null,
      durationMs: r.duration_ms as number,
      status: r.status as number,
    }));
  }
}
