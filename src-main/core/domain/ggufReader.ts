/**
 * What a GGUF file is (architecture, context, capabilities, quantization), read from its
 * header by the inspector process (engine layer), so a hostile file cannot take the server down.
 */
import type { GgufSummary } from "../engine/inspect.js";
import { Inspector } from "../engine/supervisor/Inspector.js";

export type { GgufSummary } from "../engine/inspect.js";

/** Reads GGUF headers; the inspector process in the server. */
export interface GgufReader {
  inspect(path: string): Promise<GgufSummary>;
}

let sharedInspector: Inspector | null = null;
/** One inspector for library users that bring none (the CLI's commands); it exits when idle. */
export function defaultReader(): GgufReader {
  sharedInspector ??= new Inspector();
  return sharedInspector;
}
