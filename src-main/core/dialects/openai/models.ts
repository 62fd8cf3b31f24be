import type { ModelInfo } from "../../inference/types.js";

export function toOpenAIModel(model: ModelInfo) {
  return {
    id: model.id,
    object: "model",
    created: Math.floor(model.createdAt / 1000),
    owned_by: "maas-base",
    // Extra, ignored by SDKs, useful to UIs choosing a model for a task.
    capabilities: model.capabilities,
    context_length: model.contextLength,
  };
}

export function toOpenAIModelList(models: readonly ModelInfo[]) {
  return { object: "list", data: models.map(toOpenAIModel) };
}

/** A route name clients can use as a model: an alias of a local model, or of an upstream's. */
export interface ModelAlias {
  name: string;
  createdAt: number;
  /** The local model it runs, if its primary target is one. */
  target: ModelInfo | null;
  /** For an upstream route: the model name sent upstream (or the alias itself). */
  upstreamModel?: string | null;
}

export function toOpenAIAlias(alias: ModelAlias) {
  return {
    id: alias.name,
    object: "model",
    created: Math.floor(alias.createdAt / 1000),
    owned_by: alias.target ? "maas-base" : "upstream",
    // What the alias points at (extra, like capabilities): a local model id, or the upstream's model name.
    alias_of: alias.target?.id ?? alias.upstreamModel ?? alias.name,
    capabilities: alias.target?.capabilities ?? [],
    context_length: alias.target?.contextLength ?? null,
  };
}
