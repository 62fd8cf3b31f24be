import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import pino from "pino";
import { connectCommand } from "./cli/connect.js";
import { openLibrary } from "./cli/library.js";
import { type CoreOptions, DEFAULT_PORT, databasePath, defaultDataDir, isLoopbackHost, resolveOptions } from "./config.js";
import { openDatabase } from "./db/database.js";
import { FileSecretBox, secretKeyPath } from "./db/secretBox.js";
import { ApiKeyService, KEY_SCOPES, type KeyScope } from "./domain/apiKeys.js";
import { type DownloadInfo, DownloadManager } from "./domain/downloads.js";
import { HuggingFace } from "./domain/huggingface.js";
import { ModelService } from "./domain/models.js";
import { RouteService } from "./domain/routes.js";
import { REQUEST_CSV_COLUMNS, SUMMARY_CSV_COLUMNS, toCsv, UsageService, utcDay } from "./domain/usage.js";
import { describeEngine } from "./engine/engineInfo.js";
import { registerEngineCommand } from "./engineCommand.js";
import { writeFixtureModels } from "./fixtures/tinyModels.js";
import { flagValue, SETTING_KEYS, SETTINGS, type SettingKey } from "./settings.js";

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
    return n;
  };
}

const dataDirOption = () =>
  new Option("--data-dir <dir>", "app data folder (database, default models folder)").default(defaultDataDir());
const modelsDirOption = () => new Option("--models-dir <dir>", "folder scanned for *.gguf models (default <data-dir>/models)");

function openStore(dataDir: string) {
  return openDatabase(databasePath(resolve(dataDir)));
}

interface LibraryContext {
  options: ReturnType<typeof resolveOptions>;
  db: ReturnType<typeof openStore>;
  models: ModelService;
  logger: import("pino").Logger;
}

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

function scopeList(value: string): KeyScope[] {
  const scopes = value.split(",").map((s) => s.trim());
  for (const scope of scopes) {
    if (!KEY_SCOPES.includes(scope as KeyScope))
      throw new InvalidArgumentError(`unknown scope '${scope}' (inference, management)`);
  }
  return scopes as KeyScope[];
}

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/**
 * The background engine build costs minutes of CPU: on by default for a user's
 * `serve`, off under CI and test runners unless MAAS_ENGINE_BUILD=on asks for it.
 */
export function engineAutoBuildWanted(flag: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!flag || env.MAAS_ENGINE_BUILD === "off") return false;
  if (env.MAAS_ENGINE_BUILD === "on") return true;
  return !env.CI && !env.VITEST && env.NODE_ENV !== "test";
}

export function buildCli(): Command {
  const program = new Command("maas-base")
    .description("MaaS-Base: serve local GGUF models through OpenAI, Anthropic and Jina compatible APIs")
    .showHelpAfterError();

  const serve = program
    .command("serve")
    .description("start the headless server (flags win over the settings saved in the app)")
    .addOption(dataDirOption());
  // One flag per setting that has one (settings.ts declares name, type, default and text).
  for (const key of SETTING_KEYS) {
    const flag = (SETTINGS[key] as { flag?: { flags: string; kind: string } }).flag;
    if (!flag) continue;
    const fallback = SETTINGS[key].default;
    const shown = fallback === undefined || flag.kind === "switch" || (Array.isArray(fallback) && fallback.length === 0);
    const option = new Option(
      flag.flags,
      shown ? SETTINGS[key].description : `${SETTINGS[key].description} (default: ${JSON.stringify(fallback)})`,
    );
    if (flag.kind !== "switch") {
      option.argParser((raw: string, previous: unknown) => {
        try {
          return flagValue(key, flag.kind === "list" ? [...((previous as string[] | undefined) ?? []), raw] : raw);
        } catch (error) {
          throw new InvalidArgumentError((error as Error).message.replace(`${key}: `, ""));
        }
      });
    }
    serve.addOption(option);
  }
  serve.option("--allow-private-upstreams", "let routes point at link-local / cloud-metadata addresses");
  serve.option(
    "--no-engine-build",
    "do not build a tuned engine in the background on first start (also MAAS_ENGINE_BUILD=off; off under CI and tests)",
  );
  serve.action(async (opts, command: Command) => {
    // Only what was typed goes to createCore: it applies the saved settings and defaults under it.
    const launch: Partial<Record<SettingKey, unknown>> = {};
    for (const option of command.options) {
      const key = SETTING_KEYS.find((k) => (SETTINGS[k] as { flag?: { flags: string } }).flag?.flags === option.flags);
      const name = option.attributeName();
      if (!key || command.getOptionValueSource(name) !== "cli") continue;
      launch[key] = option.isBoolean() ? flagValue(key, true) : opts[name];
    }
    if (typeof launch.modelsDir === "string") launch.modelsDir = resolve(launch.modelsDir);
    // Imported here, so the other commands do not load the server, the engine and their dependencies.
    const { createCore } = await import("./index.js");
    const core = createCore({
      ...launch,
      dataDir: resolve(opts.dataDir),
      engineAutoBuild: engineAutoBuildWanted(opts.engineBuild !== false),
      ...(opts.allowPrivateUpstreams ? { allowPrivateUpstreams: true } : {}),
    } as Partial<CoreOptions>);
    if (!isLoopbackHost(core.options.host)) {
      process.stderr.write(
        `warning: binding ${core.options.host} makes the API reachable from other machines; every request still needs a key.\n`,
      );
    }
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`${signal}: shutting down\n`);
      core.stop().then(
        () => process.exit(0),
        (error) => {
          process.stderr.write(`shutdown failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
    };
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    const url = await core.start();
    process.stdout.write(`listening on ${url}\n`);
    // A fresh link on every start: a browser signed in once keeps its session cookie,
    // and any other browser can come in with this link.
    process.stderr.write(`Open the app (one-time sign-in link, valid 15 minutes): ${core.signInLink()}\n`);
    if (core.keys.count("inference") === 0) {
      process.stderr.write(
        `No API key yet. Create one (it can call models and sign in to the app) with: maas-base keys create --name me --scope inference,management --data-dir ${JSON.stringify(core.options.dataDir)}\n`,
      );
    }
  });

  const keys = program.command("keys").description("manage API keys");
  keys
    .command("create")
    .description("create a key and print it once (only its hash is stored)")
    .requiredOption("--name <name>", "a label for the key")
    .option("--scope <scopes>", "what the key may do: inference, management, or inference,management", scopeList, ["inference"])
    .option("--routes <names...>", "model or route names the key may use (default: all)")
    .option("--rpm <n>", "requests per minute", integer(1))
    .option("--tokens-per-day <n>", "prompt plus completion tokens per UTC day", integer(1))
    .option("--expires-in-days <n>", "days until the key stops working", integer(1))
    .option("--key <value>", "use this key of your own instead of a generated one (checked for strength)")
    .addOption(dataDirOption())
    .option("--json", "print the key and its record as JSON")
    .action((opts) => {
      const db = openStore(opts.dataDir);
      try {
        const { key, record } = new ApiKeyService(db).create({
          name: opts.name,
          scopes: opts.scope,
          allowedRoutes: opts.routes ?? null,
          rpmLimit: opts.rpm ?? null,
          tokensPerDay: opts.tokensPerDay ?? null,
          expiresAt: opts.expiresInDays ? Date.now() + opts.expiresInDays * 86_400_000 : null,
          ...(opts.key ? { custom: opts.key } : {}),
        });
        print(Boolean(opts.json), { key, ...record }, () => key);
      } finally {
        db.close();
      }
    });
  keys
    .command("list")
    .description("list keys (masked)")
    .addOption(dataDirOption())
    .option("--json", "machine-readable output")
    .action((opts) => {
      const db = openStore(opts.dataDir);
      try {
        const list = new ApiKeyService(db).list();
        print(Boolean(opts.json), list, () =>
          list.map((k) => `${k.id}\t${k.name}\t${k.scope}\t${k.maskedValue}\t${k.revokedAt ? "revoked" : "active"}`).join("\n"),
        );
      } finally {
        db.close();
      }
    });
  keys
    .command("revoke")
    .description("revoke a key by the id `keys list` shows")
    .argument("<id>", "key id", integer(1))
    .addOption(dataDirOption())
    .action((id: number, opts) => {
      const db = openStore(opts.dataDir);
      try {
        if (!new ApiKeyService(db).revoke(id)) {
          process.stderr.write(`no active key with id ${id}\n`);
          process.exitCode = 1;
        } else process.stdout.write(`revoked ${id}\n`);
      } finally {
        db.close();
      }
    });

  const routes = program.command("routes").description("model routes and the generic proxy");
  const withRoutes = <T>(dataDir: string, fn: (service: RouteService, models: ModelService) => T): T => {
    const db = openStore(dataDir);
    try {
      const models = new ModelService(db, pino({ level: "silent" }));
      return fn(new RouteService(db, (id) => models.get(id), new FileSecretBox(secretKeyPath(resolve(dataDir)))), models);
    } finally {
      db.close();
    }
  };
  routes
    .command("create")
    .description("create a route; prints its id")
    .requiredOption("--name <name>", "the public name clients put in `model`")
    .option("--model <id>", "target: a local model")
    .option("--upstream <url>", "target: an upstream base URL (http://host:port or …/v1)")
    .option("--upstream-key <key>", "the key sent to the upstream (stored, never shown again)")
    .option("--upstream-model <name>", "the model name sent upstream (default: the route name)")
    .option("--command <cmd>", 'target: a local server the app runs, e.g. "llama-server -m x.gguf --port {port}"')
    .option("--generic-proxy", "serve this route on /model/proxy/<id>/…")
    .option("--disabled", "create it disabled")
    .addOption(dataDirOption())
    .addOption(modelsDirOption())
    .option("--json", "print the route as JSON")
    .action(async (opts) => {
      const chosen = [opts.model, opts.upstream, opts.command].filter(Boolean).length;
      if (chosen !== 1) throw new Error("give exactly one target: --model, --upstream or --command");
      const target = opts.model
        ? { kind: "model" as const, modelId: opts.model }
        : opts.upstream
          ? { kind: "upstream" as const, upstreamUrl: opts.upstream, upstreamKey: opts.upstreamKey ?? null }
          : { kind: "process" as const, command: opts.command, upstreamKey: opts.upstreamKey ?? null };
      const library = openLibrary(opts);
      const route = await (async () => {
        // Before the first `serve` nothing has scanned the models folder yet.
        if (opts.model) await library.ensureModel(opts.model);
        return library.routes.create({
          name: opts.name,
          genericProxy: Boolean(opts.genericProxy),
          enabled: !opts.disabled,
          targets: [{ ...target, upstreamModel: opts.upstreamModel ?? null }],
        });
      })().finally(() => library.close());
      print(Boolean(opts.json), route, () => String(route.id));
    });
  routes
    .command("list")
    .description("list routes (upstream keys are never shown)")
    .addOption(dataDirOption())
    .option("--json", "machine-readable output")
    .action((opts) => {
      const list = withRoutes(opts.dataDir, (service, models) => {
        service.syncModels(models.list());
        return service.list();
      });
      print(Boolean(opts.json), list, () =>
        list
          .map((r) => {
            const targets = r.targets
              .map((t) =>
                t.kind === "model"
                  ? `model:${t.modelId}`
                  : t.kind === "upstream"
                    ? `upstream:${t.upstreamUrl}`
                    : `process:${t.command}`,
              )
              .join(", ");
            return `${r.id}\t${r.name}\t${targets}${r.genericProxy ? "\tgeneric-proxy" : ""}${r.enabled ? "" : "\tdisabled"}`;
          })
          .join("\n"),
      );
    });
  routes
    .command("rm")
    .description("remove a route by id")
    .argument("<id>", "route id", integer(1))
    .addOption(dataDirOption())
    .action((id: number, opts) => {
      if (!withRoutes(opts.dataDir, (service) => service.remove(id))) {
        process.stderr.write(`no route with id ${id}\n`);
        process.exitCode = 1;
      } else process.stdout.write(`removed ${id}\n`);
    });

  program
    .command("usage")
    .description("usage from the daily rollups, grouped; or the request log with --requests")
    .option("--from <day>", "first UTC day, YYYY-MM-DD (default: 29 days ago)")
    .option("--to <day>", "last UTC day, YYYY-MM-DD (default: today)")
    .addOption(new Option("--group-by <group>", "grouping").choices(["model", "key", "operation", "day"]).default("model"))
    .option("--requests", "list request rows (newest first) instead")
    .option("--limit <n>", "request rows to list", integer(1), 100)
    .option("--csv", "CSV output")
    .option("--json", "machine-readable output")
    .addOption(dataDirOption())
    .action((opts) => {
      const db = openStore(opts.dataDir);
      try {
        const usage = new UsageService(db);
        if (opts.requests) {
          const rows = usage.requests({ limit: opts.limit }).data;
          if (opts.csv) process.stdout.write(toCsv(rows, REQUEST_CSV_COLUMNS));
          else
            print(Boolean(opts.json), rows, () =>
              rows
                .map(
                  (r) =>
                    `${new Date(r.createdAt).toISOString()}\t${r.operation}\t${r.model ?? "-"}\t${r.status}\t${r.promptTokens}+${r.completionTokens} tokens\t${r.durationMs} ms`,
                )
                .join("\n"),
            );
          return;
        }
        const to = opts.to ?? utcDay(Date.now());
        const from = opts.from ?? utcDay(Date.now() - 29 * 86_400_000);
        const rows = usage.summary({ from, to, groupBy: opts.groupBy });
        if (opts.csv) process.stdout.write(toCsv(rows, SUMMARY_CSV_COLUMNS));
        else
          print(Boolean(opts.json), { from, to, groupBy: opts.groupBy, data: rows }, () =>
            [
              `${opts.groupBy}\trequests\terrors\tprompt\tcompletion`,
              ...rows.map((r) => `${r.group}\t${r.requests}\t${r.errors}\t${r.promptTokens}\t${r.completionTokens}`),
            ].join("\n"),
          );
      } finally {
        db.close();
      }
    });

  const models = program.command("models").description("the model library");
  models
    .command("list")
    .description("scan the models folder and list the registered models")
    .addOption(dataDirOption())
    .addOption(modelsDirOption())
    .option("--json", "machine-readable output")
    .action(async (opts) => {
      const options = resolveOptions({
        dataDir: resolve(opts.dataDir),
        ...(opts.modelsDir ? { modelsDir: resolve(opts.modelsDir) } : {}),
      });
      const db = openStore(options.dataDir);
      try {
        const service = new ModelService(db, pino({ level: "silent" }));
        const scan = await service.scan(options.modelsDir);
        const list = service.list();
        print(Boolean(opts.json), list, () =>
          [
            ...list.map((m) => `${m.id}\t${m.architecture ?? "?"}\t${m.capabilities.join(",")}\t${m.sizeBytes} bytes`),
            ...scan.skipped.map((s) => `(skipped ${s.file}: ${s.reason})`),
          ].join("\n"),
        );
      } finally {
        db.close();
      }
    });

  program
    .command("gpus")
    .description("the inference backend, its devices and memory, and which engine build is in use")
    .option("--cpu", "describe the CPU backend even when a GPU is found")
    .option("--json", "machine-readable output")
    .action(async (opts) => {
      const { loadLlama } = await import("./engine/llama.js");
      const llama = await loadLlama({ gpu: opts.cpu ? false : "auto", logger: pino({ level: "silent" }) });
      try {
        const info = await describeEngine(llama);
        const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
        print(Boolean(opts.json), { engine: info, devices: info.devices }, () =>
          [
            `backend: ${info.backend} (${info.build === "localBuild" ? "built on this machine" : "prebuilt"}${info.cpuVariant ? `, cpu ${info.cpuVariant}` : ""}, llama.cpp ${info.source})`,
            ...info.devices.map((d) => `device: ${d.name}, ${gib(d.vramFree)} free of ${gib(d.vramTotal)}`),
            `cpu: ${info.cpuMathCores} math cores; ram: ${gib(info.ram.free)} free of ${gib(info.ram.total)}`,
          ].join("\n"),
        );
      } finally {
        await llama.dispose();
      }
    });

  registerEngineCommand(program);

  const withLibrary = async <T>(opts: { dataDir: string; modelsDir?: string }, fn: (ctx: LibraryContext) => Promise<T>) => {
    const options = resolveOptions({
      dataDir: resolve(opts.dataDir),
      ...(opts.modelsDir ? { modelsDir: resolve(opts.modelsDir) } : {}),
    });
    const db = openStore(options.dataDir);
    const logger = pino({ level: "silent" });
    const service = new ModelService(db, logger);
    try {
      return await fn({ options, db, models: service, logger });
    } finally {
      await service.idle();
      db.close();
    }
  };

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

  program
    .command("fixtures")
    .description("write the tiny random-weight test models (tiny-chat, tiny-embed, tiny-rerank)")
    .requiredOption("--out <dir>", "folder to write into")
    .option("--json", "print the written paths as JSON")
    .action((opts) => {
      const paths = writeFixtureModels(resolve(opts.out));
      print(Boolean(opts.json), paths, () => Object.values(paths).join("\n"));
    });

  program.addCommand(connectCommand());

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
