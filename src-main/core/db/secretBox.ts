import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Seals secrets the app must send on later (upstream keys) so the database alone does
 * not reveal them. The key lives outside the database: a 0600 file next to it when
 * headless, the OS keychain through Electron's `safeStorage` in the desktop app (the
 * shell passes its own box in `CoreOptions.secretBox`).
 */
export interface SecretBox {
  /** A short tag written in front of every sealed value (`v1`, `ss1` …), so boxes can tell their own. */
  readonly scheme: string;
  seal(plain: string): string;
  /** Throws when the value was sealed by another key or is damaged. */
  open(sealed: string): string;
}

/** Whether a stored value is sealed (by any box) rather than plain text from before sealing existed. */
export function isSealed(value: string): boolean {
  return /^[a-z0-9]+:sealed:/.test(value);
}

export function secretKeyPath(dataDir: string): string {
  return join(dataDir, "maas-base.key");
}

/** AES-256-GCM under a random key kept in a 0600 file (`maas-base.key`) beside the database. */
export class FileSecretBox implements SecretBox {
  readonly scheme = "v1";
  private readonly key: Buffer;

  constructor(keyFile: string) {
    if (existsSync(keyFile)) {
      this.key = Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64");
      if (this.key.length !== 32) throw new Error(`The secret key file ${keyFile} is damaged (expected 32 bytes).`);
      if (process.platform !== "win32") chmodSync(keyFile, 0o600);
    } else {
      this.key = randomBytes(32);
      // `wx`: two processes creating it at once must not end up with different keys.
      try {
        writeFileSync(keyFile, `${this.key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        this.key = Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64");
      }
    }
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    return `${this.scheme}:sealed:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  open(sealed: string): string {
    const prefix = `${this.scheme}:sealed:`;
    if (!sealed.startsWith(prefix)) throw new Error("not sealed by this box");
    const raw = Buffer.from(sealed.slice(prefix.length), "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }
}
