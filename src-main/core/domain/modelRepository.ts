/** The model library's SQLite tables: `models` (one row per registered model) and `unreadable_files`. */
import { statSync } from "node:fs";
import { basename } from "node:path";
import type { UnreadableFilePublic } from "../contract/models.js";
import { type Db, prep } from "../db/database.js";
import type { ModelCapability, ModelInfo, ModelSettings } from "../inference/types.js";

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

/** What registering a model writes: the file's place and what its header says (its settings and creation time stay). */
export type ModelRecord = Required<Omit<ModelInfo, "createdAt" | "settings">>;

/** A model file the inspector could not read, kept so the next scan skips it until it changes. */
export type UnreadableFile = UnreadableFilePublic;

export class ModelRepository {
  constructor(private readonly db: Db) {}

  list(): ModelInfo[] {
    return (prep(this.db, "SELECT * FROM models ORDER BY id").all() as ModelRow[]).map(toInfo);
  }

  get(id: string): ModelInfo | undefined {
    const row = prep(this.db, "SELECT * FROM models WHERE id = ?").get(id) as ModelRow | undefined;
    return row ? toInfo(row) : undefined;
  }

  /** Inserts or refreshes a model; a known sha256, Hugging Face origin and settings stay when not given. */
  upsert(record: ModelRecord): ModelInfo {
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
      id: record.id,
      path: record.path,
      size: record.sizeBytes,
      architecture: record.architecture,
      contextLength: record.contextLength,
      capabilities: JSON.stringify(record.capabilities),
      source: record.source,
      now,
      sha256: record.sha256,
      quantization: record.quantization,
      parameterCount: record.parameterCount,
      hasChatTemplate: record.hasChatTemplate ? 1 : 0,
      parts: record.parts,
      hfRepo: record.hfRepo,
      hfFile: record.hfFile,
    });
    return this.get(record.id) as ModelInfo;
  }

  /** Records a file's hash, if the model still points at that file. */
  setSha256(id: string, path: string, sha256: string): void {
    prep(this.db, "UPDATE models SET sha256 = ? WHERE id = ? AND path = ?").run(sha256, id, path);
  }

  delete(id: string): void {
    prep(this.db, "DELETE FROM models WHERE id = ?").run(id);
  }

  /** Replaces a model's settings; false when there is no such model. */
  updateSettings(id: string, settings: ModelSettings): boolean {
    return (
      prep(this.db, "UPDATE models SET settings = ?, updated_at = ? WHERE id = ?").run(JSON.stringify(settings), Date.now(), id)
        .changes > 0
    );
  }

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

  markUnreadable(path: string, reason: string): void {
    const stat = statSync(path);
    prep(
      this.db,
      `INSERT INTO unreadable_files (path, size_bytes, mtime_ms, reason, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(path) DO UPDATE SET size_bytes = excluded.size_bytes, mtime_ms = excluded.mtime_ms,
           reason = excluded.reason, created_at = excluded.created_at`,
    ).run(path, stat.size, Math.floor(stat.mtimeMs), reason, Date.now());
  }

  /** The recorded reason if `path` is unchanged since it was found unreadable. */
  knownUnreadable(path: string): string | null {
    const row = prep(this.db, "SELECT * FROM unreadable_files WHERE path = ?").get(path) as
      | { size_bytes: number; mtime_ms: number; reason: string }
      | undefined;
    if (!row) return null;
    const stat = statSync(path);
    return row.size_bytes === stat.size && row.mtime_ms === Math.floor(stat.mtimeMs) ? row.reason : null;
  }

  forgetUnreadable(path: string): void {
    prep(this.db, "DELETE FROM unreadable_files WHERE path = ?").run(path);
  }
}
