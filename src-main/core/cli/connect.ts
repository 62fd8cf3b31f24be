import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname } from "node:path";
import { createInterface } from "node:readline/promises";
import { Argument, Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_PORT, defaultDataDir } from "../config.js";
import { ensureAliases } from "../connect/aliases.js";
import { buildConnection, CLIENTS, type ClientName, type Connection, configPaths, lineDiff } from "../connect/clients.js";
import { ApiKeyService } from "../domain/apiKeys.js";
import { contextBounds, DEFAULT_CONTEXT_CAP } from "../engine/contextSize.js";
import type { ModelInfo } from "../inference/types.js";
import { openLibrary } from "./library.js";

type Library = ReturnType<typeof openLibrary>;

async function pickModel(library: Library, wanted: string | undefined): Promise<ModelInfo> {
  if (wanted) {
    await library.ensureModel(wanted);
    const info = library.models.get(wanted);
    if (!info) throw new Error(`there is no model '${wanted}' in the library (${library.options.modelsDir})`);
    return info;
  }
  await library.scan();
  const chat = library.models.list().filter((m) => m.capabilities.includes("chat"));
  if (chat.length === 0) {
    throw new Error(
      `no chat model in the library yet: put a .gguf in ${library.options.modelsDir} or run 'maas-base models pull'`,
    );
  }
  if (chat.length === 1) return chat[0] as ModelInfo;
  if (!process.stdin.isTTY) {
    throw new Error(`several chat models; pick one with --model: ${chat.map((m) => m.id).join(", ")}`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    chat.forEach((m, i) => {
      process.stderr.write(`  ${i + 1}) ${m.id} (${m.contextLength ?? "?"} tokens trained)\n`);
    });
    const answer = Number(await rl.question("Which model? "));
    const info = chat[answer - 1];
    if (!info) throw new Error("no model chosen");
    return info;
  } finally {
    rl.close();
  }
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return true;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

function report(connection: Connection, url: string, changes: string[], write: boolean): string {
  const lines = [`Connect ${connection.client} to MaaS-Base at ${url} with the model '${connection.model}'.`, ...changes, ""];
  const env = Object.entries(connection.env);
  if (env.length) {
    lines.push("Environment:", ...env.map(([k, v]) => `  export ${k}=${JSON.stringify(v)}`), "");
  }
  for (const file of connection.files) {
    if (file.before === file.after) lines.push(`${file.path}: already set up`, "");
    else if (write)
      lines.push(`${file.path}${file.before === undefined ? " (new)" : ""}:`, lineDiff(file.before ?? "", file.after), "");
    else
      lines.push(
        `${file.path}${file.before === undefined ? " (new file)" : " (after the change; --write writes it)"}:`,
        file.after,
      );
  }
  lines.push(`Try: ${connection.try}`, ...connection.notes.map((n) => `Note: ${n}`));
  return lines.join("\n");
}

/** `maas-base connect <client>`: aliases, a key and the exact configuration a client needs. */
export function connectCommand(): Command {
  return new Command("connect")
    .description("set up a client (aliases, a key) and print — or --write — the configuration it needs")
    .addArgument(new Argument("<client>", "the client").choices(CLIENTS))
    .option("--model <id>", "the local model the client uses (default: the only chat model, or ask)")
    .option("--url <url>", "the server's address (default: from the saved settings, else 127.0.0.1:8421)")
    .option("--key <key>", "an existing inference key to put in the configuration (default: create one)")
    .option("--context-size <n>", "the server's --context-size, if you changed it", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 64) throw new InvalidArgumentError("expected an integer ≥ 64");
      return n;
    })
    .option("--write", "write the client's config files (after showing the diff)")
    .option("--yes", "write without asking")
    .addOption(new Option("--data-dir <dir>", "app data folder").default(defaultDataDir()))
    .option("--models-dir <dir>", "folder scanned for *.gguf models (default <data-dir>/models)")
    .option("--json", "machine-readable output")
    .action(async (client: ClientName, opts) => {
      const library = openLibrary(opts);
      try {
        const info = await pickModel(library, opts.model);
        const contextSize = contextBounds({
          explicit: info.settings?.contextSize,
          cap: opts.contextSize ?? DEFAULT_CONTEXT_CAP,
          trainContextSize: info.contextLength,
        }).max;
        const host = !library.saved.host || ["0.0.0.0", "::"].includes(library.saved.host) ? "127.0.0.1" : library.saved.host;
        const url = (opts.url ?? `http://${host}:${library.saved.port ?? DEFAULT_PORT}`).replace(/\/+$/, "").replace(/\/v1$/, "");
        const changes: string[] = [];
        let key: string = opts.key;
        if (!key) {
          key = new ApiKeyService(library.db).create({
            name: `connect-${client}`,
            scopes: ["inference"],
            allowedRoutes: null,
            rpmLimit: null,
            tokensPerDay: null,
            expiresAt: null,
          }).key;
          changes.push(`key created: connect-${client} (shown once, in the configuration below)`);
        }
        const current: Record<string, string | undefined> = {};
        for (const path of configPaths(client, homedir(), process.env)) {
          current[path] = existsSync(path) ? readFileSync(path, "utf8") : undefined;
        }
        const connection = buildConnection({ client, url, key, model: info.id, contextSize, current });
        changes.push(...ensureAliases(library.routes, connection.aliases, info.id));
        const pending = connection.files.filter((f) => f.before !== f.after);
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...connection, url, key, contextSize, changes }, null, 2)}\n`);
        else process.stdout.write(`${report(connection, url, changes, Boolean(opts.write))}\n`);
        if (!opts.write) return;
        if (connection.files.length === 0) {
          process.stderr.write(`${client} reads no config file: set the environment variables above.\n`);
          return;
        }
        if (pending.length === 0) return;
        if (!opts.yes && !(await confirm(`Write ${pending.map((f) => f.path).join(", ")}?`))) {
          process.stderr.write("nothing written\n");
          return;
        }
        for (const file of pending) {
          mkdirSync(dirname(file.path), { recursive: true });
          writeFileSync(file.path, file.after, { mode: 0o600 });
          process.stderr.write(`wrote ${file.path}\n`);
        }
      } finally {
        await library.close();
      }
    });
}
