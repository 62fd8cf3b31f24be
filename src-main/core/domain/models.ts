import { createHash } from "node:crypto";
import {
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import { copyFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Logger } from "pino";
import { type Db, prep } from "../db/database.js";
import type { GgufSummary } from "../engine/inspect.js";
import { Inspector } from "../engine/supervisor/Inspector.js";
import { InvalidRequestError, NotFoundError } from "../errors.js";
import type { ModelCapability, ModelInfo, ModelSettings } from "../inference/types.js";

/** `name-00001-of-00003.gguf`: llama.cpp's multi-part GGUF naming. */
const SPLIT_PART = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

interface ModelRow {
  id: string;
  path: string;
  size_bytes: number;
  architecture: string | null;
  context_length: number | null;
  capabilities: string;
  source: string;
  created_at: number;
  sha256: string | null;
  quantization: string | null;
  parameter_count: number | null;
  has_chat_template: number;
  parts: number;
  hf_repo: string | null;
  hf_file: string | null;
  settings: string;
}

function toInfo(row: ModelRow): ModelInfo {
  return {
    id: row.id,
    path: row.path,
    sizeBytes: row.size_bytes,
    architecture: row.architecture,
    contextLength: row.context_length,
    capabilities: JSON.parse(row.capabilities) as ModelCapability[],
    createdAt: row.created_at,
    quantization: row.quantization,
    parameterCount: row.parameter_count,
    sha256: row.sha256,
    hasChatTemplate: row.has_chat_template === 1,
    parts: row.parts,
    source: row.source,
    hfRepo: row.hf_repo,
    hfFile: row.hf_file,
    settings: JSON.parse(row.settings) as ModelSettings,
  };
}

export type { GgufSummary } from "../engine/inspect.js";

/** Reads GGUF headers; the inspector process in the server (a hostile file cannot take the server down). */
export interface GgufReader {
  inspect(path: string): Promise<GgufSummary>;
}

let sharedInspector: Inspector | null = null;
/** One inspector for library users that bring none (the CLI's commands); it exits when idle. */
function defaultReader(): GgufReader {
  sharedInspector ??= new Inspector();
  return sharedInspector;
}

/** A model file the inspector could not read, kept so the next scan skips it until it changes. */
export interface UnreadableFile {
  file: string;
  path: string;
  sizeBytes: number;
  reason: string;
  since: number;
}

/** SHA-256 of a file, streamed. */
export function sha256File(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", fail)
      .on("end", () => ok(hash.digest("hex")));
  });
}

/** The files of a model: one, or every part of a split GGUF (given its first part). */
export function modelFiles(path: string): string[] {
  const split = SPLIT_PART.exec(basename(path));
  if (!split) return [path];
  const total = Number(split[3]);
  return Array.from({ length: total }, (_, i) =>
    join(dirname(path), `${split[1]}-${String(i + 1).padStart(5, "0")}-of-${split[3]}.gguf`),
  );
}

/** The id a model file gets: its name without `.gguf` (and without `-00001-of-0000N`). */
export function modelIdFor(file: string): string {
  const name = basename(file);
  const split = SPLIT_PART.exec(name);
  return (split ? (split[1] as string) : name.replace(/\.gguf$/i, "")).replace(/[^\w.:-]/g, "-");
}

export interface RegisterOptions {
  id?: string;
  source?: "local" | "huggingface";
  hfRepo?: string | null;
  hfFile?: string | null;
  sha256?: string | null;
}

/** `<file>.importing-<pid>`: a copy in progress (not `*.gguf`, so scans skip it). */
const STAGING_PATTERN = /\.importing-(\d+)$/;

function stagingName(target: string): string {
  return `${target}.importing-${process.pid}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The model library: GGUF files registered in SQLite with what their headers say. */
export class ModelService {
  private hashing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly reader: GgufReader = defaultReader(),
  ) {}

  /** Model files in the models folder that could not be read, with why. */
  unreadable(): UnreadableFile[] {
    const rows = prep(this.db, "SELECT * FROM unreadable_files ORDER BY path").all() as Array<{
      path: string;
      size_bytes: number;
      reason: string;
      created_at: number;
    }>;
    return rows.map((r) => ({
      file: basename(r.path),
      path: r.path,
      sizeBytes: r.size_bytes,
      reason: r.reason,
      since: r.created_at,
    }));
  }

  private markUnreadable(path: string, reason: string): void {
    const stat = statSync(path);
    prep(
      this.db,
      `INSERT INTO unreadable_files (path, size_bytes, mtime_ms, reason, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(path) DO UPDATE SET size_bytes = excluded.size_bytes, mtime_ms = excluded.mtime_ms,
           reason = excluded.reason, created_at = excluded.created_at`,
    ).run(path, stat.size, Math.floor(stat.mtimeMs), reason, Date.now());
  }

  /** The recorded reason if `path` is unchanged since it was found unreadable. */
  private knownUnreadable(path: string): string | null {
    const row = prep(this.db, "SELECT * FROM unreadable_files WHERE path = ?").get(path) as
      | { size_bytes: number; mtime_ms: number; reason: string }
      | undefined;
    if (!row) return null;
    const stat = statSync(path);
    return row.size_bytes === stat.size && row.mtime_ms === Math.floor(stat.mtimeMs) ? row.reason : null;
  }

  list(): ModelInfo[] {
    return (prep(this.db, "SELECT * FROM models ORDER BY id").all() as ModelRow[]).map(toInfo);
  }

  get(id: string): ModelInfo | undefined {
    const row = prep(this.db, "SELECT * FROM models WHERE id = ?").get(id) as ModelRow | undefined;
    return row ? toInfo(row) : undefined;
  }

  /** Registers (or refreshes) one model file; its sha256 is computed in the background unless given. */
  async register(path: string, options: RegisterOptions = {}): Promise<ModelInfo> {
    const files = modelFiles(resolve(path));
    const missing = files.find((f) => !existsSync(f));
    if (missing) throw new InvalidRequestError(`Part '${basename(missing)}' of this split model is missing.`, "path");
    const size = files.reduce((n, f) => n + statSync(f).size, 0);
    const meta = await this.reader.inspect(files[0] as string);
    const id = options.id ?? modelIdFor(path);
    const now = Date.now();
    prep(
      this.db,
      `INSERT INTO models (id, path, size_bytes, architecture, context_length, capabilities, source, created_at, updated_at,
           sha256, quantization, parameter_count, has_chat_template, parts, hf_repo, hf_file)
         VALUES (@id, @path, @size, @architecture, @contextLength, @capabilities, @source, @now, @now,
           @sha256, @quantization, @parameterCount, @hasChatTemplate, @parts, @hfRepo, @hfFile)
         ON CONFLICT(id) DO UPDATE SET path = excluded.path, size_bytes = excluded.size_bytes,
           architecture = excluded.architecture, context_length = excluded.context_length,
           capabilities = excluded.capabilities, quantization = excluded.quantization,
           parameter_count = excluded.parameter_count, has_chat_template = excluded.has_chat_template,
           parts = excluded.parts, sha256 = COALESCE(excluded.sha256, models.sha256),
           source = excluded.source, hf_repo = COALESCE(excluded.hf_repo, models.hf_repo),
           hf_file = COALESCE(excluded.hf_file, models.hf_file), updated_at = excluded.updated_at`,
    ).run({
      id,
      path: files[0],
      size,
      architecture: meta.architecture,
      contextLength: meta.contextLength,
      capabilities: JSON.stringify(meta.capabilities),
      source: options.source ?? "local",
      now,
      sha256: options.sha256 ?? null,
      quantization: meta.quantization ?? null,
      parameterCount: meta.parameterCount ?? null,
      hasChatTemplate: meta.hasChatTemplate ? 1 : 0,
      parts: files.length,
      hfRepo: options.hfRepo ?? null,
      hfFile: options.hfFile ?? null,
    });
    const info = this.get(id) as ModelInfo;
    if (!info.sha256 && files.length === 1) this.hashLater(id, files[0] as string, size);
    return info;
  }

  /** Hashes model files one at a time in the background, so listing never waits for it. */
  private hashLater(id: string, path: string, size: number): void {
    this.hashing = this.hashing.then(async () => {
      try {
        const current = this.get(id);
        if (!current || current.path !== path || current.sizeBytes !== size || current.sha256) return;
        const sha256 = await sha256File(path);
        prep(this.db, "UPDATE models SET sha256 = ? WHERE id = ? AND path = ?").run(sha256, id, path);
      } catch (error) {
        this.logger.warn({ model: id, err: (error as Error).message }, "could not hash a model file");
      }
    });
  }

  /** Resolves when background hashing queued so far has finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.hashing;
  }

  /**
   * Registers every readable `*.gguf` in `dir` (split models by their first part)
   * and drops records of files in `dir` that are gone. Unreadable files are
   * logged and skipped.
   */
  async scan(dir: string): Promise<{ registered: string[]; skipped: Array<{ file: string; reason: string }> }> {
    const registered: string[] = [];
    const skipped: Array<{ file: string; reason: string }> = [];
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.toLowerCase().endsWith(".gguf"));
    } catch {
      files = [];
    }
    const seen = new Set<string>();
    for (const file of files.sort()) {
      const split = SPLIT_PART.exec(file);
      if (split && Number(split[2]) !== 1) continue;
      const path = resolve(join(dir, file));
      const id = modelIdFor(file);
      try {
        if (!statSync(path).isFile()) continue;
        seen.add(id);
        const existing = this.get(id);
        const size = modelFiles(path).reduce((n, f) => n + statSync(f).size, 0);
        if (existing && existing.path === path && existing.sizeBytes === size) {
          registered.push(id);
          if (!existing.sha256 && existing.parts === 1) this.hashLater(id, path, size);
          continue;
        }
        // A file that could not be read before is skipped until it changes (no crash loop at start).
        const known = this.knownUnreadable(path);
        if (known !== null) {
          seen.delete(id);
          skipped.push({ file, reason: known });
          continue;
        }
        await this.register(path, { id });
        prep(this.db, "DELETE FROM unreadable_files WHERE path = ?").run(path);
        registered.push(id);
      } catch (error) {
        seen.delete(id);
        const reason = error instanceof Error ? error.message : String(error);
        skipped.push({ file, reason });
        try {
          this.markUnreadable(path, reason);
        } catch {}
        this.logger.warn({ file, reason }, "skipping a model file that cannot be read");
      }
    }
    const folder = resolve(dir);
    for (const row of this.unreadable()) {
      if (dirname(row.path) === folder && !existsSync(row.path)) {
        prep(this.db, "DELETE FROM unreadable_files WHERE path = ?").run(row.path);
      }
    }
    const stale = this.list().filter((m) => !seen.has(m.id) && dirname(m.path) === folder);
    for (const model of stale) prep(this.db, "DELETE FROM models WHERE id = ?").run(model.id);
    return { registered, skipped };
  }

  /**
   * Brings a GGUF file into the library: `copy` puts a copy in the models folder,
   * `link` registers it where it is (a symlink in the models folder points at it)
   * and never deletes the original.
   */
  async import(source: string, modelsDir: string, mode: "copy" | "link", id?: string): Promise<ModelInfo> {
    const from = resolve(source);
    if (!existsSync(from) || !statSync(from).isFile()) throw new InvalidRequestError(`No file at '${source}'.`, "path");
    if (!from.toLowerCase().endsWith(".gguf")) throw new InvalidRequestError("Only .gguf files can be imported.", "path");
    try {
      await this.reader.inspect(from);
    } catch (error) {
      throw new InvalidRequestError(`'${basename(from)}' is not a readable GGUF file: ${(error as Error).message}`, "path");
    }
    const modelId = id ?? modelIdFor(from);
    if (this.get(modelId)) throw new InvalidRequestError(`A model named '${modelId}' already exists.`, "id", "model_exists");
    mkdirSync(modelsDir, { recursive: true });
    this.removeStagedImports(modelsDir);
    const sources = modelFiles(from);
    const targets = sources.map((f) => join(modelsDir, basename(f)));
    for (const target of targets) {
      if (existsSync(target)) throw new InvalidRequestError(`'${basename(target)}' is already in the models folder.`, "path");
    }
    const done: string[] = [];
    const staged: string[] = [];
    try {
      if (mode === "copy") {
        // Copied under a staging name (never `*.gguf`, so no scan registers it), renamed once
        // complete and verified: a kill -9 mid-copy leaves only a staging file, removed at next start.
        for (const [i, file] of sources.entries()) {
          const stage = stagingName(targets[i] as string);
          staged.push(stage);
          await copyFile(file, stage);
          if (statSync(stage).size !== statSync(file).size) throw new Error(`the copy of '${basename(file)}' is incomplete`);
        }
        await this.reader.inspect(staged[0] as string);
        for (const [i, stage] of staged.entries()) {
          renameSync(stage, targets[i] as string);
          done.push(targets[i] as string);
        }
        staged.length = 0;
        return await this.register(targets[0] as string, { id: modelId });
      }
      for (const [i, file] of sources.entries()) {
        const target = targets[i] as string;
        try {
          symlinkSync(file, target);
        } catch {
          linkSync(file, target); // Windows without symlink rights: a hard link
        }
        done.push(target);
      }
      return await this.register(targets[0] as string, { id: modelId });
    } catch (error) {
      for (const target of [...done, ...staged]) rmSync(target, { force: true });
      throw error;
    }
  }

  /** Removes staging files of imports whose process is gone (killed mid-copy). */
  removeStagedImports(modelsDir: string): string[] {
    if (!existsSync(modelsDir)) return [];
    const removed: string[] = [];
    for (const name of readdirSync(modelsDir)) {
      const match = STAGING_PATTERN.exec(name);
      if (!match) continue;
      const pid = Number(match[1]);
      if (pid !== process.pid && processAlive(pid)) continue;
      rmSync(join(modelsDir, name), { force: true });
      removed.push(name);
    }
    if (removed.length > 0) this.logger.warn({ removed }, "removed unfinished imports");
    return removed;
  }

  /**
   * Removes a model's record and the files in the models folder (the original of a
   * linked import is kept). `isLoaded` guards models in use.
   */
  remove(id: string, isLoaded: (id: string) => boolean): ModelInfo {
    const model = this.get(id);
    if (!model) throw new NotFoundError(`The model '${id}' does not exist.`, "id", "model_not_found");
    if (isLoaded(id)) {
      throw new InvalidRequestError(`Model '${id}' is loaded; unload it first.`, "id", "model_loaded");
    }
    for (const file of modelFiles(model.path)) {
      try {
        unlinkSync(file); // for a linked import this removes only the link
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
    }
    prep(this.db, "DELETE FROM models WHERE id = ?").run(id);
    return model;
  }

  /** Replaces a model's settings (validated by the caller). */
  updateSettings(id: string, settings: ModelSettings): ModelInfo {
    const changed = prep(this.db, "UPDATE models SET settings = ?, updated_at = ? WHERE id = ?").run(
      JSON.stringify(settings),
      Date.now(),
      id,
    ).changes;
    if (!changed) throw new NotFoundError(`The model '${id}' does not exist.`, "id", "model_not_found");
    return this.get(id) as ModelInfo;
  }
}
