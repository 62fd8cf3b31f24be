import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import type { ModelDownloader } from "node-llama-cpp";
import type { Logger } from "pino";
import type { DownloadPublic, DownloadStatus } from "../contract/downloads.js";
import { type Db, prep } from "../db/database.js";
import { ApiError, InvalidRequestError, NotFoundError } from "../errors.js";
import { type HfFile, type HuggingFace, parseHfRef } from "./huggingface.js";
import { type ModelService, modelIdFor, sha256File } from "./models.js";

export type { DownloadStatus } from "../contract/downloads.js";

/** Speed is measured over this much recent time; no speed or time left is given before that much has passed. */
export const SPEED_WINDOW_MS = 3000;
const MIN_SPEED_SPAN_MS = 1000;

export type DownloadInfo = DownloadPublic;

interface Row {
  id: string;
  uri: string;
  hf_repo: string | null;
  hf_file: string | null;
  file_name: string;
  status: DownloadStatus;
  total_bytes: number;
  downloaded_bytes: number;
  expected_sha256: string | null;
  model_id: string | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export class InsufficientDiskError extends ApiError {
  constructor(needed: number, free: number) {
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
    super(507, "server", `The download needs ${gib(needed)} of disk, but the models folder has ${gib(free)} free.`, {
      code: "insufficient_storage",
    });
  }
}

/**
 * Hugging Face downloads into the models folder with node-llama-cpp's downloader
 * (ipull: parallel connections, retries, resumable partial files): progress, cancel,
 * resume after an interruption or an app restart, free-disk check before start,
 * sha256 check against the repository's LFS metadata, several at once. A finished
 * download is registered as a model.
 */
interface RunningDownload {
  downloader: ModelDownloader | null;
  /** Aborted when we stop the download (pause, cancel, shutdown). */
  controller: AbortController;
  done: Promise<void>;
}

export class DownloadManager {
  private readonly running = new Map<string, RunningDownload>();
  private readonly live = new Map<
    string,
    { speed: number; eta: number | null; downloaded: number; total: number; samples: Array<{ at: number; bytes: number }> }
  >();
  private readonly listeners = new Set<(download: DownloadInfo) => void>();
  private readonly waiting: string[] = [];
  private lastPersist = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly hf: HuggingFace,
    private readonly models: ModelService,
    private readonly modelsDir: string,
    private readonly logger: Logger,
    private readonly concurrency = 2,
  ) {}

  /** Progress pushes (the UI's SSE stream listens here). */
  subscribe(listener: (download: DownloadInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private toInfo(row: Row): DownloadInfo {
    const live = this.live.get(row.id);
    return {
      id: row.id,
      uri: row.uri,
      hfRepo: row.hf_repo,
      hfFile: row.hf_file,
      fileName: row.file_name,
      status: row.status,
      totalBytes: live?.total || row.total_bytes,
      downloadedBytes: live?.downloaded ?? row.downloaded_bytes,
      speed: row.status === "downloading" ? (live?.speed ?? 0) : 0,
      etaSeconds: row.status === "downloading" ? (live?.eta ?? null) : null,
      modelId: row.model_id,
      error: row.error,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  private row(id: string): Row | undefined {
    return prep(this.db, "SELECT * FROM downloads WHERE id = ?").get(id) as Row | undefined;
  }

  get(id: string): DownloadInfo | undefined {
    const row = this.row(id);
    return row ? this.toInfo(row) : undefined;
  }

  list(): DownloadInfo[] {
    return (prep(this.db, "SELECT * FROM downloads ORDER BY created_at DESC").all() as Row[]).map((r) => this.toInfo(r));
  }

  private update(id: string, fields: Partial<Omit<Row, "id">>): void {
    const entries = Object.entries(fields);
    if (entries.length === 0) return;
    prep(this.db, `UPDATE downloads SET ${entries.map(([k]) => `${k} = ?`).join(", ")}, updated_at = ? WHERE id = ?`).run(
      ...entries.map(([, v]) => v),
      Date.now(),
      id,
    );
    this.emit(id);
  }

  private emit(id: string): void {
    const info = this.get(id);
    if (info) for (const listener of this.listeners) listener(info);
  }

  /** Queues a download of an `hf:` reference; resolves once the file is known (404s and 400s surface here). */
  async start(ref: string): Promise<DownloadInfo> {
    const parsed = parseHfRef(ref);
    const file = await this.hf.resolve(parsed);
    const fileName = basename(file.parts[0] ?? file.path);
    const existing = this.list().find(
      (d) => d.hfRepo === parsed.repo && d.hfFile === file.path && ["queued", "downloading", "verifying"].includes(d.status),
    );
    if (existing) return existing;
    const modelId = modelIdFor(fileName);
    if (this.models.get(modelId)) {
      throw new InvalidRequestError(`A model named '${modelId}' is already in the library.`, "ref", "model_exists");
    }
    this.checkDisk(file);
    const id = `dl_${randomBytes(8).toString("hex")}`;
    const now = Date.now();
    prep(
      this.db,
      `INSERT INTO downloads (id, uri, hf_repo, hf_file, file_name, status, total_bytes, expected_sha256, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)`,
    ).run(id, ref, parsed.repo, file.path, fileName, file.size, file.sha256, now, now);
    this.enqueue(id);
    return this.get(id) as DownloadInfo;
  }

  private checkDisk(file: HfFile): void {
    mkdirSync(this.modelsDir, { recursive: true });
    const stats = statfsSync(this.modelsDir);
    const free = Number(stats.bavail) * Number(stats.bsize);
    // A little headroom beyond the file itself.
    const needed = file.size + 64 * 1024 * 1024;
    if (needed > free) throw new InsufficientDiskError(needed, free);
  }

  private enqueue(id: string): void {
    if (!this.waiting.includes(id)) this.waiting.push(id);
    this.pump();
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.waiting.length > 0) {
      const id = this.waiting.shift() as string;
      const controller = new AbortController();
      const entry = { downloader: null, controller, done: Promise.resolve() };
      this.running.set(id, entry);
      entry.done = this.run(id, controller).finally(() => {
        this.running.delete(id);
        this.live.delete(id);
        if (!this.stopped) this.pump();
      });
    }
  }

  private async run(id: string, controller: AbortController): Promise<void> {
    const row = this.row(id);
    if (!row || row.status === "cancelled") return;
    const repo = row.hf_repo as string;
    const path = row.hf_file as string;
    const target = join(this.modelsDir, row.file_name);
    const staging = this.stagingDir(id);
    try {
      this.update(id, { status: "downloading", error: null });
      mkdirSync(staging, { recursive: true });
      // ipull renames its partial file to the final name when a download is closed
      // before the end; renaming it back lets it resume from its saved progress.
      const interrupted = join(staging, row.file_name);
      if (existsSync(interrupted) && !existsSync(`${interrupted}.ipull`)) renameSync(interrupted, `${interrupted}.ipull`);
      // Imported here: loading node-llama-cpp takes ~1 s and ~40 MB, which a server that downloads nothing should not pay.
      const { createModelDownloader } = await import("node-llama-cpp");
      const downloader = await createModelDownloader({
        modelUri: this.hf.fileUrl(repo, path),
        dirPath: staging,
        fileName: row.file_name,
        headers: this.hf.headers,
        skipExisting: false,
        deleteTempFileOnCancel: false,
        onProgress: ({ totalSize, downloadedSize }) => {
          const now = Date.now();
          this.live.set(id, measure(this.live.get(id)?.samples ?? [], now, downloadedSize, totalSize));
          if (now - (this.lastPersist.get(id) ?? 0) > 250) {
            this.lastPersist.set(id, now);
            this.update(id, { downloaded_bytes: downloadedSize, total_bytes: totalSize });
          }
        },
      });
      const entry = this.running.get(id);
      if (entry) entry.downloader = downloader;
      if (controller.signal.aborted) throw new Error("cancelled");
      // No signal passed: node-llama-cpp answers an abort by closing the downloader in a
      // promise nobody awaits or catches (a failed rename there is an unhandled rejection).
      // `halt` closes it instead, awaited; `controller` only says that we stopped it.
      const entryPath = await downloader.download();
      // A cancelled download can resolve rather than reject; never verify or register it.
      if (controller.signal.aborted) throw new Error("aborted");
      this.update(id, { status: "verifying", downloaded_bytes: downloader.totalSize, total_bytes: downloader.totalSize });
      const size = statSync(entryPath).size;
      if (size !== downloader.totalSize) {
        throw new Error(`the download is incomplete: ${size} of ${downloader.totalSize} bytes`);
      }
      let sha256: string | null = null;
      if (row.expected_sha256) {
        sha256 = await sha256File(entryPath);
        if (sha256 !== row.expected_sha256) {
          rmSync(staging, { recursive: true, force: true });
          throw new ChecksumError(row.expected_sha256, sha256);
        }
      }
      if (existsSync(target)) throw new Error(`'${row.file_name}' already exists in the models folder`);
      renameSync(entryPath, target);
      rmSync(staging, { recursive: true, force: true });
      const model = await this.models.register(target, {
        id: modelIdFor(row.file_name),
        source: "huggingface",
        hfRepo: repo,
        hfFile: path,
        sha256,
      });
      this.update(id, { status: "done", model_id: model.id });
      this.logger.info({ download: id, model: model.id }, "download finished");
    } catch (error) {
      const current = this.row(id);
      if (current?.status === "cancelled") {
        rmSync(staging, { recursive: true, force: true });
        return;
      }
      // Paused: the partial file stays, and resuming continues from it.
      if (current?.status === "paused") return;
      if (controller.signal.aborted) {
        // Shutdown: leave it queued with its partial file, to resume on the next start.
        this.update(id, { status: "queued" });
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn({ download: id, err: message }, "download failed");
      // A failed checksum leaves nothing to resume from: the next try starts afresh.
      if (error instanceof ChecksumError) this.live.delete(id);
      this.update(id, { status: "failed", error: message, ...(error instanceof ChecksumError ? { downloaded_bytes: 0 } : {}) });
    }
  }

  /** Where a download's partial file lives until it is complete and verified (never scanned as a model). */
  private stagingDir(id: string): string {
    return join(this.modelsDir, ".downloads", id);
  }

  /** Cancels a queued, running or paused download and deletes its partial file. */
  async cancel(id: string): Promise<DownloadInfo> {
    const row = this.row(id);
    if (!row) throw new NotFoundError(`No download with id '${id}'.`, "id", "download_not_found");
    if (!["queued", "downloading", "paused", "verifying"].includes(row.status)) return this.toInfo(row);
    this.update(id, { status: "cancelled" });
    const index = this.waiting.indexOf(id);
    if (index >= 0) this.waiting.splice(index, 1);
    const entry = this.running.get(id);
    if (entry) await this.halt(entry, true);
    rmSync(this.stagingDir(id), { recursive: true, force: true });
    return this.get(id) as DownloadInfo;
  }

  /**
   * Pauses a queued or running download: it stops, its partial file stays, and `retry`
   * (Resume) continues from where it stopped with a ranged request.
   */
  async pause(id: string): Promise<DownloadInfo> {
    const row = this.row(id);
    if (!row) throw new NotFoundError(`No download with id '${id}'.`, "id", "download_not_found");
    if (!["queued", "downloading"].includes(row.status)) return this.toInfo(row);
    const live = this.live.get(id);
    this.update(id, { status: "paused", ...(live ? { downloaded_bytes: live.downloaded } : {}) });
    const index = this.waiting.indexOf(id);
    if (index >= 0) this.waiting.splice(index, 1);
    const entry = this.running.get(id);
    if (entry) {
      // Closed and awaited before anything else: ipull writes its progress and renames the
      // partial file as it closes, and a Resume that starts before that has finished finds
      // a file in flux and starts from zero. (An abort alone closes without waiting.)
      await this.halt(entry, false);
    }
    return this.get(id) as DownloadInfo;
  }

  /** Resumes a paused download, or tries a failed one again (from its partial file when there is one). */
  retry(id: string): DownloadInfo {
    const row = this.row(id);
    if (!row) throw new NotFoundError(`No download with id '${id}'.`, "id", "download_not_found");
    if (!["failed", "cancelled", "paused"].includes(row.status)) return this.toInfo(row);
    this.update(id, { status: "queued", error: null });
    this.enqueue(id);
    return this.get(id) as DownloadInfo;
  }

  /** Picks up downloads an earlier run left queued or running. */
  resumePending(): void {
    const pending = prep(
      this.db,
      "SELECT id FROM downloads WHERE status IN ('queued', 'downloading', 'verifying') ORDER BY created_at",
    ).all() as Array<{ id: string }>;
    for (const { id } of pending) {
      this.update(id, { status: "queued" });
      this.enqueue(id);
    }
  }

  /** Stops running downloads, keeping their partial files for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    const entries = [...this.running.values()];
    await Promise.all(entries.map((entry) => this.halt(entry, false)));
  }

  /**
   * Stops a running download and waits until ipull has closed it (written its progress,
   * renamed or deleted its partial file) and `run` has wound down, so nothing of it is
   * still touching the staging folder afterwards. The abort comes first: `run` then knows
   * that an early end of `download()` is ours, not a finished file.
   */
  private async halt(entry: RunningDownload, deleteTempFile: boolean): Promise<void> {
    entry.controller.abort();
    await entry.downloader?.cancel({ deleteTempFile }).catch((error: unknown) => {
      this.logger.debug({ err: error instanceof Error ? error.message : String(error) }, "closing a download");
    });
    await entry.done;
  }
}

/** The downloaded file is not the file the hub describes. */
export class ChecksumError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `The file's SHA-256 does not match the hub's: the download was deleted. Download it again for a fresh copy (expected ${expected.slice(0, 12)}…, got ${actual.slice(0, 12)}…).`,
    );
  }
}

/**
 * Speed as a moving average over the last SPEED_WINDOW_MS of progress reports, and the
 * time left at that speed: neither is given until at least a second of progress was
 * seen (an early guess from a few packets is off by an order of magnitude).
 */
export function measure(
  previous: Array<{ at: number; bytes: number }>,
  now: number,
  downloaded: number,
  total: number,
): { speed: number; eta: number | null; downloaded: number; total: number; samples: Array<{ at: number; bytes: number }> } {
  const valid = previous.filter((p) => p.bytes <= downloaded);
  // The samples inside the window, and the last one before it as the span's start.
  const anchor = valid.filter((p) => now - p.at > SPEED_WINDOW_MS).at(-1);
  const samples = [
    ...(anchor ? [anchor] : []),
    ...valid.filter((p) => now - p.at <= SPEED_WINDOW_MS),
    { at: now, bytes: downloaded },
  ];
  const first = samples[0] as { at: number; bytes: number };
  const span = now - first.at;
  const speed = span >= MIN_SPEED_SPAN_MS ? ((downloaded - first.bytes) * 1000) / span : 0;
  const eta = speed > 0 && total > 0 ? Math.max(0, Math.round((total - downloaded) / speed)) : null;
  return { speed, eta, downloaded, total, samples };
}
