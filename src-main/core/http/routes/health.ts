import type { FastifyInstance } from "fastify";

/** Readiness, without auth: answers once the server accepts requests. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get("/health", async () => ({ status: "ok" }));
}
