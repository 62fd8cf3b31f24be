/**
 * Server settings saved by the app (their keys, types and defaults are declared in
 * contract/settings.ts); `createCore` applies them at the next start, under what was given at launch.
 */
import type { SavedSettings } from "../contract/settings.js";
import { type Db, prep } from "../db/database.js";
import { parseSetting, SAVED_SETTING_KEYS, type SavedSettingKey, validSaved } from "../settings.js";

export type { SavedSettings } from "../contract/settings.js";

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
