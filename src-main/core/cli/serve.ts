import { resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type CoreOptions, isLoopbackHost } from "../config.js";
import { flagValue, SETTING_KEYS, SETTINGS, type SettingKey } from "../settings.js";
import { dataDirOption } from "./common.js";

/**
 * The background engine build costs minutes of CPU: on by default for a user's
 * `serve`, off under CI and test runners unless MAAS_ENGINE_BUILD=on asks for it.
 */
export function engineAutoBuildWanted(flag: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!flag || env.MAAS_ENGINE_BUILD === "off") return false;
  if (env.MAAS_ENGINE_BUILD === "on") return true;
  return !env.CI && !env.VITEST && env.NODE_ENV !== "test";
}

/** `maas-base serve`. */
export function registerServe(program: Command): void {
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
    const { createCore } = await import("../index.js");
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
}
