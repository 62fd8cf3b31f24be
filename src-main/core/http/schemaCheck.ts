import type { FastifyReply } from "fastify";
import { countValues, heldSchemas, SCHEMA_REFUSED } from "../engine/process/requestSchemas.js";
import { ApiError, InvalidRequestError } from "../errors.js";
import type { ChatRequest, GenerationStream } from "../inference/types.js";

/** Where each dialect keeps the schemas, for the `param` of a 400. */
export interface SchemaParams {
  responseFormat: string;
  tool: (index: number) => string;
}

/**
 * Most values (objects, arrays, scalars, enum members) in one schema a request is held to.
 * A 30 000-value enum compiles in under a second in the engine; 10^5 took 17 s.
 */
export const MAX_SCHEMA_VALUES = 50_000;

/**
 * Starts a chat whose JSON schemas a grammar will enforce. The server process only
 * checks their size (a walk that stops at the limit); the compile happens in the
 * engine process (off its event loop when large), which answers a schema it cannot
 * enforce under `strict` with a 400 before any generation: here that 400 gets the
 * dialect's param, and the keywords left out without `strict` are listed in
 * `x-maas-schema-ignored`.
 */
export async function checkChatSchemas(
  request: ChatRequest,
  reply: FastifyReply,
  params: SchemaParams,
  start: () => Promise<GenerationStream>,
): Promise<GenerationStream> {
  const paramOf = (where: "response_format" | number) =>
    where === "response_format" ? params.responseFormat : params.tool(where);
  for (const held of heldSchemas(request)) {
    if (countValues(held.schema, MAX_SCHEMA_VALUES) > MAX_SCHEMA_VALUES) {
      throw new InvalidRequestError(
        `The JSON schema in ${paramOf(held.where)} holds more than ${MAX_SCHEMA_VALUES} values (objects, arrays, enum members and other values); at most ${MAX_SCHEMA_VALUES} are allowed.`,
        paramOf(held.where),
        "schema_too_large",
      );
    }
  }
  let stream: GenerationStream;
  try {
    stream = await start();
  } catch (error) {
    if (error instanceof ApiError && error.code === SCHEMA_REFUSED) {
      const index = /^tools\[(\d+)\]$/.exec(error.param ?? "")?.[1];
      throw new InvalidRequestError(error.message, paramOf(index === undefined ? "response_format" : Number(index)));
    }
    throw error;
  }
  const header = ignoredHeader(stream.schemaIgnored ?? []);
  if (header) reply.header("x-maas-schema-ignored", header);
  return stream;
}

/** The `x-maas-schema-ignored` header value: the left-out keywords' locations, comma separated. */
function ignoredHeader(issues: readonly { path: string }[]): string | undefined {
  if (issues.length === 0) return undefined;
  // Header values must be printable ASCII: property names may not be.
  return [...new Set(issues.map((i) => i.path))].join(", ").replace(/[^\x20-\x7e]/gu, (c) => encodeURIComponent(c));
}
