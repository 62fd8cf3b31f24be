import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { ApiKeyService, KEY_SCOPES, type KeyScope } from "../domain/apiKeys.js";
import { dataDirOption, integer, print } from "./common.js";
import { withLibrary } from "./library.js";

function scopeList(value: string): KeyScope[] {
  const scopes = value.split(",").map((s) => s.trim());
  for (const scope of scopes) {
    if (!KEY_SCOPES.includes(scope as KeyScope))
      throw new InvalidArgumentError(`unknown scope '${scope}' (inference, management)`);
  }
  return scopes as KeyScope[];
}

/** `maas-base keys create|list|revoke`. */
export function registerKeys(program: Command): void {
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
    .action((opts) =>
      withLibrary(opts, ({ db }) => {
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
      }),
    );
  keys
    .command("list")
    .description("list keys (masked)")
    .addOption(dataDirOption())
    .option("--json", "machine-readable output")
    .action((opts) =>
      withLibrary(opts, ({ db }) => {
        const list = new ApiKeyService(db).list();
        print(Boolean(opts.json), list, () =>
          list.map((k) => `${k.id}\t${k.name}\t${k.scope}\t${k.maskedValue}\t${k.revokedAt ? "revoked" : "active"}`).join("\n"),
        );
      }),
    );
  keys
    .command("revoke")
    .description("revoke a key by the id `keys list` shows")
    .argument("<id>", "key id", integer(1))
    .addOption(dataDirOption())
    .action((id: number, opts) =>
      withLibrary(opts, ({ db }) => {
        if (!new ApiKeyService(db).revoke(id)) {
          process.stderr.write(`no active key with id ${id}\n`);
          process.exitCode = 1;
        } else process.stdout.write(`revoked ${id}\n`);
      }),
    );
}
