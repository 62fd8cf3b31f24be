/**
 * The model library: GGUF files registered with what their headers say. This file is the
 * service (register, scan, import, remove); the SQL is in modelRepository.ts, the file
 * operations in modelFiles.ts, header reading in ggufReader.ts.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { Logger } from "pino";
import type { ModelScanPublic } from "../contract/models.js";
import type { Db } from "../db/database.js";
import { InvalidRequestError, NotFoundError } from "../errors.js";
import type { ModelInfo, ModelSettings } from "../inference/types.js";
import { defaultReader, type GgufReader } from "./ggufReader.js";
import {
  copyStaged,
  deleteModelFiles,
  isLaterPart,
  linkFiles,
  modelFiles,
  modelIdFor,
  modelSize,
  removeFiles,
  removeStagedFiles,
  sha256File,
} from "./modelFiles.js";
import { ModelRepository, type UnreadableFile } from "./modelRepository.js";

export type { GgufReader, GgufSummary } from "./ggufReader.js";
export { modelFiles, modelIdFor, sha256File } from "./modelFiles.js";
export type { UnreadableFile } from "./modelRepository.js";

export interface RegisterOptions {
  id?: string;
  source?: "local" | "huggingface";
  hfRepo?: string | null;
  hfFile?: string | null;
  sha256?: string | null;
}

/** The model library: GGUF files registered in SQLite with what their headers say. */
export class ModelService {
  private hashing: Promise<void> = Promise.resolve();
  private readonly repo: ModelRepository;

  constructor(
    db: Db,
    private readonly logger: Logger,
    private readonly reader: GgufReader = defaultReader(),
  ) {
    this.repo = new ModelRepository(db);
  }

  /** Model files in the models folder that could not be read, with why. */
  unreadable(): UnreadableFile[] {
    return this.repo.unreadable();
  }

  list(): ModelInfo[] {
    return this.repo.list();
  }

  get(id: string): ModelInfo | undefined {
    return this.repo.get(id);
  }

  /** Registers (or refreshes) one model file; its sha256 is computed in the background unless given. */
  async register(path: string, options: RegisterOptions = {}): Promise<ModelInfo> {
    const files = modelFiles(resolve(path));
    const missing = files.find((f) => !existsSync(f));
    if (missing) throw new InvalidRequestError(`Part '${basename(missing)}' of this split model is missing.`, "path");
    const size = files.reduce((n, f) => n + statSync(f).size, 0);
    const meta = await this.reader.inspect(files[0] as string);
    const id = options.id ?? modelIdFor(path);
    const info = this.repo.upsert({
      id,
      path: files[0] as string,
      sizeBytes: size,
      architecture: meta.architecture,
      contextLength: meta.contextLength,
      capabilities: meta.capabilities,
      source: options.source ?? "local",
      sha256: options.sha256 ?? null,
      quantization: meta.quantization ?? null,
      parameterCount: meta.parameterCount ?? null,
      hasChatTemplate: Boolean(meta.hasChatTemplate),
      parts: files.length,
      hfRepo: options.hfRepo ?? null,
      hfFile: options.hfFile ?? null,
    });
    if (!info.sha256 && files.length === 1) this.hashLater(id, files[0] as string, size);
    return info;
  }

  /** Hashes model files one at a time in the background, so listing never waits for it. */
  private hashLater(id: string, path: string, size: number): void {
    this.hashing = this.hashing.then(async () => {
      try {
        const current = this.get(id);
        if (!current || current.path !== path || current.sizeBytes !== size || current.sha256) return;
        this.repo.setSha256(id, path, await sha256File(path));
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
  async scan(dir: string): Promise<ModelScanPublic> {
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
      if (isLaterPart(file)) continue;
      const path = resolve(join(dir, file));
      const id = modelIdFor(file);
      try {
        if (!statSync(path).isFile()) continue;
        seen.add(id);
        const existing = this.get(id);
        const size = modelSize(path);
        if (existing && existing.path === path && existing.sizeBytes === size) {
          registered.push(id);
          if (!existing.sha256 && existing.parts === 1) this.hashLater(id, path, size);
          continue;
        }
        // A file that could not be read before is skipped until it changes (no crash loop at start).
        const known = this.repo.knownUnreadable(path);
        if (known !== null) {
          seen.delete(id);
          skipped.push({ file, reason: known });
          continue;
        }
        await this.register(path, { id });
        this.repo.forgetUnreadable(path);
        registered.push(id);
      } catch (error) {
        seen.delete(id);
        const reason = error instanceof Error ? error.message : String(error);
        skipped.push({ file, reason });
        try {
          this.repo.markUnreadable(path, reason);
        } catch {}
        this.logger.warn({ file, reason }, "skipping a model file that cannot be read");
      }
    }
    const folder = resolve(dir);
    for (const row of this.unreadable()) {
      if (dirname(row.path) === folder && !existsSync(row.path)) this.repo.forgetUnreadable(row.path);
    }
    const stale = this.list().filter((m) => !seen.has(m.id) && dirname(m.path) === folder);
    for (const model of stale) this.repo.delete(model.id);
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
    try {
      if (mode === "copy") await copyStaged(sources, targets, (staged) => this.reader.inspect(staged));
      else linkFiles(sources, targets);
      return await this.register(targets[0] as string, { id: modelId });
    } catch (error) {
      // None of the targets existed before: whatever is there now, this import made.
      removeFiles(targets);
      throw error;
    }
  }

  /** Removes staging files of imports whose process is gone (killed mid-copy). */
  removeStagedImports(modelsDir: string): string[] {
    if (!existsSync(modelsDir)) return [];
    const removed = removeStagedFiles(modelsDir);
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
    deleteModelFiles(model.path);
    this.repo.delete(id);
    return model;
  }

  /** Replaces a model's settings (validated by the caller). */
  updateSettings(id: string, settings: ModelSettings): ModelInfo {
    if (!this.repo.updateSettings(id, settings)) {
      throw new NotFoundError(`The model '${id}' does not exist.`, "id", "model_not_found");
    }
    return this.get(id) as ModelInfo;
  }
}
