import { resolve } from "node:path";
import pino, { type Logger } from "pino";
import { type CoreOptions, databasePath, resolveOptions } from "../config.js";
import { type Db, openDatabase } from "../db/database.js";
import { FileSecretBox, secretKeyPath } from "../db/secretBox.js";
import { ModelService } from "../domain/models.js";
import { RouteService } from "../domain/routes.js";
import { type SavedSettings, SettingsStore } from "../domain/settingsStore.js";

/** A data folder's database, model library and model routes, opened by a CLI command. */
export interface Library {
  db: Db;
  options: CoreOptions;
  saved: SavedSettings;
  models: ModelService;
  /** The model routes (opened on first use: their sealed keys need the data folder's key file). */
  readonly routes: RouteService;
  logger: Logger;
  /** Scans the models folder once (it registers what it finds) and gives every model its route. */
  scan(): Promise<void>;
  /** Scans when `id` is not registered yet. */
  ensureModel(id: string): Promise<void>;
  /** Waits for background work on the library, then closes the database. */
  close(): Promise<void>;
}

/**
 * The model library and routes of a data folder, for CLI commands that run without
 * the server. `ensureModel` scans the models folder when a model is not registered
 * yet, so `routes create --model X` and `connect` work before the first `serve`.
 */
export function openLibrary(opts: { dataDir: string; modelsDir?: string | undefined }): Library {
  const dataDir = resolve(opts.dataDir);
  const db = openDatabase(databasePath(dataDir));
  const saved = new SettingsStore(db).get();
  const modelsDir = opts.modelsDir ?? saved.modelsDir;
  const options = resolveOptions({ dataDir, ...(modelsDir ? { modelsDir: resolve(modelsDir) } : {}) });
  const logger = pino({ level: "silent" });
  const models = new ModelService(db, logger);
  let routes: RouteService | null = null;
  let scanned = false;
  return {
    db,
    options,
    saved,
    models,
    get routes() {
      routes ??= new RouteService(db, (id) => models.get(id), new FileSecretBox(secretKeyPath(dataDir)));
      return routes;
    },
    logger,
    async scan(): Promise<void> {
      if (scanned) return;
      scanned = true;
      await models.scan(options.modelsDir);
      this.routes.syncModels(models.list());
    },
    async ensureModel(id: string): Promise<void> {
      if (!models.get(id)) await this.scan();
    },
    async close(): Promise<void> {
      await models.idle();
      db.close();
    },
  };
}

/**
 * The one way a CLI command opens a data folder: the library for the length of `fn`,
 * closed after it (background work on the library finished first), whatever `fn` does.
 */
export async function withLibrary<T>(
  opts: { dataDir: string; modelsDir?: string | undefined },
  fn: (library: Library) => T | Promise<T>,
): Promise<T> {
  const library = openLibrary(opts);
  try {
    return await fn(library);
  } finally {
    await library.close();
  }
}
