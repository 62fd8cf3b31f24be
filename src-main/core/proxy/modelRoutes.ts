import type { Route, RouteService } from "../domain/routes.js";
import { ModelNotFoundError, NotFoundError } from "../errors.js";
import type { ModelInfo } from "../inference/types.js";

/** Where a `model` name leads: a local model, or a model route's upstream targets. */
export type Resolution =
  | { kind: "local"; routeName: string; model: ModelInfo }
  | { kind: "upstream"; routeName: string; route: Route };

/** A weighted random pick (each item's chance is its weight over the total). */
export function weightedPick<T extends { weight: number }>(items: readonly T[]): T | undefined {
  const total = items.reduce((n, t) => n + t.weight, 0);
  let roll = Math.random() * total;
  for (const item of items) {
    roll -= item.weight;
    if (roll < 0) return item;
  }
  return items.at(-1);
}

/**
 * Resolves the `model` of an inference request through the model routes: an exact
 * route name, else a local model of that id, else the best glob route (`claude-*`).
 */
export class ModelRouteResolver {
  constructor(
    private readonly routes: RouteService,
    private readonly models: (id: string) => ModelInfo | undefined,
  ) {}

  /** The name's route or model, with the model's record: the engine is handed it and looks up no name again. */
  resolve(name: string): Resolution {
    const named = this.routes.byName(name);
    const model = named ? undefined : this.models(name);
    const route = named ?? (model ? undefined : this.routes.byGlob(name));
    if (!route) {
      if (model) return { kind: "local", routeName: name, model };
      throw new ModelNotFoundError(name);
    }
    if (!route.enabled) throw new NotFoundError(`The route '${name}' is disabled.`, "model", "route_disabled");
    const primary = weightedPick(route.targets.filter((t) => !t.fallback));
    if (primary?.kind === "model" && primary.modelId) {
      const target = this.models(primary.modelId);
      if (!target) throw new ModelNotFoundError(primary.modelId);
      return { kind: "local", routeName: name, model: target };
    }
    return { kind: "upstream", routeName: name, route };
  }

  /** The generic-proxy route `/model/proxy/<id>/…` names by id (or, deprecated, by name); 404 for any other. */
  genericProxyRoute(by: { id: number } | { name: string }): Extract<Resolution, { kind: "upstream" }> {
    const route = "id" in by ? this.routes.get(by.id) : this.routes.byName(by.name);
    if (!route?.genericProxy || !route.enabled) {
      const label = "id" in by ? `with id ${by.id}` : `named '${by.name}'`;
      throw new NotFoundError(`No generic-proxy route ${label}.`, null, "route_not_found");
    }
    return { kind: "upstream", routeName: route.name, route };
  }
}
