/** Numbered schema migrations; `PRAGMA user_version` records the last one applied. */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: "initial",
    sql: `
      CREATE TABLE models (
        id            TEXT PRIMARY KEY,
        path          TEXT NOT NULL UNIQUE,
        size_bytes    INTEGER NOT NULL,
        architecture  TEXT,
        context_length INTEGER,
        capabilities  TEXT NOT NULL DEFAULT '[]',
        source        TEXT NOT NULL DEFAULT 'local',
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      );

      CREATE TABLE api_keys (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL,
        access_key    TEXT NOT NULL UNIQUE,
        secret_hash   TEXT NOT NULL,
        scope         TEXT NOT NULL CHECK (scope IN ('inference', 'management')),
        created_at    INTEGER NOT NULL,
        last_used_at  INTEGER,
        expires_at    INTEGER,
        revoked_at    INTEGER
      );

      CREATE TABLE usage_records (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id        TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        api_key_id        INTEGER REFERENCES api_keys(id) ON DELETE SET NULL,
        model             TEXT,
        operation         TEXT NOT NULL,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        ttft_ms           INTEGER,
        duration_ms       INTEGER NOT NULL,
        status            INTEGER NOT NULL
      );
      CREATE INDEX usage_records_created_at ON usage_records(created_at);
      CREATE INDEX usage_records_key ON usage_records(api_key_id, created_at);
    `,
  },
  {
    version: 2,
    name: "responses",
    sql: `
      CREATE TABLE responses (
        id                   TEXT PRIMARY KEY,
        created_at           INTEGER NOT NULL,
        api_key_id           INTEGER REFERENCES api_keys(id) ON DELETE SET NULL,
        model                TEXT NOT NULL,
        previous_response_id TEXT,
        response_json        TEXT NOT NULL,
        input_items_json     TEXT NOT NULL,
        conversation_json    TEXT NOT NULL
      );
      CREATE INDEX responses_created_at ON responses(created_at);
    `,
  },
  {
    version: 3,
    name: "keys with scopes, routes and limits; usage routes and daily rollups",
    // api_keys is rebuilt (SQLite cannot change a CHECK); migrate() turns foreign keys off
    // around migrations so usage rows keep their key ids.
    sql: `
      CREATE TABLE api_keys_v3 (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        name           TEXT NOT NULL,
        access_key     TEXT NOT NULL UNIQUE,
        secret_hash    TEXT NOT NULL,
        hint           TEXT NOT NULL,
        scopes         TEXT NOT NULL,
        allowed_routes TEXT,
        rpm_limit      INTEGER,
        tpd_limit      INTEGER,
        custom         INTEGER NOT NULL DEFAULT 0,
        created_at     INTEGER NOT NULL,
        last_used_at   INTEGER,
        expires_at     INTEGER,
        revoked_at     INTEGER
      );
      INSERT INTO api_keys_v3 (id, name, access_key, secret_hash, hint, scopes, created_at, last_used_at, expires_at, revoked_at)
        SELECT id, name, access_key, secret_hash, 'mb_' || access_key || '_…', json_array(scope), created_at, last_used_at,
               expires_at, revoked_at FROM api_keys;
      DROP TABLE api_keys;
      ALTER TABLE api_keys_v3 RENAME TO api_keys;

      ALTER TABLE usage_records ADD COLUMN route TEXT;
      CREATE INDEX usage_records_model ON usage_records(model, created_at);

      CREATE TABLE usage_daily (
        day               TEXT NOT NULL,
        model             TEXT NOT NULL,
        api_key_id        INTEGER NOT NULL,
        operation         TEXT NOT NULL,
        requests          INTEGER NOT NULL DEFAULT 0,
        errors            INTEGER NOT NULL DEFAULT 0,
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        duration_ms       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, model, api_key_id, operation)
      );
      INSERT INTO usage_daily (day, model, api_key_id, operation, requests, errors, prompt_tokens, completion_tokens, duration_ms)
        SELECT strftime('%Y-%m-%d', created_at / 1000, 'unixepoch'), COALESCE(model, ''), COALESCE(api_key_id, 0), operation,
               COUNT(*), SUM(status >= 400), SUM(prompt_tokens), SUM(completion_tokens), SUM(duration_ms)
        FROM usage_records GROUP BY 1, 2, 3, 4;
    `,
  },
  {
    version: 4,
    name: "model library details, per-model settings, downloads",
    sql: `
      ALTER TABLE models ADD COLUMN sha256 TEXT;
      ALTER TABLE models ADD COLUMN quantization TEXT;
      ALTER TABLE models ADD COLUMN parameter_count INTEGER;
      ALTER TABLE models ADD COLUMN has_chat_template INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE models ADD COLUMN parts INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE models ADD COLUMN hf_repo TEXT;
      ALTER TABLE models ADD COLUMN hf_file TEXT;
      ALTER TABLE models ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

      CREATE TABLE downloads (
        id               TEXT PRIMARY KEY,
        uri              TEXT NOT NULL,
        hf_repo          TEXT,
        hf_file          TEXT,
        file_name        TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('queued', 'downloading', 'verifying', 'done', 'failed', 'cancelled')),
        total_bytes      INTEGER NOT NULL DEFAULT 0,
        downloaded_bytes INTEGER NOT NULL DEFAULT 0,
        expected_sha256  TEXT,
        model_id         TEXT,
        error            TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: "routes, their targets, proxy bytes in usage",
    sql: `
      CREATE TABLE routes (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL UNIQUE,
        generic_proxy INTEGER NOT NULL DEFAULT 0,
        enabled       INTEGER NOT NULL DEFAULT 1,
        auto          INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      );
      CREATE TABLE route_targets (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        route_id       INTEGER NOT NULL REFERENCES routes(id) ON DELETE CASCADE,
        kind           TEXT NOT NULL CHECK (kind IN ('model', 'upstream', 'process')),
        model_id       TEXT,
        upstream_url   TEXT,
        upstream_key   TEXT,
        upstream_model TEXT,
        command        TEXT,
        weight         INTEGER NOT NULL DEFAULT 1,
        fallback       INTEGER NOT NULL DEFAULT 0,
        position       INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX route_targets_route ON route_targets(route_id, position);
      ALTER TABLE usage_records ADD COLUMN bytes_in INTEGER;
      ALTER TABLE usage_records ADD COLUMN bytes_out INTEGER;
    `,
  },
  {
    version: 6,
    name: "playground conversations and saved settings",
    sql: `
      CREATE TABLE conversations (
        id         TEXT PRIMARY KEY,
        title      TEXT NOT NULL,
        model      TEXT,
        data       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX conversations_updated ON conversations(updated_at);
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: "model files that cannot be read",
    sql: `
      CREATE TABLE unreadable_files (
        path        TEXT PRIMARY KEY,
        size_bytes  INTEGER NOT NULL,
        mtime_ms    INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: "prompt tokens read from a sequence's cache",
    sql: `
      ALTER TABLE usage_records ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 9,
    name: "paused downloads; the error text of a failed request",
    sql: `
      CREATE TABLE downloads_new (
        id               TEXT PRIMARY KEY,
        uri              TEXT NOT NULL,
        hf_repo          TEXT,
        hf_file          TEXT,
        file_name        TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('queued', 'downloading', 'paused', 'verifying', 'done', 'failed', 'cancelled')),
        total_bytes      INTEGER NOT NULL DEFAULT 0,
        downloaded_bytes INTEGER NOT NULL DEFAULT 0,
        expected_sha256  TEXT,
        model_id         TEXT,
        error            TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
      );
      INSERT INTO downloads_new SELECT id, uri, hf_repo, hf_file, file_name, status, total_bytes, downloaded_bytes,
        expected_sha256, model_id, error, created_at, updated_at FROM downloads;
      DROP TABLE downloads;
      ALTER TABLE downloads_new RENAME TO downloads;
      ALTER TABLE usage_records ADD COLUMN error TEXT;
    `,
  },
];
