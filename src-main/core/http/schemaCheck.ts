import type { FastifyReply } from "fastify";
import { compileSchema, ignoredHeader, SchemaCompileError, type SchemaIssue } from "../engine/grammar/index.js";
import { InvalidRequestError } from "../errors.js";
import type { ChatRequest } from "../inference/types.js";

/** Where each dialect keeps the schemas, for the `param` of a 400. */
export interface SchemaParams {
  responseFormat: string;
  tool: (index: number) => string;
}

/**
 * Compiles the schemas a chat request will be held to, in the server process and
 * before any engine work (the compiler is pure; the engine compiles again from the
 * cache): a schema the grammar cannot enforce under `strict` is a 400 here, and
 * keywords left out without `strict` are listed in `x-maas-schema-ignored`.
 */
export function checkChatSchemas(request: ChatRequest, reply: FastifyReply, params: SchemaParams): void {
  const tools = request.toolChoice === "none" ? [] : (request.tools ?? []);
  const forced = tools.length > 0 && request.toolChoice !== undefined && request.toolChoice !== "auto";
  const ignored: SchemaIssue[] = [];
  const check = (schema: unknown, strict: boolean, param: string, where = "") => {
    try {
      ignored.push(...compileSchema(schema, { strict }).ignored.map((i) => ({ ...i, path: where + i.path })));
    } catch (error) {
      if (error instanceof SchemaCompileError) throw new InvalidRequestError(error.message, param);
      throw error;
    }
  };
  if (forced) {
    const choice = request.toolChoice;
    tools.forEach((tool, i) => {
      if (typeof choice === "object" && choice.name !== tool.name) return;
      // A tool's issues are prefixed with its name: `get_weather#/properties/x/uniqueItems`.
      if (tool.parameters) check(tool.parameters, tool.strict ?? false, params.tool(i), tool.name);
    });
  } else if (tools.length === 0 && request.responseFormat?.type === "json_schema") {
    check(request.responseFormat.schema, request.responseFormat.strict ?? false, params.responseFormat);
  }
  const header = ignoredHeader(ignored);
  if (header) reply.header("x-maas-schema-ignored", header);
}
