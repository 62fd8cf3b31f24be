import { ApiError, InvalidRequestError, NotFoundError } from "../errors.js";

/** Where Hugging Face is: the configured base URL, else `HF_ENDPOINT`, else huggingface.co. */
export function hfEndpoint(configured?: string | null): string {
  return (configured || process.env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
}

export interface HfRepo {
  id: string;
  downloads: number;
  likes: number;
  lastModified: string | null;
  tags: string[];
}

export interface HfFile {
  /** Path in the repository (the first part, for a split model). */
  path: string;
  size: number;
  /** SHA-256 from the LFS pointer (single-file models). */
  sha256: string | null;
  quantization: string | null;
  /** All files of a split model, in order. */
  parts: string[];
}

const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;
const QUANT = /(?:^|[-_.])((?:IQ\d_[A-Z0-9_]+?|Q\d_K(?:_[SML])?|Q\d_\d|Q\d_K_XL|BF16|F16|F32|TQ\d_\d|MXFP4))(?=[-_.]|$)/i;

export function quantizationOf(fileName: string): string | null {
  const base =
    fileName
      .split("/")
      .pop()
      ?.replace(SPLIT, "$1")
      .replace(/\.gguf$/i, "") ?? "";
  return QUANT.exec(base)?.[1]?.toUpperCase() ?? null;
}

/** A parsed `hf:` reference: a file, or a quantization to pick from the repository. */
export type HfRef = { repo: string; file: string; revision: string } | { repo: string; quant: string; revision: string };

/**
 * node-llama-cpp's URI forms: `hf:owner/repo/path/file.gguf[#branch]`,
 * `hf:owner/repo:Q4_K_M[#branch]`, and the same with `huggingface.co/` URLs.
 */
export function parseHfRef(ref: string): HfRef {
  let rest = ref.trim();
  for (const prefix of ["hf:", "huggingface:", "https://huggingface.co/", "huggingface.co/", "hf.co/"]) {
    if (rest.toLowerCase().startsWith(prefix)) {
      rest = rest.slice(prefix.length);
      break;
    }
  }
  const [withQuery = "", revision = "main"] = rest.split("#");
  // A link copied from the website may carry `?download=true`; its page link says `blob` where the file link says `resolve`.
  const path = withQuery.split("?")[0] ?? "";
  const resolveUrl = /^([^/]+\/[^/]+)\/(?:resolve|blob)\/([^/]+)\/(.+\.gguf)$/i.exec(path);
  if (resolveUrl) return { repo: resolveUrl[1] as string, revision: resolveUrl[2] as string, file: resolveUrl[3] as string };
  const parts = path.split("/");
  if (parts.length >= 3 && path.toLowerCase().endsWith(".gguf")) {
    return { repo: parts.slice(0, 2).join("/"), file: parts.slice(2).join("/"), revision };
  }
  const quant = /^([^/:]+\/[^/:]+):([\w.-]+)$/.exec(path);
  if (quant) return { repo: quant[1] as string, quant: quant[2] as string, revision };
  if (/^[^/:]+\/[^/:]+$/.test(path)) return { repo: path, quant: "Q4_K_M", revision };
  throw new InvalidRequestError(
    `'${ref}' is not a Hugging Face model reference; use hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M.`,
    "ref",
  );
}

/** The Hugging Face HTTP API, as far as a GGUF library needs it. */
export class HuggingFace {
  readonly endpoint: string;

  constructor(
    endpoint?: string | null,
    private readonly token: string | null = process.env.HF_TOKEN ?? null,
  ) {
    this.endpoint = hfEndpoint(endpoint);
  }

  get headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** The hub's host, as messages name it ("huggingface.co", or a mirror's). */
  get host(): string {
    try {
      return new URL(this.endpoint).host;
    } catch {
      return this.endpoint;
    }
  }

  /**
   * A GET of the hub's JSON API. Failures say what happened in words a person can act
   * on: the hub cannot be reached (502) or took too long (504), a repository that does
   * not exist (404), one that is gated or private (403: Hugging Face answers 401), the
   * hub's own trouble (502 with its status).
   */
  private async json<T>(path: string, repo?: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.endpoint}${path}`, { headers: this.headers, signal: AbortSignal.timeout(20_000) });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      if (timedOut) {
        throw new ApiError(504, "server", `${this.host} did not answer within 20 seconds; try again later.`, {
          code: "hf_timeout",
        });
      }
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
      throw new ApiError(
        502,
        "server",
        `Could not reach ${this.host}: ${why}. Check this machine's internet connection (or the Hugging Face endpoint in Settings).`,
        { code: "hf_unreachable" },
      );
    }
    const what = repo ? `the repository ${repo}` : path;
    // Hugging Face answers 401 for a repository that does not exist too (so as not to tell
    // private ones apart); its `x-error-code` says which it is.
    const code = res.headers.get("x-error-code");
    if (res.status === 404 || code === "RepoNotFound" || code === "EntryNotFound" || code === "RevisionNotFound") {
      throw new NotFoundError(
        `Hugging Face has no ${repo ? `repository ${repo}` : `such page (${path})`}: check the name (owner/name).`,
        "repo",
        "hf_not_found",
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw new ApiError(
        403,
        "permission",
        `${what} on Hugging Face is gated or private (it answered ${res.status}): accept its terms on huggingface.co and start the server with HF_TOKEN set to a token of yours.`,
        { code: "hf_gated", param: "repo" },
      );
    }
    if (!res.ok) {
      throw new ApiError(502, "server", `Hugging Face answered ${res.status} for ${what}; try again later.`, {
        code: "hf_error",
      });
    }
    return (await res.json()) as T;
  }

  /** GGUF repositories matching `query`, most downloaded first. */
  async search(query: string, limit = 20): Promise<HfRepo[]> {
    const params = new URLSearchParams({
      search: query,
      filter: "gguf",
      sort: "downloads",
      direction: "-1",
      limit: String(limit),
    });
    const repos = await this.json<Array<Record<string, unknown>>>(`/api/models?${params}`);
    return repos.map((r) => ({
      id: String(r.id ?? r.modelId),
      downloads: Number(r.downloads ?? 0),
      likes: Number(r.likes ?? 0),
      lastModified: (r.lastModified as string | undefined) ?? null,
      tags: (r.tags as string[] | undefined) ?? [],
    }));
  }

  /** The GGUF files of a repository, split models grouped under their first part. */
  async files(repo: string, revision = "main"): Promise<HfFile[]> {
    if (!/^[\w.-]+\/[\w.-]+$/.test(repo))
      throw new InvalidRequestError(`'${repo}' is not a repository name (owner/name).`, "repo");
    const tree = await this.json<Array<{ type: string; path: string; size: number; lfs?: { oid?: string; size?: number } }>>(
      `/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`,
      repo,
    );
    const ggufs = tree.filter((e) => e.type === "file" && e.path.toLowerCase().endsWith(".gguf"));
    const out: HfFile[] = [];
    const splits = new Map<string, HfFile>();
    for (const entry of ggufs.sort((a, b) => a.path.localeCompare(b.path))) {
      const size = entry.lfs?.size ?? entry.size;
      const split = SPLIT.exec(entry.path);
      if (split) {
        const key = split[1] as string;
        let group = splits.get(key);
        if (!group) {
          group = { path: entry.path, size: 0, sha256: null, quantization: quantizationOf(entry.path), parts: [] };
          splits.set(key, group);
          out.push(group);
        }
        group.size += size;
        group.parts.push(entry.path);
        continue;
      }
      out.push({
        path: entry.path,
        size,
        sha256: entry.lfs?.oid ?? null,
        quantization: quantizationOf(entry.path),
        parts: [entry.path],
      });
    }
    return out;
  }

  /** The repository file a reference names (picking by quantization when it names one). */
  async resolve(ref: HfRef): Promise<HfFile> {
    const files = await this.files(ref.repo, ref.revision);
    if ("file" in ref) {
      const file = files.find((f) => f.path === ref.file || f.parts.includes(ref.file));
      if (!file) throw new NotFoundError(`'${ref.file}' is not a GGUF file in ${ref.repo}.`, "ref", "hf_not_found");
      return file;
    }
    const wanted = ref.quant.toUpperCase();
    const file = files.find((f) => f.quantization === wanted) ?? files.find((f) => f.path.toUpperCase().includes(wanted));
    if (!file) {
      const have = [...new Set(files.map((f) => f.quantization).filter(Boolean))].join(", ") || "none";
      throw new NotFoundError(`${ref.repo} has no ${wanted} GGUF file; it has: ${have}.`, "ref", "hf_not_found");
    }
    return file;
  }

  fileUrl(repo: string, path: string, revision = "main"): string {
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path.split("/").map(encodeURIComponent).join("/")}`;
  }
}
