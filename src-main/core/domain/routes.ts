import type { RoutePublic, RouteTargetPublic, TargetKind } from "../contract/routes.js";
import { type Db, prep } from "../db/database.js";
import { isSealed, type SecretBox } from "../db/secretBox.js";
import { InvalidRequestError, NotFoundError } from "../errors.js";
import type { ModelInfo } from "../inference/types.js";
import { isMetadataHostName, isMetadataOrLinkLocal } from "./upstreamAddress.js";

export type { TargetKind } from "../contract/routes.js";

export interface RouteTargetInput {
  /** On update: the stored target this one is (its upstream key stays when `upstreamKey` is left out). */
  id?: number;
  kind: TargetKind;
  /** kind `model`: a model id in the library. */
  modelId?: string | null;
  /** kind `upstream`: the upstream's base URL (`http://host:port` or `…/v1`). */
  upstreamUrl?: string | null;
  /** kind `upstream`/`process`: the key sent upstream as a bearer token; never shown again. */
  upstreamKey?: string | null;
  /** The `model` value sent upstream instead of the route name (optional). */
  upstreamModel?: string | null;
  /** kind `process`: a command line with a `{port}` placeholder that the app runs. */
  command?: string | null;
  weight?: number;
  /** Used only when the other targets fail. */
  fallback?: boolean;
}

/** A target as the API shows it: the upstream key is never returned, only whether one is set. */
export type RouteTarget = RouteTargetPublic;
export type Route = RoutePublic;

export interface RouteInput {
  name: string;
  genericProxy?: boolean;
  enabled?: boolean;
  targets: RouteTargetInput[];
}

interface RouteRow {
  id: number;
  name: string;
  generic_proxy: number;
  enabled: number;
  auto: number;
  created_at: number;
  updated_at: number;
}

interface TargetRow {
  id: number;
  route_id: number;
  kind: TargetKind;
  model_id: string | null;
  upstream_url: string | null;
  upstream_key: string | null;
  upstream_model: string | null;
  command: string | null;
  weight: number;
  fallback: number;
}

// `*` makes a glob alias (`claude-*`): it answers every name it matches that has no route or model of its own.
const NAME = /^[\w.:@/*-]{1,128}$/;
const CACHE_MS = 500;

function validateTarget(t: RouteTargetInput, i: number, models: (id: string) => ModelInfo | undefined): void {
  const param = `targets[${i}]`;
  if (t.kind === "model") {
    if (!t.modelId) throw new InvalidRequestError("A model target needs a model id.", `${param}.modelId`);
    if (!models(t.modelId)) throw new InvalidRequestError(`There is no model '${t.modelId}' in the library.`, `${param}.modelId`);
  } else if (t.kind === "upstream") {
    let url: URL;
    try {
      url = new URL(t.upstreamUrl ?? "");
    } catch {
      throw new InvalidRequestError("An upstream target needs an http(s) base URL.", `${param}.upstreamUrl`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new InvalidRequestError("An upstream URL must be http or https.", `${param}.upstreamUrl`);
    }
    if (url.search || url.hash || url.username) {
      throw new InvalidRequestError(
        "An upstream URL is a base URL without query, fragment or credentials.",
        `${param}.upstreamUrl`,
      );
    }
  } else if (t.kind === "process") {
    if (!t.command?.includes("{port}")) {
      throw new InvalidRequestError("A process target's command must contain {port}.", `${param}.command`);
    }
  } else throw new InvalidRequestError(`Unknown target kind '${String(t.kind)}'.`, `${param}.kind`);
  if (t.weight !== undefined && (!Number.isInteger(t.weight) || t.weight < 1 || t.weight > 1000)) {
    throw new InvalidRequestError("A target's weight is an integer from 1 to 1000.", `${param}.weight`);
  }
}

/** What an upstream URL may point at (set by the core once it knows its own address). */
export interface UpstreamPolicy {
  /** Link-local and cloud-metadata addresses are refused unless this is on. */
  allowPrivate: boolean;
  /** Whether a URL points at this server itself (a route to itself loops). */
  isSelf: (url: URL) => boolean;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]", "0.0.0.0", "[::]", "[::ffff:7f00:1]"]);

/**
 * A predicate for URLs that reach this server: any loopback name, the bound host, or
 * `localhost.` style spellings, on the port it listens on.
 */
export function pointsAtServer(boundHost: string, port: number): (url: URL) => boolean {
  return (url) => {
    const urlPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    if (urlPort !== port) return false;
    const host = url.hostname.toLowerCase().replace(/\.$/, "");
    if (LOOPBACK_HOSTS.has(host) || host.startsWith("127.") || host.endsWith(".localhost")) return true;
    const bound = boundHost.toLowerCase();
    return host === bound || host === `[${bound}]`;
  };
}

/** Refuses upstream URLs that would send the route's key to a metadata service, or loop back here. */
function checkUpstreamAddress(url: URL, policy: UpstreamPolicy, param: string): void {
  if (!policy.allowPrivate && (isMetadataOrLinkLocal(url.hostname) || isMetadataHostName(url.hostname))) {
    throw new InvalidRequestError(
      `The upstream ${url.hostname} is a link-local or cloud-metadata address; allow private upstreams in the settings to use it.`,
      param,
      "upstream_not_allowed",
    );
  }
  if (policy.isSelf(url)) {
    throw new InvalidRequestError("The upstream is this server itself; such a route would loop.", param, "upstream_is_self");
  }
}

/**
 * Model routes: a public name (what clients put in `model`) with a stable numeric id,
 * pointing at local models, upstream servers or managed processes. Every local model
 * has a route of its own name unless the user made one with that name.
 */
export class RouteService {
  private readonly listeners = new Set<() => void>();
  private upstreamPolicy: UpstreamPolicy = { allowPrivate: false, isSelf: () => false };

  /** Sets what upstream URLs may point at; the core calls it at start, once it knows its address. */
  setUpstreamPolicy(policy: UpstreamPolicy): void {
    this.upstreamPolicy = policy;
  }

  constructor(
    private readonly db: Db,
    private readonly models: (id: string) => ModelInfo | undefined,
    /** Upstream keys are stored sealed by this box, never in plain text. */
    private readonly secrets: SecretBox,
  ) {}

  /** Seals upstream keys stored in plain text by earlier versions (run once at start). */
  sealPlaintextKeys(): number {
    const rows = prep(
      this.db,
      "SELECT id, upstream_key FROM route_targets WHERE upstream_key IS NOT NULL AND upstream_key != ''",
    ).all() as Array<{
      id: number;
      upstream_key: string;
    }>;
    const plain = rows.filter((r) => !isSealed(r.upstream_key));
    if (plain.length === 0) return 0;
    const update = prep(this.db, "UPDATE route_targets SET upstream_key = ? WHERE id = ?");
    // The plain text must not linger in freed page space or the WAL: zeroed, then checkpointed.
    const before = this.db.pragma("secure_delete", { simple: true });
    this.db.pragma("secure_delete = ON");
    try {
      this.db.transaction(() => {
        for (const row of plain) update.run(this.secrets.seal(row.upstream_key), row.id);
      })();
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      this.db.pragma(`secure_delete = ${Number(before)}`);
    }
    this.cache.clear();
    return plain.length;
  }

  /** A stored key as sent upstream: opened when sealed, as-is when from before sealing. */
  private openKey(stored: string | null): string | null {
    if (stored === null || stored === "") return stored;
    return isSealed(stored) ? this.secrets.open(stored) : stored;
  }

  /** Called after any change (the process supervisor listens). */
  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  private changed(): void {
    this.cache.clear();
    for (const listener of this.listeners) listener();
  }

  /**
   * Lookups on the request path are cached briefly: this process's own changes clear
   * the cache at once, changes by another process (the CLI) show within `CACHE_MS`.
   */
  private readonly cache = new Map<string, { at: number; value: unknown }>();

  private cached<T>(key: string, load: () => T): T {
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && now - hit.at < CACHE_MS) return hit.value as T;
    const value = load();
    if (this.cache.size > 4096) this.cache.clear();
    this.cache.set(key, { at: now, value });
    return value;
  }

  private targetsOf(routeId: number, withSecrets: true): TargetRow[];
  private targetsOf(routeId: number, withSecrets?: false): RouteTarget[];
  private targetsOf(routeId: number, withSecrets = false): TargetRow[] | RouteTarget[] {
    const rows = prep(this.db, "SELECT * FROM route_targets WHERE route_id = ? ORDER BY position, id").all(
      routeId,
    ) as TargetRow[];
    if (withSecrets) return rows.map((t) => ({ ...t, upstream_key: this.openKey(t.upstream_key) }));
    return rows.map((t) => ({
      id: t.id,
      kind: t.kind,
      modelId: t.model_id,
      upstreamUrl: t.upstream_url,
      upstreamModel: t.upstream_model,
      command: t.command,
      hasUpstreamKey: t.upstream_key !== null && t.upstream_key !== "",
      weight: t.weight,
      fallback: t.fallback === 1,
    }));
  }

  private toRoute(row: RouteRow): Route {
    return {
      id: row.id,
      name: row.name,
      genericProxy: row.generic_proxy === 1,
      enabled: row.enabled === 1,
      auto: row.auto === 1,
      targets: this.targetsOf(row.id),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  list(): Route[] {
    return (prep(this.db, "SELECT * FROM routes ORDER BY id").all() as RouteRow[]).map((r) => this.toRoute(r));
  }

  get(id: number): Route | undefined {
    return this.cached(`id:${id}`, () => {
      const row = prep(this.db, "SELECT * FROM routes WHERE id = ?").get(id) as RouteRow | undefined;
      return row ? this.toRoute(row) : undefined;
    });
  }

  byName(name: string): Route | undefined {
    return this.cached(`name:${name}`, () => {
      const row = prep(this.db, "SELECT * FROM routes WHERE name = ?").get(name) as RouteRow | undefined;
      return row ? this.toRoute(row) : undefined;
    });
  }

  /** Targets with their secrets, for the code that forwards requests. */
  secretTargets(routeId: number): TargetRow[] {
    return this.cached(`secrets:${routeId}`, () => this.targetsOf(routeId, true));
  }

  private writeTargets(routeId: number, targets: RouteTargetInput[]): void {
    prep(this.db, "DELETE FROM route_targets WHERE route_id = ?").run(routeId);
    const insert = prep(
      this.db,
      `INSERT INTO route_targets (route_id, kind, model_id, upstream_url, upstream_key, upstream_model, command, weight, fallback,
         position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    targets.forEach((t, i) => {
      insert.run(
        routeId,
        t.kind,
        t.kind === "model" ? (t.modelId ?? null) : null,
        t.kind === "upstream" ? (t.upstreamUrl?.replace(/\/+$/, "") ?? null) : null,
        t.kind === "model" || !t.upstreamKey ? null : this.secrets.seal(t.upstreamKey),
        t.upstreamModel ?? null,
        t.kind === "process" ? (t.command ?? null) : null,
        t.weight ?? 1,
        t.fallback ? 1 : 0,
        i,
      );
    });
  }

  private validate(input: RouteInput): void {
    if (!NAME.test(input.name)) {
      throw new InvalidRequestError("A route name has 1–128 letters, digits and . _ : @ / - (and * for a glob alias).", "name");
    }
    if (input.targets.length === 0) throw new InvalidRequestError("A route needs at least one target.", "targets");
    for (const [i, t] of input.targets.entries()) {
      validateTarget(t, i, this.models);
      if (t.kind === "upstream")
        checkUpstreamAddress(new URL(t.upstreamUrl ?? ""), this.upstreamPolicy, `targets[${i}].upstreamUrl`);
    }
    if (input.targets.every((t) => t.fallback)) {
      throw new InvalidRequestError("A route needs a target that is not only a fallback.", "targets");
    }
  }

  create(input: RouteInput): Route {
    this.validate(input);
    const existing = this.byName(input.name);
    if (existing && !existing.auto)
      throw new InvalidRequestError(`A route named '${input.name}' exists.`, "name", "route_exists");
    const now = Date.now();
    const id = this.db.transaction(() => {
      // A user route with a model's name replaces the model's automatic route.
      if (existing) prep(this.db, "DELETE FROM routes WHERE id = ?").run(existing.id);
      const info = prep(
        this.db,
        "INSERT INTO routes (name, generic_proxy, enabled, auto, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
      ).run(input.name, input.genericProxy ? 1 : 0, input.enabled === false ? 0 : 1, now, now);
      this.writeTargets(Number(info.lastInsertRowid), input.targets);
      return Number(info.lastInsertRowid);
    })();
    this.changed();
    return this.get(id) as Route;
  }

  /**
   * Replaces a route's fields; targets given without an upstream key keep the key
   * of the target at the same position (keys are never sent back to be re-sent).
   */
  update(id: number, input: RouteInput): Route {
    const current = this.get(id);
    if (!current) throw new NotFoundError(`No route with id ${id}.`, "id", "route_not_found");
    this.validate(input);
    const other = this.byName(input.name);
    if (other && other.id !== id) throw new InvalidRequestError(`A route named '${input.name}' exists.`, "name", "route_exists");
    const secrets = this.secretTargets(id);
    // A target left without `upstreamKey` keeps its stored one: the target it names by `id`, else the one at its place.
    const targets = input.targets.map((t, i) => ({
      ...t,
      upstreamKey:
        t.upstreamKey === undefined
          ? ((t.id !== undefined ? secrets.find((s) => s.id === t.id) : secrets[i])?.upstream_key ?? null)
          : t.upstreamKey,
    }));
    this.db.transaction(() => {
      prep(this.db, "UPDATE routes SET name = ?, generic_proxy = ?, enabled = ?, auto = 0, updated_at = ? WHERE id = ?").run(
        input.name,
        input.genericProxy ? 1 : 0,
        input.enabled === false ? 0 : 1,
        Date.now(),
        id,
      );
      this.writeTargets(id, targets);
    })();
    this.changed();
    return this.get(id) as Route;
  }

  remove(id: number): boolean {
    const removed = prep(this.db, "DELETE FROM routes WHERE id = ?").run(id).changes > 0;
    if (removed) this.changed();
    return removed;
  }

  /**
   * The glob alias (a route whose name holds `*`) that answers `name`: the most specific
   * one (most characters besides `*`), the oldest on a tie. Exact routes and model ids
   * come first; the caller asks this only when neither exists.
   */
  byGlob(name: string): Route | undefined {
    const match = this.cached(`glob:${name}`, () => {
      const globs = prep(this.db, "SELECT * FROM routes WHERE instr(name, '*') > 0 ORDER BY id").all() as RouteRow[];
      const row = bestGlob(globs, name);
      return row ? this.toRoute(row) : null;
    });
    return match ?? undefined;
  }

  /** Gives every local model its own route and drops automatic routes whose model is gone. */
  syncModels(models: readonly ModelInfo[]): void {
    const now = Date.now();
    const ids = new Set(models.map((m) => m.id));
    this.db.transaction(() => {
      for (const model of models) {
        if (prep(this.db, "SELECT 1 FROM routes WHERE name = ?").get(model.id)) continue;
        const info = prep(
          this.db,
          "INSERT INTO routes (name, generic_proxy, enabled, auto, created_at, updated_at) VALUES (?, 0, 1, 1, ?, ?)",
        ).run(model.id, now, now);
        this.writeTargets(Number(info.lastInsertRowid), [{ kind: "model", modelId: model.id }]);
      }
      for (const route of prep(this.db, "SELECT * FROM routes WHERE auto = 1").all() as RouteRow[]) {
        if (!ids.has(route.name)) prep(this.db, "DELETE FROM routes WHERE id = ?").run(route.id);
      }
    })();
    this.cache.clear();
  }
}

/** Whether `name` matches a glob route name: `*` stands for any run of characters, the rest is literal. */
export function globMatches(pattern: string, name: string): boolean {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`).test(name);
}

function bestGlob<T extends { name: string }>(globs: readonly T[], name: string): T | undefined {
  let best: T | undefined;
  const literal = (g: T) => g.name.replaceAll("*", "").length;
  for (const glob of globs) {
    if (globMatches(glob.name, name) && (!best || literal(glob) > literal(best))) best = glob;
  }
  return best;
}
