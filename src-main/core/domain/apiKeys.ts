import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Db } from "../db/database.js";

export type KeyScope = "inference" | "management";

/** What may be shown about a key after creation: never the secret or its hash. */
export interface ApiKeyPublic {
  id: number;
  name: string;
  scope: KeyScope;
  maskedValue: string;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
}

interface ApiKeyRow {
  id: number;
  name: string;
  access_key: string;
  secret_hash: string;
  scope: KeyScope;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
}

const KEY_PATTERN = /^mb_([0-9a-f]{16})_([0-9a-f]{32})$/;

function hashSecret(secret: string): Buffer {
  // The secret is 128 random bits, so a fast hash is enough; no salt needed.
  return createHash("sha256").update(secret).digest();
}

function toPublic(row: ApiKeyRow): ApiKeyPublic {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    maskedValue: `mb_${row.access_key}_${"*".repeat(8)}`,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** API keys: `mb_<accessKey>_<secret>`; only a hash of the secret is stored. */
export class ApiKeyService {
  private readonly lastTouched = new Map<number, number>();

  constructor(private readonly db: Db) {}

  create(input: { name: string; scope: KeyScope; expiresAt?: number | null }): { key: string; record: ApiKeyPublic } {
    const accessKey = randomBytes(8).toString("hex");
    const secret = randomBytes(16).toString("hex");
    const now = Date.now();
    const info = this.db
      .prepare("INSERT INTO api_keys (name, access_key, secret_hash, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(input.name, accessKey, hashSecret(secret).toString("hex"), input.scope, now, input.expiresAt ?? null);
    const row = this.db.prepare("SELECT * FROM api_keys WHERE id = ?").get(info.lastInsertRowid) as ApiKeyRow;
    return { key: `mb_${accessKey}_${secret}`, record: toPublic(row) };
  }

  list(): ApiKeyPublic[] {
    return (this.db.prepare("SELECT * FROM api_keys ORDER BY id").all() as ApiKeyRow[]).map(toPublic);
  }

  revoke(id: number): boolean {
    return (
      this.db.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(Date.now(), id).changes > 0
    );
  }

  count(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL").get() as { n: number }).n;
  }

  /** Returns the key's record when `presented` is a valid, live key; `null` otherwise. */
  verify(presented: string): ApiKeyPublic | null {
    const match = KEY_PATTERN.exec(presented);
    if (!match) return null;
    const [, accessKey, secret] = match as unknown as [string, string, string];
    const row = this.db.prepare("SELECT * FROM api_keys WHERE access_key = ?").get(accessKey) as ApiKeyRow | undefined;
    if (!row) return null;
    const expected = Buffer.from(row.secret_hash, "hex");
    const actual = hashSecret(secret);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
    const now = Date.now();
    if (row.revoked_at !== null) return null;
    if (row.expires_at !== null && row.expires_at <= now) return null;
    // Write last-used at most once a minute per key, not on every request.
    if (now - (this.lastTouched.get(row.id) ?? 0) > 60_000) {
      this.lastTouched.set(row.id, now);
      this.db.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(now, row.id);
      row.last_used_at = now;
    }
    return toPublic(row);
  }
}
