import { InvalidArgumentError, Option } from "commander";
import { defaultDataDir } from "../config.js";

/** An option parser for integers of at least `min`. */
export function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}`);
    return n;
  };
}

export const dataDirOption = () =>
  new Option("--data-dir <dir>", "app data folder (database, default models folder)").default(defaultDataDir());
export const modelsDirOption = () =>
  new Option("--models-dir <dir>", "folder scanned for *.gguf models (default <data-dir>/models)");

/** `--json` output, or the text form. */
export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
