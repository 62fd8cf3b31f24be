import { closeSync, openSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Another server already uses this data folder. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `Another MaaS-Base server (pid ${holder.pid}${holder.url ? `, ${holder.url}` : ""}) is using the data folder ${dataDir}; stop it first or use --data-dir.`,
    );
    this.name = "DataDirInUseError";
  }
}

export interface LockHolder {
  pid: number;
  url: string | null;
  startedAt: number;
}

export function lockPath(dataDir: string): string {
  return join(dataDir, "maas-base.lock");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<LockHolder>;
    return typeof parsed.pid === "number" ? { pid: parsed.pid, url: parsed.url ?? null, startedAt: parsed.startedAt ?? 0 } : null;
  } catch {
    return null;
  }
}

/** Lock files held by cores in this process (a second core on one folder is refused too). */
const heldHere = new Set<string>();

/**
 * One server per data folder: a lock file with the holder's PID (and URL once it
 * listens), created exclusively. A lock whose PID is gone is stale and taken over.
 */
export class ServerLock {
  private held = false;
  private readonly file: string;

  constructor(private readonly dataDir: string) {
    this.file = lockPath(dataDir);
  }

  acquire(): void {
    if (heldHere.has(this.file)) throw new DataDirInUseError(this.dataDir, { pid: process.pid, url: null, startedAt: 0 });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(this.file, "wx", 0o600);
        writeFileSync(fd, JSON.stringify({ pid: process.pid, url: null, startedAt: Date.now() }));
        closeSync(fd);
        this.held = true;
        heldHere.add(this.file);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = readHolder(this.file);
      if (holder && holder.pid !== process.pid && alive(holder.pid)) throw new DataDirInUseError(this.dataDir, holder);
      // Stale (its process is gone), or half-written by a process that died: take it over.
      try {
        unlinkSync(this.file);
      } catch {
        // another starter removed it first; try again
      }
    }
    throw new Error(`Could not take the lock ${this.file}.`);
  }

  /** Records the URL, so a second server can say where the first one listens. */
  setUrl(url: string): void {
    if (!this.held) return;
    writeFileSync(this.file, JSON.stringify({ pid: process.pid, url, startedAt: Date.now() }), { mode: 0o600 });
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    heldHere.delete(this.file);
    const holder = readHolder(this.file);
    if (holder?.pid === process.pid) {
      try {
        unlinkSync(this.file);
      } catch {
        // already gone
      }
    }
  }
}
