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
