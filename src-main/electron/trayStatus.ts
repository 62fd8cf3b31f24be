/** What the tray says about the models, from `GET /api/admin/library` (pure, so it is tested without Electron). */

export interface LibraryEntry {
  id: string;
  state?: string;
  /** Why it crashed or failed, where the core gives a reason (field names vary by version). */
  reason?: string | null;
  error?: string | null;
  load?: { state?: string; reason?: string | null; error?: string | null } | null;
}

export interface ModelAlert {
  id: string;
  state: "crashed" | "failed";
  reason: string | null;
}

/** Models whose engine crashed (reloads on the next request) or failed (gave up after repeated crashes). */
export function modelAlerts(library: unknown): ModelAlert[] {
  const data = (library as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return [];
  const alerts: ModelAlert[] = [];
  for (const entry of data as LibraryEntry[]) {
    const state = entry?.state ?? entry?.load?.state;
    if (state !== "crashed" && state !== "failed") continue;
    const reason = entry.reason ?? entry.error ?? entry.load?.reason ?? entry.load?.error ?? null;
    alerts.push({ id: String(entry.id), state, reason: reason ? String(reason).split("\n")[0]?.slice(0, 120) || null : null });
  }
  return alerts;
}

/** One menu line per alert, e.g. "tiny-chat crashed: GGML_ASSERT(...)". */
export function alertLabel(alert: ModelAlert): string {
  return `${alert.id} ${alert.state}${alert.reason ? `: ${alert.reason}` : ""}`;
}
