import type { ModelInfo } from "../../inference/types.js";

/** A model in Anthropic's list shape (`GET /v1/models` with an `anthropic-version` header). */
export function toAnthropicModel(model: ModelInfo) {
  return {
    id: model.id,
    type: "model" as const,
    display_name: model.id,
    created_at: new Date(model.createdAt).toISOString(),
  };
}

export function toAnthropicModelList(models: readonly ModelInfo[]) {
  const data = models.map(toAnthropicModel);
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}
