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

/** An alias in Anthropic's list shape: its display name says what it runs. */
export function toAnthropicAlias(alias: {
  name: string;
  createdAt: number;
  target: ModelInfo | null;
  upstreamModel?: string | null;
}) {
  const target = alias.target?.id ?? alias.upstreamModel ?? null;
  return {
    id: alias.name,
    type: "model" as const,
    display_name: target && target !== alias.name ? `${alias.name} → ${target}` : alias.name,
    created_at: new Date(alias.createdAt).toISOString(),
  };
}
