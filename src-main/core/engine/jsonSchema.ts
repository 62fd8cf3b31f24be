import type { GbnfJsonSchema } from "node-llama-cpp";
import { InvalidRequestError } from "../errors.js";
import type { JsonSchema } from "../inference/types.js";

const BASIC_TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);

/**
 * Only for node-llama-cpp's own function calling (tools the model may call or
 * not, `tool_choice: auto`), which takes its schema type, not GBNF; structured
 * output and forced calls use our compiler (./grammar). Maps a client's JSON
 * Schema onto the subset node-llama-cpp can turn into a grammar. Keywords the grammar cannot enforce (patterns, numeric ranges, titles)
 * are dropped; constructs it cannot express at all are rejected with a 400.
 */
export function toGrammarSchema(schema: unknown, param: string): GbnfJsonSchema {
  return convert(schema, param, 0) as GbnfJsonSchema;
}

function convert(node: unknown, param: string, depth: number): unknown {
  if (depth > 32) throw new InvalidRequestError("JSON schema is nested too deeply.", param);
  if (node === true || node === undefined) return {};
  if (typeof node !== "object" || node === null || Array.isArray(node)) {
    throw new InvalidRequestError("JSON schema must be an object.", param);
  }
  const s = node as JsonSchema;
  const out: Record<string, unknown> = {};
  if (typeof s.description === "string") out.description = s.description;
  if (s.$defs && typeof s.$defs === "object") {
    out.$defs = Object.fromEntries(Object.entries(s.$defs as JsonSchema).map(([k, v]) => [k, convert(v, param, depth + 1)]));
  }
  if (s.definitions && typeof s.definitions === "object" && !out.$defs) {
    out.$defs = Object.fromEntries(
      Object.entries(s.definitions as JsonSchema).map(([k, v]) => [k, convert(v, param, depth + 1)]),
    );
  }
  if (typeof s.$ref === "string") {
    out.$ref = s.$ref.replace("#/definitions/", "#/$defs/");
    return out;
  }
  if ("const" in s) return { ...out, const: s.const };
  if (Array.isArray(s.enum)) return { ...out, enum: s.enum };
  const alternatives = (s.oneOf ?? s.anyOf) as unknown;
  if (Array.isArray(alternatives)) {
    return { ...out, oneOf: alternatives.map((alt) => convert(alt, param, depth + 1)) };
  }
  const type = s.type;
  if (Array.isArray(type)) {
    if (type.every((t) => typeof t === "string" && BASIC_TYPES.has(t) && t !== "object" && t !== "array")) {
      return { ...out, type };
    }
    return { ...out, oneOf: type.map((t) => convert({ ...s, type: t }, param, depth + 1)) };
  }
  if (type === undefined) {
    if (s.properties) return convert({ ...s, type: "object" }, param, depth);
    if (s.items) return convert({ ...s, type: "array" }, param, depth);
    // Any JSON value.
    return { ...out, type: ["string", "number", "boolean", "null"] };
  }
  if (typeof type !== "string" || !BASIC_TYPES.has(type)) {
    throw new InvalidRequestError(`Unsupported JSON schema type: ${JSON.stringify(type)}.`, param);
  }
  switch (type) {
    case "object": {
      const properties = (s.properties ?? {}) as JsonSchema;
      out.type = "object";
      out.properties = Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, convert(v, param, depth + 1)]));
      if (Array.isArray(s.required)) out.required = s.required.filter((k) => typeof k === "string" && k in properties);
      else out.required = [];
      if (s.additionalProperties === true || typeof s.additionalProperties === "object") {
        out.additionalProperties = s.additionalProperties === true ? true : convert(s.additionalProperties, param, depth + 1);
      }
      return out;
    }
    case "array": {
      out.type = "array";
      if (s.items !== undefined) out.items = convert(s.items, param, depth + 1);
      if (Array.isArray(s.prefixItems)) out.prefixItems = s.prefixItems.map((p) => convert(p, param, depth + 1));
      if (typeof s.minItems === "number") out.minItems = s.minItems;
      if (typeof s.maxItems === "number") out.maxItems = s.maxItems;
      return out;
    }
    case "string": {
      out.type = "string";
      if (s.format === "date-time" || s.format === "date" || s.format === "time") out.format = s.format;
      else {
        if (typeof s.minLength === "number") out.minLength = s.minLength;
        if (typeof s.maxLength === "number") out.maxLength = s.maxLength;
      }
      return out;
    }
    default:
      return { ...out, type };
  }
}
