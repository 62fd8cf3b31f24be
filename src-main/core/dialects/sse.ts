/** Server-sent events framing, shared by the dialects. */

/** A `data:` only event (OpenAI style: clients may mis-parse named events). */
export function sseData(payload: unknown): string {
  return `data: ${typeof payload === "string" ? payload : JSON.stringify(payload)}\n\n`;
}

/** A named event (Anthropic and Responses style). */
export function sseEvent(event: string, payload: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies and idle timers from closing the stream. */
export const SSE_KEEPALIVE = ": keep-alive\n\n";
