/**
 * Which JSON schemas a chat request will be held to by a grammar: the forced tools'
 * parameters, or else the `response_format` schema. Read by the server (a cheap size
 * check before any engine work) and by the engine process (the compile, whose 400s
 * and left-out keywords travel back over IPC).
 */
import type { ChatRequest } from "../../inference/types.js";

export interface HeldSchema {
  schema: unknown;
  strict: boolean;
  /** `response_format`, or the index of a tool in `tools`. */
  where: "response_format" | number;
  /** Put before the paths of its left-out keywords: a tool's name (`get_weather#/properties/x`). */
  prefix: string;
}

/** The error code a schema the grammar cannot enforce travels with; its `param` is `response_format` or `tools[i]`. */
export const SCHEMA_REFUSED = "schema_refused";

export function heldSchemas(request: ChatRequest): HeldSchema[] {
  const tools = request.toolChoice === "none" ? [] : (request.tools ?? []);
  const forced = tools.length > 0 && request.toolChoice !== undefined && request.toolChoice !== "auto";
  if (forced) {
    const choice = request.toolChoice;
    const held: HeldSchema[] = [];
    tools.forEach((tool, i) => {
      if (typeof choice === "object" && choice.name !== tool.name) return;
      if (tool.parameters) held.push({ schema: tool.parameters, strict: tool.strict ?? false, where: i, prefix: tool.name });
    });
    return held;
  }
  if (tools.length === 0 && request.responseFormat?.type === "json_schema") {
    const { schema, strict } = request.responseFormat;
    return [{ schema, strict: strict ?? false, where: "response_format", prefix: "" }];
  }
  return [];
}

/** Counts a value's nodes (objects, arrays, scalars), stopping once past `limit`. */
export function countValues(value: unknown, limit: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count <= limit) {
    const next = stack.pop();
    count++;
    if (Array.isArray(next)) for (const item of next) stack.push(item);
    else if (next !== null && typeof next === "object") for (const item of Object.values(next)) stack.push(item);
  }
  return count;
}
