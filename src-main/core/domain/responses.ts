import { type Db, prep } from "../db/database.js";
import type { ChatMessage } from "../inference/types.js";

/** How long stored responses (`store: true`) are kept, as OpenAI does by default. */
export const RESPONSE_RETENTION_MS = 30 * 24 * 3600 * 1000;

export interface StoredResponse {
  id: string;
  apiKeyId: number | null;
  model: string;
  previousResponseId: string | null;
  response: Record<string, unknown>;
  inputItems: Array<Record<string, unknown>>;
  /** The whole conversation after this response (without `instructions`), to continue it. */
  conversation: ChatMessage[];
}

interface Row {
  id: string;
  created_at: number;
  api_key_id: number | null;
  model: string;
  previous_response_id: string | null;
  response_json: string;
  input_items_json: string;
  conversation_json: string;
}

/** Responses API state in SQLite: what `previous_response_id`, retrieve and delete read. */
export class ResponseStore {
  private lastPrune = 0;

  constructor(
    private readonly db: Db,
    private readonly retentionMs = RESPONSE_RETENTION_MS,
  ) {}

  save(stored: StoredResponse): void {
    this.prune();
    prep(
      this.db,
      `INSERT OR REPLACE INTO responses (id, created_at, api_key_id, model, previous_response_id, response_json,
           input_items_json, conversation_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      stored.id,
      Date.now(),
      stored.apiKeyId,
      stored.model,
      stored.previousResponseId,
      JSON.stringify(stored.response),
      JSON.stringify(stored.inputItems),
      JSON.stringify(stored.conversation),
    );
  }

  get(id: string): StoredResponse | undefined {
    const row = prep(this.db, "SELECT * FROM responses WHERE id = ? AND created_at > ?").get(id, Date.now() - this.retentionMs) as
      | Row
      | undefined;
    if (!row) return undefined;
    return {
      id: row.id,
      apiKeyId: row.api_key_id,
      model: row.model,
      previousResponseId: row.previous_response_id,
      response: JSON.parse(row.response_json),
      inputItems: JSON.parse(row.input_items_json),
      conversation: JSON.parse(row.conversation_json),
    };
  }

  delete(id: string): boolean {
    return prep(this.db, "DELETE FROM responses WHERE id = ?").run(id).changes > 0;
  }

  /** Drops responses past retention, at most once a minute. */
  prune(now = Date.now()): void {
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    prep(this.db, "DELETE FROM responses WHERE created_at <= ?").run(now - this.retentionMs);
  }
}
