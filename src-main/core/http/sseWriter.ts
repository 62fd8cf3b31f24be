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
 * Writes SSE text to a response. When the client reads slower than the model
 * writes, pending pieces are joined and sent in one write after `drain`.
 */
export class SseWriter {
  private pending: string[] = [];
  private waitingForDrain = false;

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
    if (this.waitingForDrain) {
      this.pending.push(text);
      return;
    }
    if (!this.res.write(text)) this.waitingForDrain = true;
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
