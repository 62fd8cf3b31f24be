/**
 * The admin contract: every `/api/admin/*` (and `/api/auth/*`) request and answer, one
 * module per resource, camelCase both ways. Request schemas are zod (`XCreate`,
 * `XUpdate`, `XListQuery`); answers are `XPublic` and never carry a secret. A GET's
 * `XPublic` may be edited and sent back as the `XUpdate` body.
 *
 * Pure: these files import zod, each other and the plain types of `inference/` only,
 * so the renderer may import them (types anywhere; values such as the settings table
 * where a form checks what the server will) — `scripts/check-imports.mjs` holds them to it.
 */
export * from "./auth.js";
export * from "./connect.js";
export * from "./conversations.js";
export * from "./downloads.js";
export * from "./engine.js";
export * from "./keys.js";
export * from "./models.js";
export * from "./routes.js";
export * from "./settings.js";
export * from "./usage.js";
