import type { Command } from "commander";
import { dataDirOption, integer, modelsDirOption, print } from "./common.js";
import { withLibrary } from "./library.js";

/** `maas-base routes create|list|rm`. */
export function registerRoutes(program: Command): void {
  const routes = program.command("routes").description("model routes and the generic proxy");
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
      const route = await withLibrary(opts, async (library) => {
        // Before the first `serve` nothing has scanned the models folder yet.
        if (opts.model) await library.ensureModel(opts.model);
        return library.routes.create({
          name: opts.name,
          genericProxy: Boolean(opts.genericProxy),
          enabled: !opts.disabled,
          targets: [{ ...target, upstreamModel: opts.upstreamModel ?? null }],
        });
      });
      print(Boolean(opts.json), route, () => String(route.id));
    });
  routes
    .command("list")
    .description("list routes (upstream keys are never shown)")
    .addOption(dataDirOption())
    .option("--json", "machine-readable output")
    .action(async (opts) => {
      const list = await withLibrary(opts, ({ routes: service, models }) => {
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
    .action(async (id: number, opts) => {
      if (!(await withLibrary(opts, ({ routes: service }) => service.remove(id)))) {
        process.stderr.write(`no route with id ${id}\n`);
        process.exitCode = 1;
      } else process.stdout.write(`removed ${id}\n`);
    });
}
