/** Model routes and their targets: `/api/admin/routes`, `/api/admin/processes`. */
import { z } from "zod";

export const TARGET_KINDS = ["model", "upstream", "process"] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

const WEIGHT = "A target's weight is 1 to 1000.";

/** One target of a route in a create or update body (a public target's fields, plus `upstreamKey`). */
export const RouteTargetCreate = z.object({
  /** On update, the id of the stored target this one is (as GET gave it): its upstream key stays when `upstreamKey` is left out. */
  id: z.number().int().optional(),
  kind: z.enum(TARGET_KINDS, { error: "A target is a local model, an upstream server or a process." }),
  /** kind `model`: a model id in the library. */
  modelId: z.string().nullish(),
  /** kind `upstream`: the upstream's base URL (`http://host:port` or `…/v1`). */
  upstreamUrl: z.string().nullish(),
  /** kind `upstream`/`process`: sent upstream as a bearer token, never shown again. Left out on update: the stored key stays; `null` or `""` removes it. */
  upstreamKey: z.string().nullish(),
  /** The `model` value sent upstream instead of the route name. */
  upstreamModel: z.string().nullish(),
  /** kind `process`: a command line with a `{port}` placeholder that the app runs. */
  command: z.string().nullish(),
  weight: z.number().int().min(1, WEIGHT).max(1000, WEIGHT).optional(),
  /** Used only when the other targets fail. */
  fallback: z.boolean().optional(),
});
export type RouteTargetCreate = z.infer<typeof RouteTargetCreate>;

/** `POST /api/admin/routes`. Unknown fields (a public route's `id`, `auto`, `createdAt`…) are ignored. */
export const RouteCreate = z.object({
  name: z
    .string({ error: "Give the route a name: the name clients put in `model`." })
    .trim()
    .min(1, "Give the route a name: the name clients put in `model`.")
    .max(128, "A route's name is at most 128 characters."),
  genericProxy: z.boolean().optional(),
  enabled: z.boolean().optional(),
  targets: z
    .array(RouteTargetCreate)
    .min(1, "A route needs at least one target: a model, an upstream URL or a command.")
    .max(16, "A route has at most 16 targets."),
});
export type RouteCreate = z.infer<typeof RouteCreate>;

/** `PUT /api/admin/routes/:id`: the whole route (a `RoutePublic` as GET gave it may be sent back). */
export const RouteUpdate = RouteCreate;
export type RouteUpdate = z.infer<typeof RouteUpdate>;

/** A target as the API shows it: the upstream key is never returned, only whether one is set. */
export const RouteTargetPublic = z.object({
  id: z.number().int(),
  kind: z.enum(TARGET_KINDS),
  modelId: z.string().nullable(),
  upstreamUrl: z.string().nullable(),
  upstreamModel: z.string().nullable(),
  command: z.string().nullable(),
  hasUpstreamKey: z.boolean(),
  weight: z.number().int(),
  fallback: z.boolean(),
});
export type RouteTargetPublic = z.infer<typeof RouteTargetPublic>;

export const RoutePublic = z.object({
  id: z.number().int(),
  name: z.string(),
  genericProxy: z.boolean(),
  enabled: z.boolean(),
  /** Made by the app for a local model (named after it). */
  auto: z.boolean(),
  targets: z.array(RouteTargetPublic),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type RoutePublic = z.infer<typeof RoutePublic>;

/** The answer to `DELETE /api/admin/routes/:id`. */
export interface RouteDeleted {
  id: number;
  deleted: true;
}
