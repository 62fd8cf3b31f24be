import type { FastifyRequest } from "fastify";

/** Anthropic clients: the Messages endpoints, and any request that says `anthropic-version`. */
export function speaksAnthropic(request: FastifyRequest): boolean {
  return request.url.startsWith("/v1/messages") || typeof request.headers["anthropic-version"] === "string";
}
