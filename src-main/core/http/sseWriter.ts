import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * Takes the response over from Fastify and starts an event stream on it, keeping the
 * headers hooks already set (CORS, request id), which a hijacked reply would lose.
 */
export function openSse(request: FastifyRequest, reply: FastifyReply): SseWriter {
  reply.hijack();
  reply.raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-request-id": request.id,
  });
  return new SseWriter(reply.raw);
}

/**
 * Writes SSE text to a response. Events that become ready in the same turn of the
 * event loop (the engine hands tokens over in batches) are joined and sent in one
 * write — one syscall and one TCP segment for several tokens, instead of one each —
 * at the end of that turn (`setImmediate`: after the events, before the next I/O).
 * When the client reads slower than the model writes, pending pieces wait for `drain`.
 */
export class SseWriter {
  private pending: string[] = [];
  private waitingForDrain = false;
  private flushScheduled = false;
  private readonly flushNow = () => {
    this.flushScheduled = false;
    if (!this.waitingForDrain) this.flush();
  };

  constructor(private readonly res: ServerResponse) {
    res.on("drain", () => {
      this.waitingForDrain = false;
      this.flush();
    });
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  write(text: string): void {
    if (this.closed) return;
    this.pending.push(text);
    if (this.waitingForDrain || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushNow);
  }

  private flush(): void {
    if (this.pending.length === 0 || this.closed) return;
    const text = this.pending.join("");
    this.pending = [];
    if (!this.res.write(text)) this.waitingForDrain = true;
  }

  end(): void {
    if (this.closed) return;
    if (this.pending.length > 0) {
      this.res.end(this.pending.join(""));
      this.pending = [];
    } else this.res.end();
  }
}
