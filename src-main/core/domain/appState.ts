import { randomBytes } from "node:crypto";
import type { Db } from "../db/database.js";
import { prep } from "../db/database.js";
import { NotFoundError } from "../errors.js";
import { parseSetting, SAVED_SETTING_KEYS, type SavedSettingKey, type Settings, validSaved } from "../settings.js";

export interface Conversation {
  id: string;
  title: string;
  model: string | null;
  /** The playground's own JSON: messages, system prompt, parameters. */
  data: unknown;
  createdAt: number;
  updatedAt: number;
}

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

/** Playground conversations, saved in SQLite. */
export class ConversationStore {
  constructor(private readonly db: Db) {}

  list(): Array<Omit<Conversation, "data">> {
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

/**
 * Server settings saved by the app (their keys, types and defaults are declared in
 * settings.ts); `createCore` applies them at the next start, under what was given at launch.
 */
export type SavedSettings = Partial<Pick<Settings, SavedSettingKey>>;

/** The keys the app may save (kept for importers of the old name). */
export const SETTING_KEYS: readonly SavedSettingKey[] = SAVED_SETTING_KEYS;

export class SettingsStore {
  constructor(private readonly db: Db) {}

  /** The saved values that still pass their schema (an invalid one is ignored, as if unset). */
  get(): SavedSettings {
    const rows = prep(this.db, "SELECT key, value FROM settings").all() as Array<{ key: string; value: string }>;
    const raw: Record<string, unknown> = {};
    for (const row of rows) {
      try {
        raw[row.key] = JSON.parse(row.value);
      } catch {
        // a value no version of the app wrote: treat it as unset
      }
    }
    return validSaved(raw) as SavedSettings;
  }

  /** Sets the given keys (each checked by its schema); `null` removes a key (back to the default). */
  update(changes: Partial<Record<SavedSettingKey, unknown>>): SavedSettings {
    const checked = Object.entries(changes).map(([key, value]) => {
      if (!(SAVED_SETTING_KEYS as string[]).includes(key)) throw new Error(`'${key}' is not a saved setting`);
      return [key, value === null || value === undefined ? null : parseSetting(key as SavedSettingKey, value)] as const;
    });
    this.db.transaction(() => {
      for (const [key, value] of checked) {
        if (value === null) prep(this.db, "DELETE FROM settings WHERE key = ?").run(key);
        else prep(this.db, "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").run(key, JSON.stringify(value));
      }
    })();
    return this.get();
  }
}

/** One-time sign-in codes for the web app, exchanged once for a session key. */
export class SignInCodes {
  private readonly codes = new Map<string, number>();

  create(ttlMs = 15 * 60_000): string {
    const code = randomBytes(18).toString("base64url");
    this.codes.set(code, Date.now() + ttlMs);
    return code;
  }

  /** True once per valid code. */
  consume(code: string): boolean {
    const expires = this.codes.get(code);
    this.codes.delete(code);
    return expires !== undefined && expires > Date.now();
  }
}
