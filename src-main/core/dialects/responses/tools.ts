import { z } from "zod";
import { InvalidRequestError } from "../../errors.js";
import type { ToolDefinition } from "../../inference/types.js";
import { paramPath } from "../validation.js";

const FunctionTool = z
  .object({
    type: z.literal("function"),
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "Tool names may hold letters, digits, _ and - (64 at most)."),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  })
  .loose();

/**
 * A namespace groups functions under one name (Codex sends its MCP servers and
 * sub-agent tools this way): `{type:"namespace", name, description, tools:[functions]}`.
 * The model calls a member as `{type:"function_call", namespace, name, …}`.
 */
const NamespaceTool = z
  .object({
    type: z.literal("namespace"),
    name: z.string().min(1),
    description: z.string().nullish(),
    tools: z.array(z.object({ type: z.string() }).loose()),
  })
  .loose();

/** Where a tool name the model sees comes from: a plain function, or a namespace member. */
export interface ToolOrigin {
  name: string;
  namespace?: string;
}

export interface ResponsesTools {
  /** What the engine offers the model: plain functions and flattened namespace members. */
  definitions: ToolDefinition[];
  /** Model-visible name → the name (and namespace) the client expects back. */
  origins: Map<string, ToolOrigin>;
  /** Tools the local engine cannot run (hosted tools such as `web_search`), as `type` or `namespace.type`. */
  dropped: string[];
}

/**
 * The single name a namespace member has for the model. Deterministic, so a call in
 * the resent history (which carries `namespace` and `name`) maps to the same name.
 * Codex's MCP namespaces end in `__` already (`mcp__server__`).
 */
export function flatToolName(namespace: string, name: string): string {
  return namespace.endsWith("_") ? `${namespace}${name}` : `${namespace}__${name}`;
}

function parseFunction(tool: unknown, param: string): z.infer<typeof FunctionTool> {
  const parsed = FunctionTool.safeParse(tool);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InvalidRequestError(
    `Invalid '${param}': ${issue?.message ?? "bad function tool"}`,
    `${param}${issue?.path.length ? `.${paramPath(issue.path)}` : ""}`,
  );
}

function definition(fn: z.infer<typeof FunctionTool>, name: string, prefix?: string | null): ToolDefinition {
  const description = [prefix, fn.description].filter(Boolean).join("\n\n");
  return {
    name,
    ...(description ? { description } : {}),
    ...(fn.parameters ? { parameters: fn.parameters } : {}),
    ...(fn.strict ? { strict: true } : {}),
  };
}

/**
 * Responses `tools` → engine tools. Functions pass through, namespaces are flattened
 * into their functions (the namespace's description opens each member's), and every
 * other type — hosted tools that run at OpenAI (`web_search`, `file_search`,
 * `code_interpreter`, `image_generation`, `computer_use`, `mcp`, `tool_search`…) or
 * freeform `custom` tools — is dropped and reported, as the Anthropic dialect drops
 * server tools: a local model cannot call them, and refusing would end the client's turn.
 */
export function toEngineTools(tools: ReadonlyArray<{ type: string }>): ResponsesTools {
  const definitions: ToolDefinition[] = [];
  const origins = new Map<string, ToolOrigin>();
  const dropped: string[] = [];
  const add = (fn: z.infer<typeof FunctionTool>, origin: ToolOrigin, flat: string, prefix?: string | null) => {
    let name = flat;
    for (let n = 2; origins.has(name); n++) name = `${flat}_${n}`;
    origins.set(name, origin);
    definitions.push(definition(fn, name, prefix));
  };
  tools.forEach((tool, i) => {
    if (tool.type === "function") {
      const fn = parseFunction(tool, `tools[${i}]`);
      add(fn, { name: fn.name }, fn.name);
      return;
    }
    if (tool.type === "namespace") {
      const parsed = NamespaceTool.safeParse(tool);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidRequestError(
          `Invalid 'tools[${i}]': ${issue?.message ?? "bad namespace tool"}`,
          `tools[${i}]${issue?.path.length ? `.${paramPath(issue.path)}` : ""}`,
        );
      }
      const space = parsed.data;
      space.tools.forEach((member, j) => {
        if (member.type !== "function") {
          dropped.push(`${space.name}.${member.type}`);
          return;
        }
        const fn = parseFunction(member, `tools[${i}].tools[${j}]`);
        add(fn, { name: fn.name, namespace: space.name }, flatToolName(space.name, fn.name), space.description);
      });
      return;
    }
    dropped.push(tool.type);
  });
  return { definitions, origins, dropped: [...new Set(dropped)] };
}
