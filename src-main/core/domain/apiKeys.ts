import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { KEY_SCOPES, type KeyPublic, type KeyScope } from "../contract/keys.js";
import { type Db, isBusy, prep } from "../db/database.js";
import { InvalidRequestError } from "../errors.js";
import { globMatches } from "./routes.js";

export { KEY_SCOPES, type KeyScope } from "../contract/keys.js";

/** What may be shown about a key after creation: never the secret or its hash (the contract's `KeyPublic`). */
export type ApiKeyPublic = KeyPublic;

export interface CreateKeyInput {
  name: string;
  scopes: KeyScope[];
  allowedRoutes?: string[] | null;
  rpmLimit?: number | null;
  tokensPerDay?: number | null;
  expiresAt?: number | null;
  /** A key of the user's own choosing instead of a generated one (checked for strength). */
  custom?: string;
}

interface ApiKeyRow {
  id: number;
  name: string;
  access_key: string;
  secret_hash: string;
  hint: string;
  scopes: string;
  allowed_routes: string | null;
  rpm_limit: number | null;
  tpd_limit: number | null;
  custom: number;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
}

const KEY_PATTERN = /^mb_([0-9a-f]{16})_([0-9a-f]{32})$/;
/** Session credentials (`createSession`): in memory only. */
const SESSION_PATTERN = /^mbs_[0-9a-f]{64}$/;

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/**
 * Generated keys hold 128 random bits of secret, so a fast hash is enough and no
 * salt is needed. Custom keys must pass `checkCustomKey`, and are looked up by a
 * hash of the whole key.
 */
const customLookup = (key: string) => `c${sha256(`lookup:${key}`).toString("hex").slice(0, 31)}`;

/** Why a user-chosen key is too weak, or `null` when it is acceptable. */
export function customKeyProblem(key: string): string | null {
  if (key.length < 24) return "a custom key needs at least 24 characters";
  if (key.length > 256) return "a custom key may have at most 256 characters";
  if (!/^[\x21-\x7e]+$/.test(key)) return "a custom key may hold printable ASCII without spaces only";
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(key)).length;
  if (classes < 3) return "a custom key needs three of: lower case, upper case, digits, symbols";
  if (new Set(key).size < 12) return "a custom key needs at least 12 different characters";
  if (KEY_PATTERN.test(key) || SESSION_PATTERN.test(key)) return "a custom key must not look like a generated one";
  return null;
}

function toPublic(row: ApiKeyRow): ApiKeyPublic {
  const scopes = JSON.parse(row.scopes) as KeyScope[];
  return {
    id: row.id,
    name: row.name,
    scopes,
    scope: scopes.join(","),
    maskedValue: row.hint,
    allowedRoutes: row.allowed_routes === null ? null : (JSON.parse(row.allowed_routes) as string[]),
    rpmLimit: row.rpm_limit,
    tokensPerDay: row.tpd_limit,
    custom: row.custom === 1,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** The id session credentials report: no row has it, so nothing is stored or listed under it. */
export const SESSION_KEY_ID = 0;

/** A credential that lives in this process only (the desktop window's). */
export interface SessionCredential {
  /** `mbs_<64 hex>`: shown to the holder, never stored anywhere. */
  readonly key: string;
  /** Ends it at once; idempotent. */
  revoke(): void;
}

/** API keys: `mb_<accessKey>_<secret>`; only a hash of the secret is stored. */
export class ApiKeyService {
  private readonly lastTouched = new Map<number, number>();
  private readonly recent = new Map<string, { at: number; key: ApiKeyPublic | null }>();
  /** SQLite's `data_version` when `recent` was last valid: it changes when another connection commits. */
  private dataVersion = -1;
  /** Session credentials by a digest of the key (the key itself is not kept). */
  private readonly sessions = new Map<string, ApiKeyPublic>();

  constructor(private readonly db: Db) {}

  /**
   * A credential for one desktop session: in memory only, never in the database, never
   * in `list()` or `count()`, gone on `revoke()` or when the process ends. Requests made
   * with it are the user's own, like keyless loopback ones (no key id on usage rows).
   */
  createSession(name: string, scopes: KeyScope[]): SessionCredential {
    const key = `mbs_${randomBytes(32).toString("hex")}`;
    const digest = sha256(`session:${key}`).toString("base64");
    this.sessions.set(digest, {
      id: SESSION_KEY_ID,
      name,
      scopes: [...scopes],
      scope: scopes.join(","),
      maskedValue: "mbs_********",
      allowedRoutes: null,
      rpmLimit: null,
      tokensPerDay: null,
      custom: false,
      createdAt: Date.now(),
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
    });
    return {
      key,
      revoke: () => {
        this.sessions.delete(digest);
      },
    };
  }

  create(input: CreateKeyInput): { key: string; record: ApiKeyPublic } {
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0 || scopes.some((s) => !KEY_SCOPES.includes(s))) {
      throw new InvalidRequestError(`scopes must be one or both of: ${KEY_SCOPES.join(", ")}.`, "scopes");
    }
    if (!input.name.trim()) throw new InvalidRequestError("A key needs a name.", "name");
    let key: string;
    let accessKey: string;
    let secretHash: string;
    let hint: string;
    if (input.custom !== undefined) {
      const problem = customKeyProblem(input.custom);
      if (problem) throw new InvalidRequestError(`The custom key is too weak: ${problem}.`, "key");
      key = input.custom;
      accessKey = customLookup(key);
      secretHash = sha256(key).toString("hex");
      hint = `${key.slice(0, 4)}…${"*".repeat(8)}`;
      if (prep(this.db, "SELECT 1 FROM api_keys WHERE access_key = ?").get(accessKey)) {
        throw new InvalidRequestError("That custom key is already in use.", "key");
      }
    } else {
      accessKey = randomBytes(8).toString("hex");
      const secret = randomBytes(16).toString("hex");
      key = `mb_${accessKey}_${secret}`;
      secretHash = sha256(secret).toString("hex");
      hint = `mb_${accessKey}_${"*".repeat(8)}`;
    }
    const info = prep(
      this.db,
      `INSERT INTO api_keys (name, access_key, secret_hash, hint, scopes, allowed_routes, rpm_limit, tpd_limit, custom,
           created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      input.name.trim(),
      accessKey,
      secretHash,
      hint,
      JSON.stringify(scopes),
      input.allowedRoutes ? JSON.stringify(input.allowedRoutes) : null,
      input.rpmLimit ?? null,
      input.tokensPerDay ?? null,
      input.custom !== undefined ? 1 : 0,
      Date.now(),
      input.expiresAt ?? null,
    );
    const row = prep(this.db, "SELECT * FROM api_keys WHERE id = ?").get(info.lastInsertRowid) as ApiKeyRow;
    return { key, record: toPublic(row) };
  }

  list(): ApiKeyPublic[] {
    return (prep(this.db, "SELECT * FROM api_keys ORDER BY id").all() as ApiKeyRow[]).map(toPublic);
  }

  get(id: number): ApiKeyPublic | undefined {
    const row = prep(this.db, "SELECT * FROM api_keys WHERE id = ?").get(id) as ApiKeyRow | undefined;
    return row ? toPublic(row) : undefined;
  }

  revoke(id: number): boolean {
    this.recent.clear();
    return (
      prep(this.db, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(Date.now(), id).changes > 0
    );
  }

  /** Live keys, optionally only those with `scope`. */
  count(scope?: KeyScope): number {
    const live = prep(this.db, "SELECT scopes FROM api_keys WHERE revoked_at IS NULL").all() as Array<{ scopes: string }>;
    return scope ? live.filter((r) => (JSON.parse(r.scopes) as string[]).includes(scope)).length : live.length;
  }

  /**
   * Returns the key's record when `presented` is a valid, live key; `null` otherwise.
   * Answers are kept for half a second (a busy proxy checks the same key thousands of
   * times a second), and forgotten as soon as another process (the CLI's `keys revoke`)
   * commits to the database: SQLite's `data_version` tells, without reading a table.
   */
  verify(presented: string): ApiKeyPublic | null {
    // Session credentials never reach the database: known here, or not at all.
    if (SESSION_PATTERN.test(presented)) return this.sessions.get(sha256(`session:${presented}`).toString("base64")) ?? null;
    const now = Date.now();
    // Remembered by a digest, so no presented key (valid or not) stays in memory as text.
    const digest = sha256(`cache:${presented}`).toString("base64");
    const version = prep(this.db, "PRAGMA data_version").pluck().get() as number;
    if (version !== this.dataVersion) {
      this.recent.clear();
      this.dataVersion = version;
    }
    const hit = this.recent.get(digest);
    if (hit && now - hit.at < 500 && (hit.key?.expiresAt ?? Number.POSITIVE_INFINITY) > now) return hit.key;
    const key = this.verifyNow(presented);
    if (this.recent.size > 1024) this.recent.clear();
    this.recent.set(digest, { at: now, key });
    return key;
  }

  private verifyNow(presented: string): ApiKeyPublic | null {
    const match = KEY_PATTERN.exec(presented);
    const accessKey = match ? (match[1] as string) : customLookup(presented);
    const row = prep(this.db, "SELECT * FROM api_keys WHERE access_key = ?").get(accessKey) as ApiKeyRow | undefined;
    if (!row) return null;
    const expected = Buffer.from(row.secret_hash, "hex");
    const actual = sha256(match ? (match[2] as string) : presented);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
    const now = Date.now();
    if (row.revoked_at !== null) return null;
    if (row.expires_at !== null && row.expires_at <= now) return null;
    // Write last-used at most once a minute per key, not on every request.
    if (now - (this.lastTouched.get(row.id) ?? 0) > 60_000) {
      this.lastTouched.set(row.id, now);
      try {
        prep(this.db, "UPDATE api_keys SET last_used_at = ? WHERE id = ?").run(now, row.id);
        row.last_used_at = now;
      } catch (error) {
        if (!isBusy(error)) throw error; // another process holds the write lock: skip this touch
      }
    }
    return toPublic(row);
  }
}

/**
 * Whether a key's allowed routes let it name `route` (as `model`): each entry is a route
 * name or a glob such as `claude-*`, matched as glob aliases are (`globMatches`).
 * `null` allows every route.
 */
export function routeAllowed(allowed: readonly string[] | null | undefined, route: string): boolean {
  return !allowed || allowed.some((pattern) => pattern === route || (pattern.includes("*") && globMatches(pattern, route)));
}
