/** One-time sign-in codes for the web app, exchanged once for a session key. */
import { randomBytes } from "node:crypto";

/** What became of a presented sign-in code. */
export type SignInCodeResult = "ok" | "used" | "expired" | "unknown";

/** One-time sign-in codes (the `#signin=` links `serve` prints), kept in memory only. */
export class SignInCodes {
  private readonly codes = new Map<string, { expires: number; usedAt: number | null }>();

  create(ttlMs = 15 * 60_000): string {
    const now = Date.now();
    for (const [code, entry] of this.codes) if (entry.expires < now - 86_400_000) this.codes.delete(code);
    const code = randomBytes(18).toString("base64url");
    this.codes.set(code, { expires: now + ttlMs, usedAt: null });
    return code;
  }

  /** `ok` once per valid code; later tries say it was used (remembered a day past expiry), or expired. */
  consume(code: string): SignInCodeResult {
    const entry = this.codes.get(code);
    if (!entry) return "unknown";
    if (entry.usedAt !== null) return "used";
    if (entry.expires <= Date.now()) return "expired";
    entry.usedAt = Date.now();
    return "ok";
  }
}
