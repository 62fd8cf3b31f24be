/** Playground conversations, saved in SQLite. */
import { randomBytes } from "node:crypto";
import type { ConversationPublic, ConversationSummary } from "../contract/conversations.js";
import { type Db, prep } from "../db/database.js";
import { NotFoundError } from "../errors.js";

/** A saved conversation (the contract's `ConversationPublic`). */
export type Conversation = ConversationPublic;

interface ConversationRow {
  id: string;
  title: string;
  model: string | null;
  data: string;
  created_at: number;
  updated_at: number;
}

const toConversation = (r: ConversationRow): Conversation => ({
  id: r.id,
  title: r.title,
  model: r.model,
  data: JSON.parse(r.data),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class ConversationStore {
  constructor(private readonly db: Db) {}

  list(): ConversationSummary[] {
    return (prep(this.db, "SELECT * FROM conversations ORDER BY updated_at DESC LIMIT 500").all() as ConversationRow[]).map(
      (r) => {
        const { data: _data, ...rest } = toConversation(r);
        return rest;
      },
    );
  }

  get(id: string): Conversation {
    const row = prep(this.db, "SELECT * FROM conversations WHERE id = ?").get(id) as ConversationRow | undefined;
    if (!row) throw new NotFoundError(`No conversation with id '${id}'.`, "id", "conversation_not_found");
    return toConversation(row);
  }

  save(input: { id?: string; title: string; model: string | null; data: unknown }): Conversation {
    const now = Date.now();
    const id = input.id ?? `conv_${randomBytes(8).toString("hex")}`;
    prep(
      this.db,
      `INSERT INTO conversations (id, title, model, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET title = excluded.title, model = excluded.model, data = excluded.data,
         updated_at = excluded.updated_at`,
    ).run(id, input.title.slice(0, 200), input.model, JSON.stringify(input.data), now, now);
    return this.get(id);
  }

  remove(id: string): boolean {
    return prep(this.db, "DELETE FROM conversations WHERE id = ?").run(id).changes > 0;
  }
}
