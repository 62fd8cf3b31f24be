/**
 * The settings table (contract/settings.ts) at work: saved values checked, defaults ←
 * saved ← launch merged with each value's source, `serve` flags parsed.
 */
import type { z } from "zod";
import {
  type ResolvedSettings,
  SAVED_SETTING_KEYS,
  SETTING_KEYS,
  SETTINGS,
  type SettingDefinition,
  type SettingDescription,
  type SettingKey,
  type SettingSource,
  type Settings,
} from "./contract/settings.js";

export {
  type ResolvedSettings,
  SAVED_SETTING_KEYS,
  type SavedSettingKey,
  SavedSettingsUpdate,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type SettingSource,
  type Settings,
  type SettingsPublic as SettingsView,
} from "./contract/settings.js";
/** Checks one value against its setting's schema; the message names the setting. */
export function parseSetting<K extends SettingKey>(key: K, value: unknown): Settings[K] {
  const result = SETTINGS[key].schema.safeParse(value);
  if (!result.success) throw new Error(`${key}: ${result.error.issues.map((i) => i.message).join("; ")}`);
  return result.data as Settings[K];
}

/**
 * Saved values as stored: a value that no longer passes its schema (an older version
 * saved it, or someone edited the database) is dropped, not fatal at start.
 */
export function validSaved(saved: Record<string, unknown>): Partial<Settings> {
  const out: Record<string, unknown> = {};
  for (const key of SAVED_SETTING_KEYS) {
    if (saved[key] === undefined) continue;
    const result = SETTINGS[key].schema.safeParse(saved[key]);
    if (result.success) out[key] = result.data;
  }
  return out as Partial<Settings>;
}

/**
 * Defaults ← saved ← given at launch, for every setting, and where each value came from.
 * `launch` holds only what the shell set explicitly (undefined fields are ignored).
 */
export function mergeSettings(
  saved: Partial<Settings>,
  launch: Partial<Record<SettingKey, unknown>>,
): { values: ResolvedSettings; sources: Record<SettingKey, SettingSource> } {
  const values: Record<string, unknown> = {};
  const sources = {} as Record<SettingKey, SettingSource>;
  const valid = validSaved(saved);
  for (const key of SETTING_KEYS) {
    if (launch[key] !== undefined) {
      values[key] = launch[key];
      sources[key] = "launch";
    } else if (valid[key] !== undefined) {
      values[key] = valid[key];
      sources[key] = "saved";
    } else {
      const fallback = SETTINGS[key].default;
      if (fallback !== undefined) values[key] = structuredClone(fallback);
      sources[key] = "default";
    }
  }
  return { values: values as ResolvedSettings, sources };
}

/** Turns a flag's raw commander value into the setting's value (checked by its schema). */
export function flagValue<K extends SettingKey>(key: K, raw: unknown): Settings[K] {
  const flag = (SETTINGS[key] as SettingDefinition<z.ZodType>).flag;
  if (!flag) throw new Error(`${key} has no flag`);
  const text = String(raw);
  const value =
    flag.kind === "switch"
      ? (flag.switchValue ?? true)
      : flag.kind === "integer" || flag.kind === "number"
        ? text.trim() === ""
          ? Number.NaN
          : Number(text)
        : flag.kind === "list"
          ? Array.isArray(raw)
            ? raw
            : [raw]
          : text;
  return parseSetting(key, value);
}

/** What `GET /api/admin/settings` lists for each setting, so the UI needs no copy of this table. */
export function describeSettings() {
  return Object.fromEntries(
    SETTING_KEYS.map((k) => {
      const def = SETTINGS[k] as SettingDefinition<z.ZodType>;
      return [
        k,
        {
          description: def.description,
          default: def.default ?? null,
          saved: def.saved,
          flag: def.flag?.flags.split(" ")[0] ?? null,
        },
      ];
    }),
  ) as Record<SettingKey, SettingDescription>;
}
