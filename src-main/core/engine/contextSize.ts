/**
 * How large a model's context is: the policy alone, as pure functions, so the
 * engine (wherever it runs) only asks it.
 */

/** The server's cap on every model's context (declared with the settings). */
export { DEFAULT_CONTEXT_CAP } from "../contract/settings.js";

/**
 * The context a model must at least get when its size is left to the server: below
 * this, loading fails with a memory error rather than serving a uselessly small context.
 */
export const MIN_DEFAULT_CONTEXT = 8192;

export interface ContextPolicyInput {
  /** The model's own context size setting, when the user set one. */
  explicit?: number | undefined;
  /** The server's cap (`contextSize` option). */
  cap: number;
  /** The context the model was trained for (from its GGUF); `null`/0 when unknown. */
  trainContextSize: number | null | undefined;
}

/** What to ask node-llama-cpp for: the largest size in `[min, max]` that free memory allows. */
export interface ContextBounds {
  min: number;
  max: number;
}

/**
 * A model's context bounds. Left to the server, a model gets the largest context
 * that its training context, the cap and free memory all allow (node-llama-cpp's
 * `createContext({contextSize: {min, max}})` measures memory), and at least
 * `MIN_DEFAULT_CONTEXT` (or the max, if smaller). A model's own setting is taken as
 * given (never above its training context): the user chose it.
 */
export function contextBounds({ explicit, cap, trainContextSize }: ContextPolicyInput): ContextBounds {
  const trained = trainContextSize && trainContextSize > 0 ? trainContextSize : Number.POSITIVE_INFINITY;
  if (explicit !== undefined) {
    const size = Math.max(1, Math.min(explicit, trained));
    return { min: size, max: size };
  }
  const max = Math.max(1, Math.min(cap, trained));
  return { min: Math.min(MIN_DEFAULT_CONTEXT, max), max };
}

export interface ContextExceeded {
  model: string;
  promptTokens: number;
  /** The context the model is loaded with now. */
  loaded: number;
  trainContextSize: number | null | undefined;
  cap: number;
  /** The model's own context size setting, if any. */
  explicit?: number | undefined;
}

/**
 * The 400 for a prompt longer than the loaded context, with the numbers and what to change:
 * the model's own setting, the server cap, free memory, or (at its training context) nothing.
 */
export function contextExceededMessage(c: ContextExceeded): string {
  const trained = c.trainContextSize && c.trainContextSize > 0 ? c.trainContextSize : null;
  const head =
    `The prompt is ${c.promptTokens} tokens long, but '${c.model}' is loaded with a context of ${c.loaded} tokens` +
    (trained ? ` (it was trained for ${trained}).` : ".");
  if (trained !== null && c.promptTokens >= trained) {
    return `${head} The model cannot read a prompt this long: shorten it, or use a model with a longer context.`;
  }
  const want = Math.min(trained ?? Number.POSITIVE_INFINITY, Math.max(c.promptTokens * 2, MIN_DEFAULT_CONTEXT));
  const target = Number.isFinite(want) ? want : c.promptTokens * 2;
  if (c.explicit !== undefined) {
    return `${head} Its context size setting is ${c.explicit}: raise it (the model's settings, or PUT /api/admin/models/{id}/settings) to ${target} or more.`;
  }
  if (c.loaded < Math.min(c.cap, trained ?? c.cap)) {
    return `${head} Free memory allowed no more when it loaded: unload other models (or lower its parallel sequences) and load it again.`;
  }
  return `${head} The server caps every model's context at ${c.cap}: start it with \`maas-base serve --context-size ${target}\` (or set the model's own context size).`;
}

/**
 * Reply room a reload guarantees past the prompt (or `max_tokens`, when smaller). A larger
 * `max_tokens` does not raise it: the engine caps a reply by what is left of the context anyway.
 */
export const RELOAD_REPLY_ROOM = 1024;

export interface ContextGrowthInput {
  /** The model's own context size setting: when set, the context is pinned and never grows. */
  explicit?: number | undefined;
  cap: number;
  trainContextSize: number | null | undefined;
  /** The context the model is loaded with now. */
  loaded: number;
  promptTokens: number;
  /** The request's `max_tokens`, if any. */
  maxTokens?: number | undefined;
}

/**
 * The context to reload a model with so a prompt fits, or `null` when the policy allows
 * none larger: its own setting pins it, or the loaded context already is what the cap and
 * its training context allow, or the prompt is longer than even that. `min` is the prompt
 * plus reply room; `max` the model's default bound, so the reload gets the largest context
 * memory allows (node-llama-cpp measures it), as a first load would.
 */
export function contextToFit(c: ContextGrowthInput): ContextBounds | null {
  if (c.explicit !== undefined) return null;
  const { max } = contextBounds({ cap: c.cap, trainContextSize: c.trainContextSize });
  if (max <= c.loaded || c.promptTokens >= max) return null;
  const room = Math.max(1, Math.min(c.maxTokens ?? RELOAD_REPLY_ROOM, RELOAD_REPLY_ROOM));
  return { min: Math.min(max, c.promptTokens + room), max };
}
