/**
 * Long prompt prefixes kept on disk after their sequence is reused for another prompt,
 * and restored when the same prefix comes back (after an eviction or a restart). Agents
 * resend a 5k–40k-token prefix every turn; with more sessions than sequences each turn
 * would otherwise recompute it (minutes on a CPU), while reading a saved state back is
 * a file read.
 *
 * A file holds one sequence's state as node-llama-cpp saves it (`saveStateToFile`: the
 * KV cells and the token list). The index (`index.json`, beside the files) keeps each
 * file's tokens, size, checksum and last use, so a prompt finds its longest saved prefix
 * without opening files, and the store survives a restart. One folder per model under
 * the data folder's `prefix-cache/`; a different model file or changed model settings
 * (the fingerprint) empty it, and removing the model deletes it (`removePrefixStore`).
 *
 * Runs in the engine process (it holds the context); the server only passes settings.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { LlamaContextSequence } from "node-llama-cpp";
import type { Logger } from "pino";
import { commonPrefixLength } from "./sequenceChoice.js";

/** The server's settings for the store (settings.ts `prefixCacheMaxBytes`, `prefixCacheMinTokens`). */
export interface PrefixCacheOptions {
  /** The data folder's `prefix-cache/`; one subfolder per model. */
  dir: string;
  /** Disk the saved states of one model may take, in bytes; 0 turns the store off. */
  maxBytes: number;
  /** A sequence is saved when reusing it would discard at least this many of its tokens. */
  minTokens: number;
}

/**
 * Runs a call that takes the context's lock (node-llama-cpp's state save and load do);
 * the engine passes the aligner's `exclusive`, so it need not wait for every stream to end.
 */
export type Locked = <T>(fn: () => Promise<T>) => Promise<T>;
const unlocked: Locked = (fn) => fn();

/** Free disk the store always leaves, whatever its bound. */
const DISK_RESERVE_BYTES = 512 * 2 ** 20;
/** A restore must skip at least this many more tokens than the warm sequence shares. */
const MIN_RESTORE_GAIN = 32;
const INDEX_FILE = "index.json";
const INDEX_VERSION = 1;

/** The folder of one model's saved prefixes. */
export function prefixStoreDir(root: string, modelId: string): string {
  return join(root, modelId.replace(/[^\w.-]/g, "_"));
}

/** Deletes a model's saved prefixes (the model was removed). */
export function removePrefixStore(root: string, modelId: string): void {
  rmSync(prefixStoreDir(root, modelId), { recursive: true, force: true });
}

interface Entry {
  file: string;
  tokens: Uint32Array;
  bytes: number;
  sha256: string;
  lastUsed: number;
}

interface IndexFile {
  version: number;
  fingerprint: string;
  entries: Array<{ file: string; tokens: string; bytes: number; sha256: string; lastUsed: number }>;
}

export interface PrefixStoreStats {
  files: number;
  bytes: number;
  saves: number;
  restores: number;
  restoredTokens: number;
  /** Saves skipped for want of disk (the bound, or the disk itself). */
  skipped: number;
  /** Files found unreadable or corrupt and deleted (the prefix was recomputed). */
  dropped: number;
  /** Time spent writing (checksum included) and reading back states, in ms. */
  saveMs: number;
  restoreMs: number;
}

/**
 * The file's SHA-256, read with synchronous 8 MiB reads that yield between them: read
 * jobs queued on the engine's one libuv thread would wait behind every decode step.
 */
async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const chunk = Buffer.allocUnsafe(8 * 2 ** 20);
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

const tokensKey = (tokens: Uint32Array) =>
  createHash("sha256")
    .update(Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength))
    .digest("hex")
    .slice(0, 32);

/** Whether `prefix` is a prefix of `tokens` (or equal to it). */
function startsWith(tokens: ArrayLike<number>, prefix: ArrayLike<number>): boolean {
  if (prefix.length > tokens.length) return false;
  for (let i = 0; i < prefix.length; i++) if (tokens[i] !== prefix[i]) return false;
  return true;
}

export class PrefixStore {
  private entries: Entry[] = [];
  /** One operation at a time: saves, restores and index writes do not interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  readonly counters = { saves: 0, restores: 0, restoredTokens: 0, skipped: 0, dropped: 0, saveMs: 0, restoreMs: 0 };

  private constructor(
    readonly dir: string,
    private readonly fingerprint: string,
    private readonly options: PrefixCacheOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Opens (or creates) a model's store. A store made for another file or other settings
   * is emptied; files the index does not know (a save cut short) are deleted.
   */
  static open(options: PrefixCacheOptions, modelId: string, fingerprint: string, logger: Logger): PrefixStore {
    const dir = prefixStoreDir(options.dir, modelId);
    const store = new PrefixStore(dir, fingerprint, options, logger);
    mkdirSync(dir, { recursive: true });
    let index: IndexFile | null = null;
    try {
      index = JSON.parse(readFileSync(join(dir, INDEX_FILE), "utf8")) as IndexFile;
    } catch {}
    if (index && index.version === INDEX_VERSION && index.fingerprint === fingerprint) {
      for (const e of index.entries) {
        try {
          if (statSync(join(dir, e.file)).size !== e.bytes) continue;
        } catch {
          continue;
        }
        const raw = Buffer.from(e.tokens, "base64");
        const tokens = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        store.entries.push({ file: e.file, tokens, bytes: e.bytes, sha256: e.sha256, lastUsed: e.lastUsed });
      }
    } else if (index) {
      logger.info({ model: modelId }, "the model or its settings changed: clearing its saved prompt prefixes");
    }
    const known = new Set(store.entries.map((e) => e.file));
    for (const name of readdirSync(dir)) {
      if (name !== INDEX_FILE && !known.has(name)) rmSync(join(dir, name), { force: true });
    }
    // The bound may have been lowered since the files were written.
    store.evictFor(0, []);
    store.writeIndex();
    return store;
  }

  get stats(): PrefixStoreStats {
    return { files: this.entries.length, bytes: this.totalBytes(), ...this.counters };
  }

  private totalBytes(): number {
    return this.entries.reduce((n, e) => n + e.bytes, 0);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }

  private writeIndex(): void {
    const index: IndexFile = {
      version: INDEX_VERSION,
      fingerprint: this.fingerprint,
      entries: this.entries.map((e) => ({
        file: e.file,
        tokens: Buffer.from(e.tokens.buffer, e.tokens.byteOffset, e.tokens.byteLength).toString("base64"),
        bytes: e.bytes,
        sha256: e.sha256,
        lastUsed: e.lastUsed,
      })),
    };
    const tmp = join(this.dir, `${INDEX_FILE}.tmp`);
    try {
      writeFileSync(tmp, JSON.stringify(index));
      renameSync(tmp, join(this.dir, INDEX_FILE));
    } catch (error) {
      // A full disk: the files stay, the old index stays; the next open drops what it does not list.
      rmSync(tmp, { force: true });
      this.logger.warn({ err: (error as Error).message, dir: this.dir }, "could not write the prompt prefix index");
    }
  }

  private drop(entry: Entry): void {
    this.entries = this.entries.filter((e) => e !== entry);
    rmSync(join(this.dir, entry.file), { force: true });
  }

  /**
   * Whether reusing a sequence holding `held` for `prompt` should save it first: it holds
   * at least `minTokens` that neither the new prompt nor a saved file keeps. A session's
   * turn that added a few tokens to its saved prefix is not saved again (restoring the
   * older file and evaluating those few costs less than writing the whole state).
   */
  shouldSave(held: readonly number[], prompt: readonly number[]): boolean {
    if (held.length < this.options.minTokens) return false;
    let kept = commonPrefixLength(held, prompt);
    for (const entry of this.entries)
      kept = Math.max(kept, commonPrefixLength(entry.tokens as unknown as readonly number[], held));
    return held.length - kept >= this.options.minTokens;
  }

  /** Whether losing `held` loses work: what `shouldSave` would save for any other prompt. */
  isCostly(held: readonly number[]): boolean {
    return this.shouldSave(held, []);
  }

  /** The saved prefix sharing the most tokens with `prompt`, when it beats `warm` (what the chosen sequence shares). */
  bestFor(prompt: readonly number[], warm: number, contextSize: number): { tokens: number } | null {
    const found = this.find(prompt, contextSize);
    return found && found.length >= this.options.minTokens && found.length >= warm + MIN_RESTORE_GAIN
      ? { tokens: found.length }
      : null;
  }

  private find(prompt: readonly number[], contextSize: number): { entry: Entry; length: number } | null {
    let best: { entry: Entry; length: number } | null = null;
    for (const entry of this.entries) {
      if (entry.tokens.length > contextSize) continue;
      const length = commonPrefixLength(entry.tokens as unknown as readonly number[], prompt);
      if (!best || length > best.length) best = { entry, length };
    }
    return best;
  }

  /**
   * Saves the sequence's state unless a saved file already covers it. Returns whether a
   * file was written. Never throws: a failure (disk full) is logged and the save skipped.
   */
  save(sequence: LlamaContextSequence, locked: Locked = unlocked): Promise<boolean> {
    return this.serial(async () => {
      const tokens = Uint32Array.from(sequence.contextTokens);
      if (tokens.length < this.options.minTokens) return false;
      const covering = this.entries.find((e) => startsWith(e.tokens, tokens));
      if (covering) {
        covering.lastUsed = Date.now();
        return false;
      }
      // The size of what the same model saved before, per token (0 = nothing saved yet).
      const perToken = Math.max(0, ...this.entries.map((e) => e.bytes / Math.max(1, e.tokens.length)));
      const estimate = Math.ceil(perToken * tokens.length);
      if (estimate > this.options.maxBytes) return this.skip("larger than the store's bound", tokens.length);
      // Superseded: saved prefixes of what is saved now.
      const superseded = this.entries.filter((e) => startsWith(tokens, e.tokens));
      this.evictFor(estimate, superseded);
      let free = Number.POSITIVE_INFINITY;
      try {
        const fs = statfsSync(this.dir);
        free = fs.bavail * fs.bsize;
      } catch {}
      if (free < estimate + DISK_RESERVE_BYTES) return this.skip("the disk is nearly full", tokens.length);
      const file = `${tokensKey(tokens)}.state`;
      const tmp = join(this.dir, `${file}.tmp`);
      let bytes: number;
      let sha256: string;
      const started = performance.now();
      try {
        ({ fileSize: bytes } = await locked(() => sequence.saveStateToFile(tmp)));
        sha256 = await sha256File(tmp);
        renameSync(tmp, join(this.dir, file));
      } catch (error) {
        rmSync(tmp, { force: true });
        return this.skip(`saving failed: ${(error as Error).message}`, tokens.length);
      }
      for (const old of superseded) this.drop(old);
      this.entries = this.entries.filter((e) => e.file !== file);
      this.entries.push({ file, tokens, bytes, sha256, lastUsed: Date.now() });
      this.evictFor(0, []);
      this.counters.saves++;
      this.counters.saveMs += Math.round(performance.now() - started);
      this.writeIndex();
      this.logger.debug({ tokens: tokens.length, bytes, dir: this.dir }, "saved a prompt prefix");
      return true;
    });
  }

  private skip(reason: string, tokens: number): false {
    this.counters.skipped++;
    this.logger.warn({ reason, tokens, dir: this.dir }, "not saving a prompt prefix");
    return false;
  }

  /** Deletes least recently used files until `incoming` more bytes fit the bound (counting `leaving` as gone). */
  private evictFor(incoming: number, leaving: readonly Entry[]): void {
    const kept = () => this.entries.filter((e) => !leaving.includes(e)).reduce((n, e) => n + e.bytes, 0);
    const byAge = this.entries.filter((e) => !leaving.includes(e)).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const victim of byAge) {
      if (kept() + incoming <= this.options.maxBytes) break;
      this.drop(victim);
    }
  }

  /**
   * Loads the saved state sharing the longest prefix with `prompt` into `sequence` (which
   * the caller holds and no longer needs). Returns the prompt tokens it now holds, or 0
   * when nothing was restored: a file that is missing, fails its checksum or that
   * llama.cpp refuses is deleted and logged, and the prompt is computed as usual.
   */
  restore(sequence: LlamaContextSequence, prompt: readonly number[], locked: Locked = unlocked): Promise<number> {
    return this.serial(async () => {
      const found = this.find(prompt, sequence.contextSize);
      if (!found || found.length < this.options.minTokens) return 0;
      const { entry } = found;
      const path = join(this.dir, entry.file);
      const started = performance.now();
      try {
        const actual = await sha256File(path);
        if (actual !== entry.sha256) throw new Error("its checksum does not match");
        await locked(() => sequence.loadStateFromFile(path, { acceptRisk: true }));
        if (!startsWith(sequence.contextTokens, entry.tokens) || sequence.contextTokens.length !== entry.tokens.length) {
          throw new Error("it holds other tokens than its index says");
        }
      } catch (error) {
        this.counters.dropped++;
        this.logger.warn(
          { err: (error as Error).message, file: path },
          "a saved prompt prefix could not be restored: deleted, computing the prompt instead",
        );
        this.drop(entry);
        this.writeIndex();
        await locked(() => sequence.clearHistory()).catch(() => {});
        return 0;
      }
      entry.lastUsed = Date.now();
      this.counters.restores++;
      this.counters.restoreMs += Math.round(performance.now() - started);
      const shared = commonPrefixLength(sequence.contextTokens, prompt);
      this.counters.restoredTokens += shared;
      this.writeIndex();
      return shared;
    });
  }

  /** Deletes every saved state of this model. */
  clear(): Promise<void> {
    return this.serial(async () => {
      for (const entry of [...this.entries]) this.drop(entry);
      this.writeIndex();
    });
  }
}
