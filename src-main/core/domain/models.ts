import { readdirSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import type { Logger } from "pino";
import type { Db } from "../db/database.js";
import type { ModelCapability, ModelInfo } from "../inference/types.js";

/** Encoder-only architectures: they embed (or rank), they cannot chat. */
const ENCODER_ONLY = new Set([
  "bert",
  "nomic-bert",
  "nomic-bert-moe",
  "jina-bert-v2",
  "jina-bert-v3",
  "modern-bert",
  "neo-bert",
  "t5encoder",
]);

interface ModelRow {
  id: string;
  path: string;
  size_bytes: number;
  architecture: string | null;
  context_length: number | null;
  capabilities: string;
  created_at: number;
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
  };
}

/** Reads what the GGUF header says about a model; throws on a file that is not GGUF. */
export async function inspectGguf(path: string): Promise<Pick<ModelInfo, "architecture" | "contextLength" | "capabilities">> {
  const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
  const metadata = info.metadata as Record<string, unknown> & { general?: { architecture?: string } };
  const architecture = metadata.general?.architecture ?? null;
  const archMeta = (architecture ? metadata[architecture] : undefined) as Record<string, unknown> | undefined;
  const contextLength = typeof archMeta?.context_length === "number" ? archMeta.context_length : null;
  const poolingType = archMeta?.pooling_type;
  const tensorNames = new Set((info.tensorInfo ?? []).map((t) => t.name));
  const ranks =
    poolingType === 4 || (tensorNames.has("cls.output.weight") && poolingType !== undefined) || tensorNames.has("cls.weight");
  const capabilities: ModelCapability[] = [];
  if (ranks) capabilities.push("rerank");
  else {
    if (!architecture || !ENCODER_ONLY.has(architecture)) capabilities.push("chat");
    capabilities.push("embedding");
  }
  return { architecture, contextLength, capabilities };
}

/** The model library: every `*.gguf` in the models folder, registered in SQLite. */
export class ModelService {
  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
  ) {}

  list(): ModelInfo[] {
    return (this.db.prepare("SELECT * FROM models ORDER BY id").all() as ModelRow[]).map(toInfo);
  }

  get(id: string): ModelInfo | undefined {
    const row = this.db.prepare("SELECT * FROM models WHERE id = ?").get(id) as ModelRow | undefined;
    return row ? toInfo(row) : undefined;
  }

  /**
   * Registers every readable `*.gguf` in `dir` (id = file name without `.gguf`) and
   * drops records whose file is gone. Unreadable files are logged and skipped.
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
      const path = resolve(join(dir, file));
      const id = basename(file).replace(/\.gguf$/i, "");
      try {
        const stat = statSync(path);
        if (!stat.isFile()) continue;
        const existing = this.get(id);
        seen.add(id);
        if (existing && existing.path === path && existing.sizeBytes === stat.size) {
          registered.push(id);
          continue;
        }
        const meta = await inspectGguf(path);
        const now = Date.now();
        this.db
          .prepare(
            `INSERT INTO models (id, path, size_bytes, architecture, context_length, capabilities, source, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 'local', ?, ?)
             ON CONFLICT(id) DO UPDATE SET path = excluded.path, size_bytes = excluded.size_bytes,
               architecture = excluded.architecture, context_length = excluded.context_length,
               capabilities = excluded.capabilities, updated_at = excluded.updated_at`,
          )
          .run(id, path, stat.size, meta.architecture, meta.contextLength, JSON.stringify(meta.capabilities), now, now);
        registered.push(id);
      } catch (error) {
        seen.delete(id);
        const reason = error instanceof Error ? error.message : String(error);
        skipped.push({ file, reason });
        this.logger.warn({ file, reason }, "skipping a model file that cannot be read");
      }
    }
    const stale = this.list().filter((m) => !seen.has(m.id) && resolve(join(dir, basename(m.path))) === m.path);
    for (const model of stale) this.db.prepare("DELETE FROM models WHERE id = ?").run(model.id);
    return { registered, skipped };
  }
}
