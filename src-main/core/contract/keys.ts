/** API keys: `GET/POST /api/admin/keys`, `DELETE /api/admin/keys/:id`. */
import { z } from "zod";

export const KEY_SCOPES = ["inference", "management"] as const;
export const KeyScope = z.enum(KEY_SCOPES);
export type KeyScope = z.infer<typeof KeyScope>;

/** `POST /api/admin/keys`. */
export const KeyCreate = z.object({
  name: z.string().min(1).max(200),
  scopes: z.array(KeyScope).min(1),
  /** Route (or model) names the key may call, `*` globs allowed; null = every route. */
  allowedRoutes: z.array(z.string().min(1)).min(1).nullish(),
  rpmLimit: z.number().int().min(1).nullish(),
  tokensPerDay: z.number().int().min(1).nullish(),
  /** Epoch ms. */
  expiresAt: z.number().int().min(0).nullish(),
  /** A key of the user's own choosing (checked for strength) instead of a generated one. */
  key: z.string().nullish(),
});
export type KeyCreate = z.infer<typeof KeyCreate>;

/** A key as every answer shows it: never its value or hash, only a masked hint. */
export const KeyPublic = z.object({
  id: z.number().int(),
  name: z.string(),
  scopes: z.array(KeyScope),
  /** The scopes joined by commas (as the CLI prints them). */
  scope: z.string(),
  maskedValue: z.string(),
  allowedRoutes: z.array(z.string()).nullable(),
  rpmLimit: z.number().int().nullable(),
  tokensPerDay: z.number().int().nullable(),
  custom: z.boolean(),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
  expiresAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
});
export type KeyPublic = z.infer<typeof KeyPublic>;

/** The answer to `POST /api/admin/keys`: the only time the full key is shown. */
export type KeyCreated = KeyPublic & { key: string };
/** The answer to `DELETE /api/admin/keys/:id`. */
export type KeyRevoked = KeyPublic & { revoked: true };
