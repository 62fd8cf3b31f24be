/** Model files on disk: split-GGUF naming, ids from file names, hashing, staged copies and links, removal. */
import { createHash } from "node:crypto";
import { createReadStream, linkSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** `name-00001-of-00003.gguf`: llama.cpp's multi-part GGUF naming. */
const SPLIT_PART = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** A part of a split GGUF other than its first (a model is registered by its first part). */
export function isLaterPart(file: string): boolean {
  const split = SPLIT_PART.exec(file);
  return split !== null && Number(split[2]) !== 1;
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

/** The bytes of a model, all its parts together. */
export const modelSize = (path: string): number => modelFiles(path).reduce((n, f) => n + statSync(f).size, 0);

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

/**
 * Copies `sources` to `targets` under staging names (never `*.gguf`, so no scan registers
 * them), has `verify` read the first staged file, then renames them into place: a kill -9
 * mid-copy leaves only staging files, which `removeStagedImports` removes at the next start.
 * On failure nothing is left behind.
 */
export async function copyStaged(sources: string[], targets: string[], verify: (path: string) => Promise<unknown>) {
  const staged: string[] = [];
  const done: string[] = [];
  try {
    for (const [i, file] of sources.entries()) {
      const stage = stagingName(targets[i] as string);
      staged.push(stage);
      await copyFile(file, stage);
      if (statSync(stage).size !== statSync(file).size) throw new Error(`the copy of '${basename(file)}' is incomplete`);
    }
    await verify(staged[0] as string);
    for (const [i, stage] of staged.entries()) {
      renameSync(stage, targets[i] as string);
      done.push(targets[i] as string);
    }
  } catch (error) {
    for (const path of [...done, ...staged]) rmSync(path, { force: true });
    throw error;
  }
}

/** Links each target to its source (a symlink, or a hard link where symlinks need rights: Windows). */
export function linkFiles(sources: string[], targets: string[]): void {
  const done: string[] = [];
  try {
    for (const [i, file] of sources.entries()) {
      const target = targets[i] as string;
      try {
        symlinkSync(file, target);
      } catch {
        linkSync(file, target);
      }
      done.push(target);
    }
  } catch (error) {
    for (const path of done) rmSync(path, { force: true });
    throw error;
  }
}

/** Removes staging files of imports whose process is gone (killed mid-copy); returns their names. */
export function removeStagedFiles(modelsDir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(modelsDir)) {
    const match = STAGING_PATTERN.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && processAlive(pid)) continue;
    rmSync(join(modelsDir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** Deletes a model's files (for a linked import only the links); files already gone are fine. */
export function deleteModelFiles(path: string): void {
  for (const file of modelFiles(path)) {
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
}

/** Undoes files a failed registration left (the copies or links it made). */
export function removeFiles(paths: string[]): void {
  for (const path of paths) rmSync(path, { force: true });
}
