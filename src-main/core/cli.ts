import { Command } from "commander";
import { connectCommand } from "./cli/connect.js";
import { registerEngineCommand } from "./cli/engine.js";
import { registerFixtures } from "./cli/fixtures.js";
import { registerGpus } from "./cli/gpus.js";
import { registerKeys } from "./cli/keys.js";
import { registerModels } from "./cli/models.js";
import { registerRoutes } from "./cli/routes.js";
import { registerServe } from "./cli/serve.js";
import { registerUsage } from "./cli/usage.js";

export { engineAutoBuildWanted } from "./cli/serve.js";

/** The `maas-base` commands, one module per command group under cli/. */
export function buildCli(): Command {
  const program = new Command("maas-base")
    .description("MaaS-Base: serve local GGUF models through OpenAI, Anthropic and Jina compatible APIs")
    .showHelpAfterError();
  registerServe(program);
  registerKeys(program);
  registerRoutes(program);
  registerUsage(program);
  registerModels(program);
  registerGpus(program);
  registerEngineCommand(program);
  registerFixtures(program);
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
