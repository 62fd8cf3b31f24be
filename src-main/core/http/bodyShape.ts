/**
 * Bounds on the shape of a JSON request body, checked on its text before it is
 * parsed (so before any zod, schema or engine work). The byte limit alone does not
 * bound the work a body causes: 2 MB of `[0,0,0,…]` is 10^6 values, and as a
 * `messages` array it made the server allocate ~580 MB and block its event loop for
 * 9 s validating them. One pass over the characters, the same pass that measures
 * nesting depth, counts the items of the longest array and all values.
 */
import { ApiError, InvalidRequestError } from "../errors.js";

export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects. */
  maxDepth: number;
  /** Most items in any one array (a `messages`, `tools`, `input` or `enum` array). */
  maxArrayItems: number;
  /** Most values (array items and object members, at any depth) in the whole body. */
  maxValues: number;
}

export interface JsonShape {
  depth: number;
  /** Items of the longest array. */
  longestArray: number;
  /** Array items plus object members, at every depth. */
  values: number;
}

/**
 * The nesting depth, longest array and value count of JSON text (strings skipped),
 * without parsing it. Stops counting once a limit is passed: the answer is then
 * "more than the limit", which is all a caller needs.
 */
export function jsonShape(text: string, stopAt?: JsonShapeLimits): JsonShape {
  const maxDepth = stopAt?.maxDepth ?? Number.POSITIVE_INFINITY;
  const maxItems = stopAt?.maxArrayItems ?? Number.POSITIVE_INFINITY;
  const maxValues = stopAt?.maxValues ?? Number.POSITIVE_INFINITY;
  // Per open container: 1 for an array, 0 for an object; its items so far (commas + 1 once non-empty).
  const isArray: number[] = [];
  const items: number[] = [];
  let depth = 0;
  let max = 0;
  let longest = 0;
  let values = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Whitespace is not an item.
    if (c === 32 || c === 10 || c === 13 || c === 9) continue;
    if (c === 93 || c === 125) {
      depth--;
      continue;
    }
    if (c === 44) {
      // A comma starts the next item of the innermost container.
      if (depth > 0) {
        const n = (items[depth - 1] ?? 0) + 1;
        items[depth - 1] = n;
        values++;
        if (isArray[depth - 1] && n > longest) longest = n;
        if (longest > maxItems || values > maxValues) break;
      }
      continue;
    }
    // Any other character starts (or continues) a value: the first one makes the container non-empty.
    if (depth > 0 && items[depth - 1] === 0) {
      items[depth - 1] = 1;
      values++;
      if (isArray[depth - 1] && longest < 1) longest = 1;
    }
    if (c === 34) i = stringEnd(text, i);
    else if (c === 91 || c === 123) {
      isArray[depth] = c === 91 ? 1 : 0;
      items[depth] = 0;
      depth++;
      if (depth > max) {
        max = depth;
        if (max > maxDepth) break;
      }
    }
  }
  return { depth: max, longestArray: longest, values };
}

/**
 * The index of the quote that closes the string opened at `open` (the text's length if
 * none): a native search for the next quote, skipping quotes escaped by an odd run of
 * backslashes. A prompt of megabytes is one string, so this is where the time goes.
 */
function stringEnd(text: string, open: number): number {
  let quote = open;
  for (;;) {
    quote = text.indexOf('"', quote + 1);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
}

/** Throws the error naming the limit a body's text passes, if it passes one. */
export function checkJsonShape(text: string, limits: JsonShapeLimits): void {
  const shape = jsonShape(text, limits);
  if (shape.depth > limits.maxDepth) {
    throw new InvalidRequestError(
      `The JSON body nests ${shape.depth} levels deep; at most ${limits.maxDepth} are allowed.`,
      null,
      "json_too_deep",
    );
  }
  if (shape.longestArray > limits.maxArrayItems) {
    throw new JsonTooLargeError(
      `The JSON body holds an array of more than ${limits.maxArrayItems} items; at most ${limits.maxArrayItems} are allowed (the server's maxJsonItems setting).`,
    );
  }
  if (shape.values > limits.maxValues) {
    throw new JsonTooLargeError(
      `The JSON body holds more than ${limits.maxValues} values; at most ${limits.maxValues} are allowed (10 × the server's maxJsonItems setting).`,
    );
  }
}

/** A body within the byte limit whose structure is too large to be worth parsing: 413, like the byte limit. */
export class JsonTooLargeError extends ApiError {
  constructor(message: string) {
    super(413, "request_too_large", message, { code: "json_too_large" });
  }
}

/** The limits for a `maxJsonItems` setting. */
export function jsonShapeLimits(maxJsonItems: number): JsonShapeLimits {
  return { maxDepth: 64, maxArrayItems: maxJsonItems, maxValues: maxJsonItems * 10 };
}

/** What `readJsonBody` needs of Fastify: its errors for a body that is too large or cut short. */
export interface BodyErrors {
  tooLarge: () => Error;
  badLength: () => Error;
  empty: () => Error;
}

function badJson(message: string): Error {
  const error = new SyntaxError(message) as SyntaxError & { statusCode: number };
  error.statusCode = 400;
  return error;
}

/**
 * Refuses what Fastify's prototype-poisoning guard refuses (a `__proto__` key, or a
 * `constructor` key holding a `prototype`), by walking the parsed value: its size is
 * bounded by the shape check, where the guard's regular expressions scanned every byte
 * of the text again (11 ms of a 10 MB prompt's 80 ms in one event-loop turn).
 */
export function assertNoPrototypeKeys(value: unknown): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") continue;
    if (Array.isArray(node)) {
      for (const item of node) if (item !== null && typeof item === "object") stack.push(item);
      continue;
    }
    if (Object.hasOwn(node, "__proto__")) throw badJson("Object contains forbidden prototype property");
    const ctor = (node as { constructor?: unknown }).constructor;
    if (Object.hasOwn(node, "constructor") && ctor !== null && typeof ctor === "object" && Object.hasOwn(ctor, "prototype")) {
      throw badJson("Object contains forbidden prototype property");
    }
    for (const key in node) {
      const child = (node as Record<string, unknown>)[key];
      if (child !== null && typeof child === "object") stack.push(child);
    }
  }
}

/**
 * Reads a JSON body from its stream and parses it: the byte limit and content length
 * as Fastify checks them, each chunk decoded as it arrives (a 10 MB body's decoding no
 * longer lands in one event-loop turn with its parse), then the shape bounds on the
 * text, `JSON.parse`, and the prototype-key check.
 */
export function readJsonBody(
  payload: NodeJS.ReadableStream & { receivedEncodedLength?: number },
  options: { limit: number; contentLength: number; shape: JsonShapeLimits; errors: BodyErrors },
  done: (error: Error | null, body?: unknown) => void,
): void {
  const { limit, contentLength, errors } = options;
  if (contentLength > limit) {
    done(errors.tooLarge());
    return;
  }
  const decoder = new TextDecoder("utf-8");
  const parts: string[] = [];
  let received = 0;
  const finish = (error: Error | null, body?: unknown) => {
    payload.removeListener("data", onData);
    payload.removeListener("end", onEnd);
    payload.removeListener("error", onEnd);
    done(error, body);
  };
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    received += bytes.length;
    if (received > limit || (payload.receivedEncodedLength ?? 0) > limit) {
      finish(errors.tooLarge());
      return;
    }
    parts.push(decoder.decode(bytes, { stream: true }));
  };
  const onEnd = (error?: Error & { statusCode?: number }) => {
    if (error) {
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) error.statusCode = 400;
      finish(error);
      return;
    }
    if (!Number.isNaN(contentLength) && (payload.receivedEncodedLength || received) !== contentLength) {
      finish(errors.badLength());
      return;
    }
    parts.push(decoder.decode());
    const text = parts.length === 1 ? (parts[0] as string) : parts.join("");
    parts.length = 0;
    if (text.length === 0) {
      finish(errors.empty());
      return;
    }
    let body: unknown;
    try {
      checkJsonShape(text, options.shape);
      try {
        body = JSON.parse(text);
      } catch (parseError) {
        throw badJson((parseError as Error).message);
      }
      assertNoPrototypeKeys(body);
    } catch (checkError) {
      finish(checkError as Error);
      return;
    }
    finish(null, body);
  };
  payload.on("data", onData);
  payload.on("end", onEnd);
  payload.on("error", onEnd);
  payload.resume();
}
