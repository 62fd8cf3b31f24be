import type { z } from "zod";
import { InvalidRequestError } from "../errors.js";

/** Formats a zod issue path the way OpenAI names params: `messages[0].content`. */
export function paramPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, "");
}

/** Parses `body` with `schema`; the first problem becomes a 400 naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new InvalidRequestError("The request body must be a JSON object.");
  }
  // Only the first issue is reported, so stop at it: zod otherwise builds one issue per bad
  // element (10^5 bad `messages` items cost 1.6 s and tens of MB). `abortEarly` is zod's
  // internal parse-context flag (its own `z.validate` sets it); an older zod ignores it.
  const result = schema.safeParse(body, { abortEarly: true } as z.core.ParseContext<z.core.$ZodIssue>);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue ? paramPath(issue.path) : null;
  let message = issue?.message ?? "Invalid request.";
  if (issue?.code === "invalid_type" && issue.input === undefined) message = `Missing required parameter: '${param}'.`;
  else if (param) message = `Invalid '${param}': ${message}`;
  throw new InvalidRequestError(message, param || null);
}
