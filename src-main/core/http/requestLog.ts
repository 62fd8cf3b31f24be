import type { FastifyRequest } from "fastify";

const logged = new WeakSet<FastifyRequest>();

/**
 * The one log line per request, without keys or prompt text. Fastify's `onResponse`
 * writes it for a response that finished; a client that went away mid-request never
 * lets the response finish, so the handlers that notice (status 499) write it here.
 * Written at most once per request.
 */
export function logRequestLine(request: FastifyRequest, status: number, ms: number): void {
  if (logged.has(request)) return;
  logged.add(request);
  request.log.info(
    {
      method: request.method,
      url: request.url.split("?")[0],
      status,
      ms: Math.round(ms),
      keyId: request.apiKey?.id,
      ...request.logInfo,
    },
    "request",
  );
}
