import type { Logger } from "pino";
import type { CoreOptions } from "../config.js";
import type { ApiKeyPublic, ApiKeyService } from "../domain/apiKeys.js";
import type { ConversationStore } from "../domain/conversations.js";
import type { DownloadManager } from "../domain/downloads.js";
import type { HuggingFace } from "../domain/huggingface.js";
import type { RequestRateLimiter } from "../domain/limits.js";
import type { ModelService } from "../domain/models.js";
import type { ResponseStore } from "../domain/responses.js";
import type { RouteService } from "../domain/routes.js";
import type { SettingsStore } from "../domain/settingsStore.js";
import type { SignInCodes } from "../domain/signInCodes.js";
import type { UsageService } from "../domain/usage.js";
import type { EngineAutoBuild } from "../engine/autoBuild.js";
import type { Supervisor } from "../engine/supervisor/Supervisor.js";
import type { UpstreamForwarder } from "../proxy/forwarder.js";
import type { ManagedProcesses } from "../proxy/managedProcesses.js";
import type { ModelRouteResolver } from "../proxy/modelRoutes.js";
import type { Metrics } from "./metrics.js";

/** What the route modules need from the core. */
export interface ServerDeps {
  options: CoreOptions;
  engine: Supervisor;
  engineBuild: EngineAutoBuild;
  models: ModelService;
  keys: ApiKeyService;
  usage: UsageService;
  responses: ResponseStore;
  limiter: RequestRateLimiter;
  metrics: Metrics;
  downloads: DownloadManager;
  routes: RouteService;
  /** Where a `model` name leads (a local model or an upstream route). */
  modelRoutes: ModelRouteResolver;
  /** Forwards requests for upstream routes. */
  upstreams: UpstreamForwarder;
  processes: ManagedProcesses;
  conversations: ConversationStore;
  settings: SettingsStore;
  signIn: SignInCodes;
  hf: HuggingFace;
  logger: Logger;
}

declare module "fastify" {
  interface FastifyRequest {
    apiKey: ApiKeyPublic | null;
    /** Filled by handlers for the request log line. */
    logInfo: { model?: string; promptTokens?: number; completionTokens?: number; cachedTokens?: number; status?: number };
  }
}
