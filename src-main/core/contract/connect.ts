/** "Connect an app": `GET/POST /api/admin/connect`. */
import { z } from "zod";

/** The clients `connect` knows how to configure. */
export const CLIENTS = ["claude-code", "codex", "opencode", "continue", "openai-sdk", "anthropic-sdk"] as const;
export type ClientName = (typeof CLIENTS)[number];

/** `POST /api/admin/connect`. */
export const ConnectCreate = z
  .object({
    client: z.enum(CLIENTS),
    model: z.string().min(1).max(256),
    /** Create the aliases and a key now (the key is in the answer, once). Defaults to false: a preview. */
    create: z.boolean().default(false),
  })
  .strict();
export type ConnectCreate = z.input<typeof ConnectCreate>;

/** A model's context as it matters to a client. */
export interface ConnectContext {
  /** The most the model may get. */
  possible: number;
  /** What it has now (null when not loaded). */
  loaded: number | null;
  /** Its own context size setting pins it. */
  pinned: boolean;
  /** The tokens of the client's first request, when known. */
  firstRequest: number | null;
  fits: boolean;
}

/** `GET /api/admin/connect`: the clients and the chat models to pick from. */
export interface ConnectOptionsPublic {
  clients: Array<{ id: ClientName; firstRequestTokens: number | null }>;
  models: Array<{ id: string; context: ConnectContext }>;
}

/** The answer to `POST /api/admin/connect`. */
export interface ConnectPublic {
  client: ClientName;
  model: string;
  url: string;
  context: ConnectContext;
  aliases: Array<{ name: string; exists: boolean; pointsAt: string | null; action: "create" | "update" | "none" }>;
  createsKey: boolean;
  /** The key, once, when `create` made one. */
  key: string | null;
  keyPlaceholder: string | null;
  env: Record<string, string>;
  files: Array<{ path: string; contents: string }>;
  try: string;
  notes: string[];
  changes: string[];
}
