import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import pino from "pino";
import { DEFAULT_PORT, databasePath, defaultDataDir, resolveOptions } from "./config.js";
import { openDatabase } from "./db/database.js";
import { ApiKeyService } from "./domain/apiKeys.js";
import { ModelService } from "./domain/models.js";
import { buildEngine, describeEngine, missingBuildTools } from "./engine/engineInfo.js";
import { loadLlama } from "./engine/llama.js";
import { writeFixtureModels } from "./fixtures/tinyModels.js";
import { createCore } from "./index.js";

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

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

export function buildCli(): Command {
  const program = new Command("maas-base")
    .description("MaaS-Base: serve local GGUF models through OpenAI, Anthropic and Jina compatible APIs")
    .showHelpAfterError();

  program
    .command("serve")
    .description("start the headless server")
    .option("--host <host>", "interface to bind", "127.0.0.1")
    .option("--port <port>", "port to bind (0 = any free port)", integer(0), DEFAULT_PORT)
    .addOption(dataDirOption())
    .addOption(modelsDirOption())
    .option("--threads <n>", "threads per model context (default: physical cores)", integer(1))
    .option("--parallel <n>", "parallel sequences per chat model", integer(1), 4)
    .option("--max-queue <n>", "requests that may wait per model before 429", integer(0), 32)
    .option("--context-size <n>", "upper bound on each sequence's context", integer(64), 8192)
    .option("--cpu", "do not use a GPU even when one is found")
    .option("--allowed-host <name...>", "extra Host header names to accept (for LAN use)")
    .option("--log-level <level>", "pino log level", "info")
    .action(async (opts) => {
      const core = createCore({
        host: opts.host,
        port: opts.port,
        dataDir: resolve(opts.dataDir),
        ...(opts.modelsDir ? { modelsDir: resolve(opts.modelsDir) } : {}),
        ...(opts.threads ? { threads: opts.threads } : {}),
        parallel: opts.parallel,
        maxQueue: opts.maxQueue,
        contextSize: opts.contextSize,
        gpu: opts.cpu ? false : "auto",
        allowedHosts: opts.allowedHost ?? [],
        logLevel: opts.logLevel,
      });
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
      if (core.keys.count() === 0) {
        process.stderr.write(
          `No API key yet. Create one with: maas-base keys create --name me --data-dir ${JSON.stringify(core.options.dataDir)}\n`,
        );
      }
    });

  const keys = program.command("keys").description("manage API keys");
  keys
    .command("create")
    .description("create a key and print it once (only its hash is stored)")
    .requiredOption("--name <name>", "a label for the key")
    .addOption(new Option("--scope <scope>", "what the key may do").choices(["inference", "management"]).default("inference"))
    .addOption(dataDirOption())
    .option("--json", "print the key and its record as JSON")
    .action((opts) => {
      const db = openStore(opts.dataDir);
      try {
        const { key, record } = new ApiKeyService(db).create({ name: opts.name, scope: opts.scope });
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
      const llama = await loadLlama({ gpu: opts.cpu ? false : "auto", logger: pino({ level: "silent" }) });
      try {
        const info = await describeEngine(llama);
        const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
        print(Boolean(opts.json), { engine: info, devices: info.devices }, () =>
          [
            `backend: ${info.backend} (${info.build === "localBuild" ? "built on this machine" : "prebuilt"}, llama.cpp ${info.source})`,
            ...info.devices.map((d) => `device: ${d.name}, ${gib(d.vramFree)} free of ${gib(d.vramTotal)}`),
            `cpu: ${info.cpuMathCores} math cores; ram: ${gib(info.ram.free)} free of ${gib(info.ram.total)}`,
          ].join("\n"),
        );
      } finally {
        await llama.dispose();
      }
    });

  const engine = program.command("engine").description("the llama.cpp engine binary");
  engine
    .command("build")
    .description("build an optimized engine for this machine from node-llama-cpp's bundled llama.cpp source (offline)")
    .option("--cpu", "build for the CPU only, without GPU backends")
    .action(async (opts) => {
      const missing = missingBuildTools();
      if (missing.length > 0) {
        process.stderr.write(`cannot build here: missing ${missing.join(", ")}. The prebuilt engine stays in use.\n`);
        process.exit(1);
      }
      const started = Date.now();
      const code = await buildEngine({ gpu: opts.cpu ? false : "auto", onLine: (line) => process.stderr.write(`${line}\n`) });
      if (code !== 0) {
        process.stderr.write(`engine build failed (exit ${code}); the prebuilt engine stays in use.\n`);
        process.exit(1);
      }
      const llama = await loadLlama({ gpu: opts.cpu ? false : "auto", logger: pino({ level: "silent" }) });
      const info = await describeEngine(llama);
      await llama.dispose();
      process.stdout.write(
        `engine built in ${Math.round((Date.now() - started) / 1000)} s; in use: ${info.build} ${info.backend} (llama.cpp ${info.source})\n`,
      );
    });

  program
    .command("fixtures")
    .description("write the tiny random-weight test models (tiny-chat, tiny-embed, tiny-rerank)")
    .requiredOption("--out <dir>", "folder to write into")
    .option("--json", "print the written paths as JSON")
    .action((opts) => {
      const paths = writeFixtureModels(resolve(opts.out));
      print(Boolean(opts.json), paths, () => Object.values(paths).join("\n"));
    });

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
