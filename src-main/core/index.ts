import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { type CoreOptions, databasePath, defaultDataDir, prefixCacheDir, resolveOptions } from "./config.js";
import { DatabaseOpenError, type Db, isCorrupt, openDatabase } from "./db/database.js";
import { FileSecretBox, secretKeyPath } from "./db/secretBox.js";
import { ServerLock } from "./db/serverLock.js";
import { ApiKeyService } from "./domain/apiKeys.js";
import { ConversationStore } from "./domain/conversations.js";
import { DownloadManager } from "./domain/downloads.js";
import { HuggingFace } from "./domain/huggingface.js";
import { RequestRateLimiter } from "./domain/limits.js";
import { ModelService } from "./domain/models.js";
import { ResponseStore } from "./domain/responses.js";
import { pointsAtServer, RouteService } from "./domain/routes.js";
import { SettingsStore } from "./domain/settingsStore.js";
import { SignInCodes } from "./domain/signInCodes.js";
import { UsageService } from "./domain/usage.js";
import { EngineAutoBuild } from "./engine/autoBuild.js";
import { nodeLauncher } from "./engine/process/launcher.js";
import { Inspector } from "./engine/supervisor/Inspector.js";
import { Supervisor } from "./engine/supervisor/Supervisor.js";
import { Metrics } from "./http/metrics.js";
import { buildServer } from "./http/server.js";
import { createLogger } from "./logger.js";
import { UpstreamForwarder } from "./proxy/forwarder.js";
import { ManagedProcesses } from "./proxy/managedProcesses.js";
import { ModelRouteResolver } from "./proxy/modelRoutes.js";
import { allowPrivateUpstreams } from "./proxy/upstream.js";

export type { CoreOptions } from "./config.js";
export type { SecretBox } from "./db/secretBox.js";

/** How long the server's writes wait for another process's write lock (its event loop stalls that long at most). */
const SERVER_BUSY_TIMEOUT_MS = 50;

export interface Core {
  readonly options: CoreOptions;
  readonly db: Db;
  readonly keys: ApiKeyService;
  readonly models: ModelService;
  readonly usage: UsageService;
  readonly downloads: DownloadManager;
  readonly routes: RouteService;
  readonly processes: ManagedProcesses;
  readonly settings: SettingsStore;
  /** A one-time sign-in link for the web app (`/#signin=<code>`), once started. */
  signInLink(): string;
  /** Binds the server; resolves with its base URL. */
  start(): Promise<string>;
  /** Stops accepting requests, aborts running ones, unloads models, closes the database. */
  stop(): Promise<void>;
  /** The base URL once started. */
  readonly url: string | null;
  /** The engine supervisor (one engine process per loaded model), once started. */
  readonly engine: Supervisor | null;
}

/**
 * The headless core: database, model library, engine and HTTP server. The
 * Electron shell and the `serve` command both start it this way.
 */
export function createCore(partial: Partial<CoreOptions> = {}): Core {
  // The saved settings live in the data folder's database, so it opens first; then what
  // the shell gave wins over what was saved, which wins over the defaults (settings.ts).
  // A short busy timeout: when another process (the CLI) holds the write lock, the server's
  // event loop waits at most this long, and usage rows are retried off the request path.
  const db = openDatabase(databasePath(partial.dataDir ?? defaultDataDir()), { busyTimeoutMs: SERVER_BUSY_TIMEOUT_MS });
  const settings = new SettingsStore(db);
  const options = resolveOptions(partial, settings.get());
  const logger = options.logger ?? createLogger(options.logLevel);
  const lock = new ServerLock(options.dataDir);
  const keys = new ApiKeyService(db);
  const launcher = options.launcher ?? nodeLauncher();
  // GGUF headers and memory estimates are read in a process of their own (a hostile file kills that one).
  const inspector = new Inspector({ launcher, logger, gpu: options.gpu, jobTimeoutMs: options.inspectorTimeoutMs });
  const models = new ModelService(db, logger, inspector);
  const usage = new UsageService(db, options.usageRetention);
  usage.prune(Date.now(), true);
  const responses = new ResponseStore(db);
  const hf = new HuggingFace(options.hfEndpoint, options.hfToken);
  const downloads = new DownloadManager(db, hf, models, options.modelsDir, logger);
  const secrets = options.secretBox ?? new FileSecretBox(secretKeyPath(options.dataDir));
  const routes = new RouteService(db, (id) => models.get(id), secrets);
  const conversations = new ConversationStore(db);
  const signIn = new SignInCodes();
  const processes = new ManagedProcesses(logger);
  const modelRoutes = new ModelRouteResolver(routes, (id) => models.get(id));
  const upstreams = new UpstreamForwarder(routes, processes);
  upstreams.applyLimits(options);
  allowPrivateUpstreams(options.allowPrivateUpstreams);
  const syncProcesses = () =>
    processes.sync(
      routes
        .list()
        .filter((r) => r.enabled)
        .flatMap((r) =>
          r.targets.filter((t) => t.kind === "process" && t.command).map((t) => ({ id: t.id, command: t.command as string })),
        ),
    );
  routes.onChange(() => void syncProcesses());
  let engine: Supervisor | null = null;
  const engineBuild = new EngineAutoBuild({
    enabled: options.engineAutoBuild,
    logger,
    onBuilt: () => engine?.engineBinaryChanged(),
  });
  let app: FastifyInstance | null = null;
  let url: string | null = null;
  let stopping: Promise<void> | null = null;

  return {
    options,
    db,
    keys,
    models,
    usage,
    downloads,
    routes,
    processes,
    settings,
    signInLink() {
      if (!url) throw new Error("the server is not started");
      return `${url}/#signin=${signIn.create()}`;
    },
    get url() {
      return url;
    },
    get engine() {
      return engine;
    },
    async start() {
      try {
        return await startServer();
      } catch (error) {
        lock.release();
        // Damage found on the way (a page read by the scan) is named as what it is.
        if (isCorrupt(error)) {
          throw new DatabaseOpenError(databasePath(options.dataDir), "SQLITE_CORRUPT", (error as Error).message);
        }
        throw error;
      }
    },
    stop() {
      stopping ??= (async () => {
        await downloads.stop();
        await engineBuild.stop();
        await app?.close();
        await processes.stop();
        await engine?.dispose();
        await inspector.stop();
        await models.idle();
        usage.flush();
        db.close();
        lock.release();
      })();
      return stopping;
    },
  };

  async function startServer(): Promise<string> {
    {
      lock.acquire();
      routes.sealPlaintextKeys();
      models.removeStagedImports(options.modelsDir);
      const scan = await models.scan(options.modelsDir);
      logger.info({ modelsDir: options.modelsDir, models: scan.registered, skipped: scan.skipped.length }, "models registered");
      routes.syncModels(models.list());
      await syncProcesses();
      engine = new Supervisor({
        gpu: options.gpu,
        threads: options.threads,
        parallel: options.parallel,
        maxQueue: options.maxQueue,
        contextSize: options.contextSize,
        maxLoadedModels: options.maxLoadedModels,
        defaultTtlMinutes: options.modelTtlMinutes,
        ramBudgetBytes: options.ramBudgetBytes,
        prefixCache: {
          dir: prefixCacheDir(options.dataDir),
          maxBytes: options.prefixCacheMaxBytes,
          minTokens: options.prefixCacheMinTokens,
        },
        logger,
        logLevel: logger.level,
        launcher,
        inspector,
        watchdogMs: options.engineWatchdogMs,
        resolveModel: (id) => models.get(id),
      });
      const running = engine;
      const metrics = new Metrics(async () => running.statsNow());
      usage.onRecord((record) => metrics.observe(record));
      app = await buildServer({
        options,
        engine,
        engineBuild,
        models,
        keys,
        usage,
        responses,
        limiter: new RequestRateLimiter(),
        metrics,
        downloads,
        hf,
        routes,
        modelRoutes,
        upstreams,
        processes,
        conversations,
        settings,
        signIn,
        logger,
      });
      await app.listen({ host: options.host, port: options.port });
      const address = app.server.address() as AddressInfo;
      routes.setUpstreamPolicy({
        allowPrivate: options.allowPrivateUpstreams,
        isSelf: pointsAtServer(options.host, address.port),
      });
      const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
      url = `http://${host}:${address.port}`;
      lock.setUrl(url);
      downloads.resumePending();
      engineBuild.start();
      return url;
    }
  }
}
