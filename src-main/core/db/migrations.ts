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
];
