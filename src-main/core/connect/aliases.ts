import type { RouteService } from "../domain/routes.js";

/**
 * Points each alias a client needs at the model (creating or retargeting it); returns what
 * changed, for the report. Shared by `maas-base connect` and the dashboard's Connect page.
 */
export function ensureAliases(routes: RouteService, aliases: readonly string[], model: string): string[] {
  const changed: string[] = [];
  for (const name of aliases) {
    const existing = routes.byName(name);
    const targets = [{ kind: "model" as const, modelId: model }];
    if (!existing) {
      routes.create({ name, targets });
      changed.push(`alias created: ${name} → ${model}`);
    } else if (existing.targets[0]?.modelId !== model || existing.targets.length !== 1) {
      routes.update(existing.id, { name, genericProxy: existing.genericProxy, enabled: true, targets });
      changed.push(`alias updated: ${name} → ${model}`);
    }
  }
  return changed;
}

/** What `ensureAliases` would do, without doing it. */
export function aliasPlan(routes: RouteService, aliases: readonly string[], model: string) {
  return aliases.map((name) => {
    const existing = routes.byName(name);
    const pointsAt = existing?.targets.length === 1 ? (existing.targets[0]?.modelId ?? null) : null;
    return {
      name,
      exists: existing !== undefined,
      pointsAt,
      action: !existing ? ("create" as const) : pointsAt === model ? ("none" as const) : ("update" as const),
    };
  });
}
