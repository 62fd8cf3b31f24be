import type { Logger } from "pino";
import type { CoreOptions } from "../config.js";
import type { ApiKeyPublic, ApiKeyService } from "../domain/apiKeys.js";
import type { ModelService } from "../domain/models.js";
import type { ResponseStore } from "../domain/responses.js";
import type { UsageService } from "../domain/usage.js";
import type { Engine } from "../engine/Engine.js";

/** What the route modules need from the core. */
export interface ServerDeps {
  options: CoreOptions;
  engine: Engine;
  models: ModelService;
  keys: ApiKeyService;
  usage: UsageService;
  responses: ResponseStore;
  logger: Logger;
}

declare module "fastify" {
  interface FastifyRequest {
    apiKey: ApiKeyPublic | null;
    /** Filled by handlers for the request log line. */
    logInfo: { model?: string; promptTokens?: number; completionTokens?: number; status?: number };
  }
}
