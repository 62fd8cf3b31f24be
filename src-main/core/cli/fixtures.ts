import { resolve } from "node:path";
import type { Command } from "commander";
import { writeFixtureModels } from "../fixtures/tinyModels.js";
import { print } from "./common.js";

/** `maas-base fixtures`. */
export function registerFixtures(program: Command): void {
  program
    .command("fixtures")
    .description("write the tiny random-weight test models (tiny-chat, tiny-embed, tiny-rerank)")
    .requiredOption("--out <dir>", "folder to write into")
    .option("--json", "print the written paths as JSON")
    .action((opts) => {
      const paths = writeFixtureModels(resolve(opts.out));
      print(Boolean(opts.json), paths, () => Object.values(paths).join("\n"));
    });
}
