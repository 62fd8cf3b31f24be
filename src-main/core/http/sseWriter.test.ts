import { createServer, get, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { SseWriter } from "./sseWriter.js";

/** Serves one response through `handle`, counting the writes that reach the socket; resolves with the body. */
async function serveOnce(handle: (writer: SseWriter, res: ServerResponse) => Promise<void>) {
  let writes = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const write = res.write.bind(res) as (chunk: string) => boolean;
    res.write = ((chunk: string) => {
      writes++;
      return write(chunk);
    }) as typeof res.write;
    void handle(new SseWriter(res), res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const body = await new Promise<string>((resolve, reject) => {
    get(`http://127.0.0.1:${port}/`, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += String(d);
      });
      res.on("end", () => resolve(text));
    }).on("error", reject);
  });
  server.close();
  return { body, writes };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("SseWriter", () => {
  it("joins events that are ready in the same turn into one write, in order", async () => {
    const { body, writes } = await serveOnce(async (writer) => {
      for (let i = 0; i < 8; i++) writer.write(`data: ${i}\n\n`);
      await turn();
      await turn();
      writer.write("data: last\n\n");
      await turn();
      await turn();
      writer.end();
    });
    expect(body).toBe(`${Array.from({ length: 8 }, (_, i) => `data: ${i}\n\n`).join("")}data: last\n\n`);
    expect(writes).toBe(2);
  });

  it("sends what is pending with the end of the stream", async () => {
    const { body } = await serveOnce(async (writer) => {
      writer.write("data: a\n\n");
      writer.write("data: b\n\n");
      writer.end();
    });
    expect(body).toBe("data: a\n\ndata: b\n\n");
  });
});
