import type { FastifyReply, FastifyRequest } from "fastify";
import type { ApiKeyService } from "../domain/apiKeys.js";
import { AuthenticationError, PermissionError } from "../errors.js";

/** The key a client sent: `Authorization: Bearer`, `x-api-key` (Anthropic) or `api-key` (Continue, Azure style). */
export function presentedKey(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  if (typeof authorization === "string") {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1].trim();
  }
  for (const header of ["x-api-key", "api-key"]) {
    const value = request.headers[header];
    if (typeof value === "string" && value.trim()) return value.trim();
  }
  return null;
}

/** A preHandler that requires a live key with the given scope (management keys may also infer). */
export function requireKey(keys: ApiKeyService, scope: "inference" | "management") {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const presented = presentedKey(request);
    if (!presented) throw new AuthenticationError();
    const key = keys.verify(presented);
    if (!key) throw new AuthenticationError("Invalid, expired or revoked API key.");
    if (scope === "management" && key.scope !== "management") {
      throw new PermissionError("This endpoint needs a key with the 'management' scope.");
    }
    request.apiKey = key;
  };
}
