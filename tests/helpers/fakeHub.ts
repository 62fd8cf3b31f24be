import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface HubFile {
  /** Path inside the repository. */
  path: string;
  bytes: Buffer;
  /** The sha256 the tree API reports (default: the real one). */
  reportedSha256?: string;
  /** The size the tree API reports (default: the real one). */
  reportedSize?: number;
}

export interface HubBehaviour {
  /** Bytes per second for file bodies (default: unlimited). */
  bytesPerSecond?: number;
  /** Drop the connection after this many body bytes, the first `dropTimes` times a file is served. */
  dropAfterBytes?: number;
  dropTimes?: number;
}

/**
 * A real HTTP server with the Hugging Face URL layout the app uses: the tree API
 * (`/api/models/<repo>/tree/<rev>`), search (`/api/models?search=`), and file
 * downloads (`/<repo>/resolve/<rev>/<path>`) with HEAD and byte ranges, so
 * downloads can be slowed down, cut off and resumed. Point `HF_ENDPOINT` (or the
 * core's `hfEndpoint`) at `url`.
 */
export class FakeHub {
  readonly repos = new Map<string, HubFile[]>();
  /** Repositories answered as gated (401 with `x-error-code: GatedRepo`, as Hugging Face does). */
  readonly gated = new Set<string>();
  /** Bytes per second for one repository's files (overrides `behaviour.bytesPerSecond`). */
  readonly repoRates = new Map<string, number>();
  /** Searches containing this word get their connection dropped (the hub cannot be reached). */
  unreachableWord: string | null = null;
  readonly requests: Array<{ method: string; path: string; range: string | null }> = [];
  behaviour: HubBehaviour = {};
  private served = 0;
  private server: Server | null = null;
  url = "";

  addRepo(repo: string, files: Array<{ path: string; file: string; reportedSha256?: string; reportedSize?: number }>): void {
    this.repos.set(
      repo,
      files.map((f) => ({
        path: f.path,
        bytes: readFileSync(f.file),
        ...(f.reportedSha256 ? { reportedSha256: f.reportedSha256 } : {}),
        ...(f.reportedSize ? { reportedSize: f.reportedSize } : {}),
      })),
    );
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://hub");
      this.requests.push({ method: req.method ?? "GET", path: url.pathname, range: req.headers.range ?? null });
      const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/[^/]+$/.exec(url.pathname);
      if (url.pathname === "/__requests") {
        res.setHeader("content-type", "application/json");
        return void res.end(JSON.stringify(this.requests));
      }
      if (tree && this.gated.has(tree[1] as string)) {
        res.writeHead(401, { "x-error-code": "GatedRepo", "content-type": "application/json" });
        return void res.end('{"error":"Access to this repository is restricted."}');
      }
      if (tree) {
        const files = this.repos.get(tree[1] as string);
        if (!files) return void res.writeHead(404).end('{"error":"Repository not found"}');
        res.setHeader("content-type", "application/json");
        return void res.end(
          JSON.stringify([
            { type: "file", path: "README.md", size: 10 },
            ...files.map((f) => ({
              type: "file",
              path: f.path,
              size: f.reportedSize ?? f.bytes.length,
              lfs: {
                oid: f.reportedSha256 ?? createHash("sha256").update(f.bytes).digest("hex"),
                size: f.reportedSize ?? f.bytes.length,
              },
            })),
          ]),
        );
      }
      if (url.pathname === "/api/models") {
        const q = (url.searchParams.get("search") ?? "").toLowerCase();
        if (this.unreachableWord && q.includes(this.unreachableWord)) return void req.socket.destroy();
        res.setHeader("content-type", "application/json");
        return void res.end(
          JSON.stringify(
            [...this.repos.keys()]
              .filter((r) => r.toLowerCase().includes(q))
              .map((id) => ({ id, downloads: 7, likes: 1, tags: ["gguf"] })),
          ),
        );
      }
      const file = /^\/([^/]+\/[^/]+)\/resolve\/[^/]+\/(.+)$/.exec(url.pathname);
      const entry = file
        ? this.repos.get(file[1] as string)?.find((f) => f.path === decodeURIComponent(file[2] as string))
        : undefined;
      if (!entry) return void res.writeHead(404).end("not found");
      const total = entry.bytes.length;
      let start = 0;
      let end = total - 1;
      const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
      if (range) {
        start = range[1] ? Number(range[1]) : 0;
        end = range[2] ? Math.min(Number(range[2]), total - 1) : total - 1;
      }
      const headers = {
        "accept-ranges": "bytes",
        "content-type": "application/octet-stream",
        "content-length": String(end - start + 1),
        etag: `"${createHash("sha256").update(entry.bytes).digest("hex").slice(0, 16)}"`,
        ...(range ? { "content-range": `bytes ${start}-${end}/${total}` } : {}),
      };
      res.writeHead(range ? 206 : 200, headers);
      if (req.method === "HEAD") return void res.end();
      const body = entry.bytes.subarray(start, end + 1);
      const drop = this.behaviour.dropAfterBytes !== undefined && this.served < (this.behaviour.dropTimes ?? 1);
      if (drop) this.served++;
      const rate = this.repoRates.get(file?.[1] as string) ?? this.behaviour.bytesPerSecond;
      void this.send(res, body, drop ? (this.behaviour.dropAfterBytes ?? 0) : null, rate);
    });
    await new Promise<void>((ok) => this.server?.listen(0, "127.0.0.1", ok));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  private async send(
    res: import("node:http").ServerResponse,
    body: Buffer,
    dropAfter: number | null,
    rate: number | undefined,
  ): Promise<void> {
    const chunk = rate ? Math.max(1024, Math.floor(rate / 20)) : body.length;
    for (let offset = 0; offset < body.length; offset += chunk) {
      if (res.destroyed) return;
      if (dropAfter !== null && offset >= dropAfter) {
        res.socket?.destroy();
        return;
      }
      const piece = body.subarray(offset, Math.min(body.length, offset + chunk, dropAfter ?? body.length));
      res.write(piece);
      if (dropAfter !== null && offset + piece.length >= dropAfter) {
        res.socket?.destroy();
        return;
      }
      if (rate) await new Promise((r) => setTimeout(r, (piece.length / rate) * 1000));
    }
    res.end();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}
