import type { Command } from "commander";
import { DEFAULT_PORT } from "../config.js";
import { type DownloadInfo, DownloadManager } from "../domain/downloads.js";
import { HuggingFace } from "../domain/huggingface.js";
import { dataDirOption, modelsDirOption, print } from "./common.js";
import { withLibrary } from "./library.js";

/** A progress bar on a terminal, plain lines (at most one a second) otherwise. */
class ProgressPrinter {
  private lastLine = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  update(d: DownloadInfo): void {
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    const pct = d.totalBytes ? Math.floor((d.downloadedBytes / d.totalBytes) * 100) : 0;
    const eta = d.etaSeconds === null ? "" : ` ETA ${d.etaSeconds}s`;
    const text = `${d.fileName} ${mb(d.downloadedBytes)}/${mb(d.totalBytes)} ${pct}% ${mb(d.speed)}/s${eta} ${d.status}`;
    if (this.out.isTTY) {
      const width = 24;
      const filled = Math.round((pct / 100) * width);
      this.out.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${text}\u001b[K`);
    } else if (Date.now() - this.lastLine >= 1000 || d.status !== "downloading") {
      this.lastLine = Date.now();
      this.out.write(`${text}\n`);
    }
  }

  end(): void {
    if (this.out.isTTY) this.out.write("\n");
  }
}

/** `maas-base models list|import|pull|rm|load|unload`. */
export function registerModels(program: Command): void {
  const models = program.command("models").description("the model library");
  models
    .command("list")
    .description("scan the models folder and list the registered models")
    .addOption(dataDirOption())
    .addOption(modelsDirOption())
    .option("--json", "machine-readable output")
    .action((opts) =>
      withLibrary(opts, async ({ options, models: service }) => {
        const scan = await service.scan(options.modelsDir);
        const list = service.list();
        print(Boolean(opts.json), list, () =>
          [
            ...list.map((m) => `${m.id}\t${m.architecture ?? "?"}\t${m.capabilities.join(",")}\t${m.sizeBytes} bytes`),
            ...scan.skipped.map((s) => `(skipped ${s.file}: ${s.reason})`),
          ].join("\n"),
        );
      }),
    );

  models
    .command("import")
    .description("add a local .gguf file to the library (copied into the models folder, or linked with --link)")
    .argument("<path>", "the .gguf file (for a split model, its first part)")
    .option("--link", "link the file where it is instead of copying it")
    .option("--id <id>", "the model id (default: the file name)")
    .addOption(dataDirOption())
    .addOption(modelsDirOption())
    .option("--json", "machine-readable output")
    .action((path: string, opts) =>
      withLibrary(opts, async ({ options, models: service }) => {
        const info = await service.import(path, options.modelsDir, opts.link ? "link" : "copy", opts.id);
        print(
          Boolean(opts.json),
          info,
          () => `imported ${info.id} (${info.architecture ?? "?"}, ${info.capabilities.join(",")})`,
        );
      }),
    );

  models
    .command("pull")
    .description("download a model from Hugging Face: hf:owner/repo/file.gguf or hf:owner/repo:Q4_K_M")
    .argument("<ref>", "the Hugging Face reference")
    .addOption(dataDirOption())
    .addOption(modelsDirOption())
    .option("--json", "print the finished download as JSON")
    .action((ref: string, opts) =>
      withLibrary(opts, async ({ options, db, models: service, logger }) => {
        const manager = new DownloadManager(
          db,
          new HuggingFace(options.hfEndpoint, options.hfToken),
          service,
          options.modelsDir,
          logger,
        );
        const progress = new ProgressPrinter(process.stderr);
        // The manager reports progress before start() resolves, so the id is not
        // known yet: keep events until it is, then follow only this download.
        let startedId: string | null = null;
        const early: DownloadInfo[] = [];
        let settle: (d: DownloadInfo) => void = () => {};
        const finished = new Promise<DownloadInfo>((ok) => {
          settle = ok;
        });
        const follow = (d: DownloadInfo) => {
          if (d.id !== startedId) return;
          progress.update(d);
          if (["done", "failed", "cancelled"].includes(d.status)) settle(d);
        };
        manager.subscribe((d) => {
          if (startedId === null) early.push(d);
          else follow(d);
        });
        const started = await manager.start(ref);
        startedId = started.id;
        for (const d of early.splice(0)) follow(d);
        const stop = () => void manager.cancel(started.id);
        process.once("SIGINT", stop);
        const result = await finished;
        process.off("SIGINT", stop);
        progress.end();
        if (result.status !== "done") {
          process.stderr.write(`download ${result.status}: ${result.error ?? ""}\n`);
          process.exitCode = 1;
          return;
        }
        print(Boolean(opts.json), result, () => `pulled ${result.modelId}`);
      }),
    );

  models
    .command("rm")
    .description("remove a model from the library and delete its file (a linked original is kept)")
    .argument("<id>", "model id")
    .addOption(dataDirOption())
    .addOption(modelsDirOption())
    .action((id: string, opts) =>
      withLibrary(opts, async ({ models: service }) => {
        service.remove(id, () => false);
        process.stdout.write(`removed ${id}\n`);
      }),
    );

  for (const action of ["load", "unload"] as const) {
    models
      .command(action)
      .description(`${action} a model on the running server (admin API)`)
      .argument("<id>", "model id")
      .option("--url <url>", "the server", `http://127.0.0.1:${DEFAULT_PORT}`)
      .option("--key <key>", "a management key (default: $MAAS_KEY)")
      .action(async (id: string, opts) => {
        const key = opts.key ?? process.env.MAAS_KEY;
        if (!key) throw new Error("a management key is needed: --key or MAAS_KEY");
        const res = await fetch(`${opts.url.replace(/\/$/, "")}/api/admin/models/${encodeURIComponent(id)}/${action}`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}` },
        });
        const body = (await res.json()) as { error?: { message: string }; state?: string };
        if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
        process.stdout.write(`${action === "load" ? `loaded ${id} (${body.state})` : `unloaded ${id}`}\n`);
      });
  }
}
