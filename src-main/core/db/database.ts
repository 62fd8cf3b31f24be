import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.js";
import { sqliteNativeOptions } from "./nativeBinding.js";

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  /**
   * How long a write waits for another process's write lock before SQLITE_BUSY. The
   * server passes a short one (its event loop must not stall); the CLI may wait.
   * Defaults to 5 000 ms.
   */
  busyTimeoutMs?: number;
  /** Run `PRAGMA quick_check` on databases up to this size at open, so damage is named first. Defaults to 256 MiB. */
  quickCheckMaxBytes?: number;
}

/** The database could not be opened: the message names the file and the real cause, on one line. */
export class DatabaseOpenError extends Error {
  readonly file: string;
  readonly causeCode: string;

  constructor(file: string, causeCode: string, detail: string) {
    const oneLine = detail.replace(/\s*\n\s*/g, "; ").trim();
    super(
      causeCode === "SQLITE_CORRUPT"
        ? `The database ${file} is damaged (${oneLine}); move it aside or restore a backup, then start again.`
        : `The database ${file} could not be opened (${oneLine}).`,
    );
    this.name = "DatabaseOpenError";
    this.file = file;
    this.causeCode = causeCode;
  }
}

/** SQLITE_BUSY and friends: another process holds the lock. */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

/** SQLITE_CORRUPT / SQLITE_NOTADB: the file is damaged. */
export function isCorrupt(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code.startsWith("SQLITE_NOTADB"));
}

/** Data folder 0700, database files 0600 (POSIX): keys, usage and settings are this user's alone. */
function restrictModes(file: string): void {
  if (process.platform === "win32") return;
  chmodSync(dirname(file), 0o700);
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/** Opens (creating if needed) the app database in WAL mode and applies pending migrations. */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): Db {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Created 0600 before SQLite sees it (its WAL and shm files take the database's mode).
  if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
  restrictModes(file);
  let db: Db | null = null;
  try {
    db = new Database(file, sqliteNativeOptions());
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    db.pragma("synchronous = NORMAL");
    if (statSync(file).size <= (options.quickCheckMaxBytes ?? 256 * 1024 * 1024)) {
      const result = db.pragma("quick_check(1)", { simple: true });
      if (result !== "ok") throw Object.assign(new Error(`quick_check: ${String(result)}`), { code: "SQLITE_CORRUPT" });
    }
    migrate(db);
    restrictModes(file);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof DatabaseOpenError) throw error;
    const code = String((error as { code?: unknown }).code ?? "");
    throw new DatabaseOpenError(file, isCorrupt(error) ? "SQLITE_CORRUPT" : code, (error as Error).message);
  }
}

export function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current >= (MIGRATIONS.at(-1)?.version ?? 0)) return;
  // Rebuilding a table must not cascade into the rows that reference it; the pragma
  // only takes effect outside a transaction, and the check afterwards proves nothing dangles.
  db.pragma("foreign_keys = OFF");
  try {
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.transaction(() => {
        db.exec(migration.sql);
        const broken = db.pragma("foreign_key_check") as unknown[];
        if (broken.length > 0) throw new Error(`migration ${migration.version} left ${broken.length} dangling references`);
        db.pragma(`user_version = ${migration.version}`);
      })();
    }
  } finally {
    db.pragma("foreign_keys = ON");
  }
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement, prepared once per database and SQL text (preparing is the slow part). */
export function prep(db: Db, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}
